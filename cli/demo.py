"""`chromaseg demo`: run the main job on the sample image shipped in the repository and write the results.

Until the colorizer lands this shows the color core on a real photo: the exact Lab round trip, the gray (L-only)
input an artist would bring, and Algorithm 1 harmonization of the photo's own chroma over segments of its L.
"""
from __future__ import annotations

import argparse
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "core" / "assets" / "sample.jpg"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the bundled sample image", description=__doc__)
    p.add_argument("--out", default="demo-out", help="folder for the result images (default: demo-out)")
    p.add_argument("--image", default=str(SAMPLE), help="image to use instead of the bundled sample")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image
    from skimage.segmentation import felzenszwalb

    from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab
    from chromaseg.core.harmonize import harmonize

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(Image.open(args.image).convert("RGB"))
    lab = srgb_to_lab(rgb)

    round_trip = from_unit_float(lab_to_srgb(lab), np.uint8)
    gray = lab.copy()
    gray[..., 1:] = 0
    segments = felzenszwalb(lab[..., 0] / 100.0, scale=300, sigma=0.8, min_size=200)
    harmonized = lab.copy()
    harmonized[..., 1:] = harmonize(lab[..., 1:], segments.astype(np.int32))

    results = {
        "original.png": rgb,
        "gray.png": from_unit_float(lab_to_srgb(gray), np.uint8),
        "roundtrip.png": round_trip,
        "harmonized.png": from_unit_float(lab_to_srgb(harmonized), np.uint8),
    }
    for name, image in results.items():
        Image.fromarray(image).save(out / name)
    error = int(np.abs(round_trip.astype(int) - rgb).max())
    changed = float(np.mean(np.any(harmonized[..., 1:] != lab[..., 1:], axis=-1)))
    print(f"sample: {args.image} ({rgb.shape[1]}x{rgb.shape[0]})")
    print(f"Lab round trip: max error {error}/255")
    print(f"harmonization over {segments.max() + 1} segments: {changed:.1%} of pixels pulled to their segment's mode")
    print(f"results written to {out}: {', '.join(results)}")
    return 0
