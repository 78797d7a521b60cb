"""Ablation of colorize's hinted path: the network's prior alone, then each step after it, and the step's cost.

On validation photos at the evaluation protocol (long side 256, 6x6 hint patches of the true mean color, seeded
center-biased positions; the same hints for every variant), colorize() runs once per variant and hint count:
- "network only": the network's prior (the mean of its predictions with and without the hints), nothing spread;
- "lightness propagation": residuals spread along L alone (``color_sigma=None``);
- "color-aware propagation": residuals stopped by steps of L and of the predicted color (what ships).
Also the median time of the propagation at the model's grid. Usage:
python bench/bench_hint_propagation.py --images ../shared/data/train [--photos 100] [--start 300] [--model CKPT]
"""
from __future__ import annotations

import argparse
import functools
import json
import time

import numpy as np


def timed(fn, times: list[float]):
    @functools.wraps(fn)
    def run(*a, **k):
        t0 = time.perf_counter()
        out = fn(*a, **k)
        times.append(time.perf_counter() - t0)
        return out
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="the training photo folder (the split lists paths in it)")
    parser.add_argument("--split", default="core/assets/val-split.txt")
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--start", type=int, default=0, help="skip this many photos of the split first")
    parser.add_argument("--hints", default="10,100")
    parser.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    parser.add_argument("--vibrancy", type=float, default=None)
    args = parser.parse_args()

    import chromaseg.core.colorize as colorize_module
    from chromaseg.core import metrics
    from chromaseg.core.evaluate import eval_paths, gray_of, load_eval_image, simulated_hint_layer

    real_propagate = colorize_module.propagate_residuals
    propagate_ms: list[float] = []
    colorizer = colorize_module.Colorizer.of(args.model)
    variants = {
        "network only": lambda l, ab, mask, hint_ab: ab,
        "lightness propagation": functools.partial(real_propagate, color_sigma=None),
        "color-aware propagation": timed(real_propagate, propagate_ms),
    }
    counts = [int(k) for k in args.hints.split(",")]
    psnr = {name: {k: [] for k in counts} for name in variants}
    paths = eval_paths(args.images, args.split, args.start + args.photos)[args.start:]
    try:
        for i, path in enumerate(paths, start=args.start):
            gt = load_eval_image(path)
            gray = gray_of(gt)
            for k in counts:
                hints = simulated_hint_layer(gt, k, i)
                for name, step in variants.items():
                    colorize_module.propagate_residuals = step
                    out = colorizer.colorize(gray, hints=hints, vibrancy=args.vibrancy)
                    psnr[name][k].append(metrics.psnr(out, gt))
    finally:
        colorize_module.propagate_residuals = real_propagate
    print(json.dumps({"photos": len(paths), "start": args.start,
                      "vibrancy": colorizer.decoding(args.vibrancy).vibrancy,
                      "psnr": {name: {k: round(float(np.mean(v)), 2) for k, v in by_k.items()}
                               for name, by_k in psnr.items()},
                      "propagation_median_ms": round(1000 * float(np.median(propagate_ms)), 1)}, indent=1))


if __name__ == "__main__":
    main()
