"""The vibrancy trade-off of a colorizer, and the default it should ship with.

Vibrancy (0..1) is the share of the class rebalancing the network learned that decoding keeps: 1 decodes the output
as trained (the paper's vivid colors), 0 undoes the rebalancing prior and decodes the data's own posterior. For each
value, automatic colorization of validation photos at the evaluation protocol (long side 256, no hints) is scored by
mean CIEDE2000 against the true colors, colorfulness (Hasler and Suesstrunk) and CNR. The default is the vibrancy
with the lowest CIEDE2000 among those whose colorfulness reaches ``--min-colorfulness`` (65 %) of the ground
truth's: faithful colors, but not washed out toward gray (which CIEDE2000 alone would reward).

Usage: python bench/bench_vibrancy.py --images ../shared/data/train [--photos 150] [--model CKPT] [--json OUT]
       [--plot PNG] [--record]   (--record writes the chosen default into the checkpoint, as its `vibrancy`)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_VIBRANCIES = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.8,1"


def choose(rows: list[dict], gt_colorfulness: float, min_share: float) -> dict:
    """The row with the lowest CIEDE2000 whose colorfulness is at least ``min_share`` of the ground truth's
    (the most colorful row when none is)."""
    vivid = [r for r in rows if r["colorfulness"] >= min_share * gt_colorfulness]
    if not vivid:
        return max(rows, key=lambda r: r["colorfulness"])
    return min(vivid, key=lambda r: r["ciede2000"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="the training photo folder (the split lists paths in it)")
    parser.add_argument("--split", default="core/assets/val-split.txt")
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--vibrancies", default=DEFAULT_VIBRANCIES)
    parser.add_argument("--min-colorfulness", type=float, default=None,
                        help="share of the ground truth's (default: VIVID_SHARE, core/evaluate.py)")
    parser.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--plot", default=None, help="also draw the trade-off curve as a PNG")
    parser.add_argument("--record", action="store_true",
                        help="store the chosen vibrancy in the checkpoint (--model) as its default")
    args = parser.parse_args()

    from chromaseg.core.evaluate import VIVID_SHARE, eval_paths, evaluate

    if args.min_colorfulness is None:
        args.min_colorfulness = VIVID_SHARE
    paths = eval_paths(args.images, args.split, args.photos)
    values = [float(v) for v in args.vibrancies.split(",")]
    report = evaluate(paths, (0,), model=args.model, vibrancies=values)
    gt, results = report["gt_colorfulness"], report["results"]
    gray = results["gray"]["0"]
    rows = []
    for v in values:
        m = results[f"model@{v:g}"]["0"]
        rows.append({"vibrancy": v, "ciede2000": round(m["ciede2000"], 3), "psnr": round(m["psnr"], 2),
                     "colorfulness": round(m["colorfulness"], 1), "cnr": round(m["cnr"], 3)})
    best = choose(rows, gt, args.min_colorfulness)
    print("\n| vibrancy | mean CIEDE2000 | PSNR | colorfulness | CNR |\n| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        mark = " (default)" if r is best else ""
        print(f"| {r['vibrancy']:g}{mark} | {r['ciede2000']:.2f} | {r['psnr']:.2f} | {r['colorfulness']:.1f} | "
              f"{r['cnr']:.2f} |")
    print(f"\n{len(paths)} photos; gray scores {gray['ciede2000']:.2f} CIEDE2000; ground-truth colorfulness {gt:.1f} "
          f"({args.min_colorfulness:.0%} = {args.min_colorfulness * gt:.1f}). Default: vibrancy {best['vibrancy']:g}.")
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(paths), "gt_colorfulness": gt,
                                               "gray_ciede2000": gray["ciede2000"], "rows": rows, "default": best},
                                              indent=1) + "\n")
    if args.plot:
        plot(rows, best, gt, gray["ciede2000"], args.min_colorfulness, args.plot)
    if args.record:
        record_vibrancy(args.model, best["vibrancy"])


def plot(rows: list[dict], best: dict, gt: float, gray: float, min_share: float, path: str) -> None:
    """CIEDE2000 against colorfulness, one point per vibrancy, with gray and the 65 % line for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot([r["colorfulness"] for r in rows], [r["ciede2000"] for r in rows], "o-", color="tab:blue")
    for r in rows:
        ax.annotate(f"{r['vibrancy']:g}", (r["colorfulness"], r["ciede2000"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.scatter([best["colorfulness"]], [best["ciede2000"]], s=120, facecolors="none", edgecolors="tab:red",
               label=f"default (vibrancy {best['vibrancy']:g})")
    ax.axhline(gray, color="gray", ls="--", label=f"gray photo ({gray:.2f})")
    ax.axvline(min_share * gt, color="tab:orange", ls=":", label=f"{min_share:.0%} of true colorfulness")
    ax.set_xlabel("colorfulness (true photos: %.1f)" % gt)
    ax.set_ylabel("mean CIEDE2000 (lower is more faithful)")
    ax.set_title("Vibrancy trade-off, automatic colorization")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def record_vibrancy(checkpoint: str | None, vibrancy: float) -> None:
    """Rewrite ``checkpoint`` with ``extra.vibrancy`` set (through a temporary file)."""
    import os

    import torch

    from chromaseg.core.model import read_checkpoint

    if checkpoint is None:
        raise SystemExit("--record needs --model: the checkpoint to write the default into")
    doc = read_checkpoint(checkpoint)
    doc["extra"]["vibrancy"] = vibrancy
    tmp = f"{checkpoint}.partial"
    torch.save(doc, tmp)
    os.replace(tmp, checkpoint)
    print(f"recorded vibrancy {vibrancy:g} in {checkpoint}")


if __name__ == "__main__":
    main()
