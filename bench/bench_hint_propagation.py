"""Ablation of the hint-residual propagation (chromaseg.core.hint_propagation): PSNR with and without it, and its cost.

On validation photos at the evaluation protocol (long side 256, 6x6 hint patches of the true mean color, seeded
center-biased positions), colorize() runs twice per hint count: as shipped, and with the propagation step replaced
by the identity (the network's own use of the hints only). Also reports the median time of the step itself at the
model's grid. Usage: python bench/bench_hint_propagation.py --images ../shared/data/train [--photos 100]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", required=True, help="the training photo folder (the split lists paths in it)")
    parser.add_argument("--split", default="core/assets/val-split.txt")
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--hints", default="1,10,100")
    args = parser.parse_args()

    import chromaseg.core.colorize as colorize_module
    from chromaseg.core import metrics
    from chromaseg.core.evaluate import eval_paths, gray_of, load_eval_image, simulated_hint_layer

    real_step = colorize_module.propagate_residuals
    solve_times: list[float] = []

    def timed_step(*a, **k):
        t0 = time.perf_counter()
        out = real_step(*a, **k)
        solve_times.append(time.perf_counter() - t0)
        return out

    variants = {"with propagation": timed_step, "network only": lambda l, ab, mask, hint_ab: ab}
    counts = [int(k) for k in args.hints.split(",")]
    psnr = {name: {k: [] for k in counts} for name in variants}
    net = colorize_module.get_model()
    for i, path in enumerate(eval_paths(args.images, args.split, args.photos)):
        gt = load_eval_image(path)
        gray = gray_of(gt)
        for k in counts:
            hints = simulated_hint_layer(gt, k, i)
            for name, step in variants.items():
                colorize_module.propagate_residuals = step
                psnr[name][k].append(metrics.psnr(colorize_module.colorize(gray, hints=hints, model=net), gt))
    colorize_module.propagate_residuals = real_step
    print(json.dumps({"photos": args.photos,
                      "psnr": {name: {k: round(float(np.mean(v)), 2) for k, v in by_k.items()}
                               for name, by_k in psnr.items()},
                      "step_median_ms": round(1000 * float(np.median(solve_times)), 1)}, indent=1))


if __name__ == "__main__":
    main()
