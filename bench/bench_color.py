"""Benchmark: sRGB <-> Lab on a 4096x4096 image (NumPy, threaded; torch on the CPU for comparison).

    .venv/bin/python bench/bench_color.py [--size 4096] [--repeat 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_seconds, report  # noqa: E402

from chromaseg.core.color import lab_to_srgb, srgb_to_lab  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.uint8, np.uint16, np.float32):
        top = np.iinfo(dtype).max if dtype != np.float32 else 1.0
        image = (rng.random((args.size, args.size, 3)) * top).astype(dtype)
        lab = srgb_to_lab(image)
        for name, fn in (("srgb_to_lab", lambda: srgb_to_lab(image)),
                         ("lab_to_srgb", lambda: lab_to_srgb(lab)),
                         ("round trip", lambda: lab_to_srgb(srgb_to_lab(image)))):
            median, _ = median_seconds(fn, args.repeat)
            rows.append({"backend": "numpy", "input": np.dtype(dtype).name, "op": name,
                         "size": f"{args.size}x{args.size}", "median_s": round(median, 3)})
    import torch

    image = torch.from_numpy((rng.random((args.size, args.size, 3)) * 255).astype(np.uint8))
    median, _ = median_seconds(lambda: lab_to_srgb(srgb_to_lab(image)), max(3, args.repeat // 2))
    rows.append({"backend": f"torch-cpu ({torch.get_num_threads()} threads)", "input": "uint8", "op": "round trip",
                 "size": f"{args.size}x{args.size}", "median_s": round(median, 3)})
    report(rows, args.json)


if __name__ == "__main__":
    main()
