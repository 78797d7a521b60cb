"""How many distinct colors (CNR) and how much fidelity survive the colorizer's output grid, with perfect colors.

The CCC network predicts color classes at 1/4 of the resolution it sees; colorize brings them to the model's grid
bilinearly, then fits ab locally linear in L (a guided filter) and upsamples along the full L. This bench feeds that
path the photo's *true* a*, b* instead of a prediction, so its scores are a ceiling no training can pass with this
output grid: the truth reduced to the 1/4 grid (area average), brought back bilinearly, then through colorize's
guided step (`colorize.upsample_chroma`); and, apart, the guided step alone on the full-resolution truth. Scores
at the evaluation protocol (long side 256): mean CIEDE2000, CNR, colorfulness against the truth.

The last two rows mute the truth to the vibrancy rule's colorfulness (``VIVID_SHARE``, 65 % of the truth's, per
photo), at full resolution and through colorize's path: the CNR that perfect hues and texture would score at the
colorfulness the shipped default is chosen at.

Usage: python bench/bench_chroma_ceiling.py --images ../shared/data/train [--photos 150] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

OUTPUT_STRIDE = 4  # the CCC network's logits are at 1/4 of its input (core/model.py)


MUTE_STEPS = 3  # fixed-point steps of the mute scale (colorfulness is nearly linear in it: 3 land within 0.5 %)


def ceilings(lab: np.ndarray) -> dict[str, np.ndarray]:
    """a*, b* (H, W, 2) that each path makes of the true Lab (H, W, 3)."""
    from chromaseg.core.colorize import upsample_chroma

    l, ab = lab[..., 0], lab[..., 1:]
    h, w = l.shape
    grid = (max(1, round(w / OUTPUT_STRIDE)), max(1, round(h / OUTPUT_STRIDE)))
    coarse = cv2.resize(cv2.resize(ab, grid, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
    return {"1/4 grid, bilinear": coarse,
            "1/4 grid, bilinear + guided (colorize)": upsample_chroma(l, coarse, l),
            "full grid + guided": upsample_chroma(l, np.ascontiguousarray(ab), l)}


def muted(lab: np.ndarray, ab: np.ndarray, target: float) -> np.ndarray:
    """sRGB of L with ``ab`` scaled so that its colorfulness is ``target``."""
    from chromaseg.core.colorize import fit_chroma
    from chromaseg.core.metrics import colorfulness

    def render(scale: float) -> np.ndarray:
        lab_s = np.concatenate([lab[..., :1], ab * np.float32(scale)], axis=2)
        return fit_chroma(lab_s.reshape(-1, 3)).reshape(lab.shape)

    scale, rgb = 1.0, render(1.0)
    for _ in range(MUTE_STEPS):
        scale *= target / max(colorfulness(rgb), 1e-6)
        rgb = render(scale)
    return rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="the training photo folder (the split lists paths in it)")
    parser.add_argument("--split", default="core/assets/val-split.txt")
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    args = parser.parse_args()

    from chromaseg.core import metrics
    from chromaseg.core.color import srgb_to_lab
    from chromaseg.core.colorize import fit_chroma
    from chromaseg.core.evaluate import VIVID_SHARE, eval_paths, load_eval_image

    paths = eval_paths(args.images, args.split, args.photos)
    sums: dict[str, np.ndarray] = {}
    for path in paths:
        gt = load_eval_image(path)
        lab = srgb_to_lab(gt)
        paths_ab = ceilings(lab)
        target = VIVID_SHARE * metrics.colorfulness(gt)
        results = {name: fit_chroma(np.concatenate([lab[..., :1], ab], axis=2).reshape(-1, 3)).reshape(gt.shape)
                   for name, ab in paths_ab.items()}
        results[f"truth muted to {VIVID_SHARE:.0%} colorfulness, full resolution"] = muted(lab, lab[..., 1:], target)
        results[f"truth muted to {VIVID_SHARE:.0%} colorfulness, through colorize"] = muted(
            lab, paths_ab["1/4 grid, bilinear + guided (colorize)"], target)
        for name, rgb in results.items():
            row = np.array([metrics.mean_ciede2000(rgb, gt), metrics.cnr(rgb, gt), metrics.colorfulness(rgb)])
            sums[name] = sums.get(name, 0) + row
    rows = [{"path": name, "ciede2000": s[0] / len(paths), "cnr": s[1] / len(paths), "colorfulness": s[2] / len(paths)}
            for name, s in sums.items()]
    print(f"{len(paths)} photos, true colors through the colorizer's output path")
    print("| path | mean CIEDE2000 | CNR | colorfulness |\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['path']} | {r['ciede2000']:.2f} | {r['cnr']:.2f} | {r['colorfulness']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(paths), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
