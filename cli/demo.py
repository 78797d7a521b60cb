"""`chromaseg demo`: colorize the sample photo shipped in the repository and write the results.

The photo is turned gray (its L only, what an artist brings), then colorized three ways: automatically, with the
three-stage pipeline (each large automatic segment colorized again on its own crop and fused back where it agrees
with the full pass), and with ten color hints taken from the original, as an artist would paint them. A
side-by-side strip shows gray, results and the original. (Harmonization, Algorithm 1, is left out: over the
fallback's segments, which join the flag's red and white stripes, it grays the red; docs/images/pipeline.png shows
it.)
"""
from __future__ import annotations

import argparse
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "assets" / "sample.jpg"
DEMO_HINTS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="colorize the bundled sample image", description=__doc__)
    p.add_argument("--out", default="demo-out", help="folder for the result images (default: demo-out)")
    p.add_argument("--image", default=str(SAMPLE), help="image to use instead of the bundled sample")
    p.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np
    from PIL import Image

    from chromaseg.core.color import from_unit_float
    from chromaseg.core.colorize import Colorizer
    from chromaseg.core.evaluate import gray_of, simulated_hint_layer
    from chromaseg.core.metrics import mean_ciede2000, psnr
    from chromaseg.core.segment import Segmenter

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(Image.open(args.image).convert("RGB"))
    gray = from_unit_float(gray_of(rgb), np.uint8)
    colorizer = Colorizer.load(args.model)
    segmenter = Segmenter.default()
    hints = simulated_hint_layer(rgb, DEMO_HINTS, seed=0)
    runs = {
        "colorized.png": {},
        "colorized-pipeline.png": {"segment_pass": True, "segmenter": segmenter},
        f"colorized-{DEMO_HINTS}-hints.png": {"hints": hints},
    }
    print(f"sample: {args.image} ({rgb.shape[1]}x{rgb.shape[0]}); segmenter: {segmenter.backend}")
    results = {"gray.png": gray}
    for name, options in runs.items():
        start = time.perf_counter()
        results[name] = colorizer.colorize(gray, **options)
        print(f"{name:28} {time.perf_counter() - start:5.2f} s   PSNR {psnr(results[name], rgb):5.2f} dB   "
              f"CIEDE2000 {mean_ciede2000(results[name], rgb):5.2f}")
    results["hints.png"] = from_unit_float(hints, np.uint8)
    results["original.png"] = rgb
    strip = np.concatenate([results[n] for n in ("gray.png", *runs, "original.png")], axis=1)
    results["strip.png"] = strip
    for name, image in results.items():
        Image.fromarray(image).save(out / name)
    print(f"gray input scores PSNR {psnr(gray, rgb):.2f} dB, CIEDE2000 {mean_ciede2000(gray, rgb):.2f}")
    print(f"results written to {out}: {', '.join(results)}")
    return 0
