"""The vibrancy (annealed-mean temperature) trade-off of a colorizer, and the default it should ship with.

For each temperature, automatic colorization of validation photos at the evaluation protocol (long side 256, no
hints) is scored by mean CIEDE2000 against the true colors and by colorfulness (Hasler and Suesstrunk). The default
is the temperature with the lowest CIEDE2000 among those whose colorfulness reaches ``--min-colorfulness`` (65 %) of
the ground truth's: faithful colors, but not washed out toward gray (which CIEDE2000 alone would reward).

Usage: python bench/bench_vibrancy.py --images ../shared/data/train [--photos 150] [--model CKPT] [--json OUT]
       [--record]   (writes the chosen default into the checkpoint, as its `temperature`)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_TEMPERATURES = "0.3,0.38,0.45,0.6,0.8,1.0"


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
    parser.add_argument("--temperatures", default=DEFAULT_TEMPERATURES)
    parser.add_argument("--min-colorfulness", type=float, default=0.65, help="share of the ground truth's")
    parser.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--record", action="store_true",
                        help="store the chosen temperature in the checkpoint (--model) as its default vibrancy")
    args = parser.parse_args()

    from chromaseg.core.evaluate import eval_paths, evaluate

    paths = eval_paths(args.images, args.split, args.photos)
    rows, gt = [], 0.0
    for t in (float(v) for v in args.temperatures.split(",")):
        report = evaluate(paths, (0,), model=args.model, vibrancy=t, progress=False)
        gt = report["gt_colorfulness"]
        m = report["results"]["model"]["0"]
        gray = report["results"]["gray"]["0"]
        rows.append({"temperature": t, "ciede2000": round(m["ciede2000"], 3), "psnr": round(m["psnr"], 2),
                     "colorfulness": round(m["colorfulness"], 1), "cnr": round(m["cnr"], 3),
                     "gray_ciede2000": round(gray["ciede2000"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    best = choose(rows, gt, args.min_colorfulness)
    print(f"\n| T | mean CIEDE2000 | PSNR | colorfulness | CNR |\n| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        mark = " (default)" if r is best else ""
        print(f"| {r['temperature']}{mark} | {r['ciede2000']:.2f} | {r['psnr']:.2f} | {r['colorfulness']:.1f} | "
              f"{r['cnr']:.2f} |")
    print(f"\n{len(paths)} photos; gray scores {rows[0]['gray_ciede2000']:.2f}; ground-truth colorfulness {gt:.1f} "
          f"(65 % = {args.min_colorfulness * gt:.1f}). Default: T = {best['temperature']}.")
    if args.json:
        Path(args.json).write_text(json.dumps({"gt_colorfulness": gt, "rows": rows, "default": best}, indent=1))
    if args.record:
        record_temperature(args.model, best["temperature"])


def record_temperature(checkpoint: str | None, temperature: float) -> None:
    """Rewrite ``checkpoint`` with ``extra.temperature`` set (through a temporary file)."""
    import os

    import torch

    from chromaseg.core.model import read_checkpoint

    if checkpoint is None:
        raise SystemExit("--record needs --model: the checkpoint to write the default into")
    doc = read_checkpoint(checkpoint)
    doc["extra"]["temperature"] = temperature
    tmp = f"{checkpoint}.partial"
    torch.save(doc, tmp)
    os.replace(tmp, checkpoint)
    print(f"recorded temperature {temperature} in {checkpoint}")


if __name__ == "__main__":
    main()
