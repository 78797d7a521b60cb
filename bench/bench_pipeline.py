"""Benchmark: the three-stage colorize pipeline on this CPU, stage by stage.

    .venv/bin/python bench/bench_pipeline.py [--repeat 5] [--json out.json]

A 1024x683 gray photo (the first coco128 training photo resized), the shipped colorizer, the classical segmenter
(automatic segments are part of every pipeline row, as they are when the daemon gets no segments).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_seconds, report  # noqa: E402
from bench_segment import photo  # noqa: E402

from chromaseg.core.colorize import colorize, get_model  # noqa: E402
from chromaseg.core.segment import Segmenter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    gray = np.asarray(Image.fromarray(photo()).convert("L"))
    net, segmenter = get_model(), Segmenter.classic()
    cases = {
        "colorize": {},
        "+ harmonize": {"harmonize": True},
        "+ segment pass": {"segment_pass": True},
        "+ segment pass + harmonize": {"segment_pass": True, "harmonize": True},
    }
    rows = []
    for name, options in cases.items():
        t, _ = median_seconds(lambda: colorize(gray, model=net, segmenter=segmenter, **options), args.repeat)
        rows.append({"case": f"{name} 1024x683", "median_ms": round(t * 1e3, 1), "note": "classic segments"})
    report(rows, args.json)


if __name__ == "__main__":
    main()
