"""Benchmark: Algorithm 1 harmonization of a 4096x4096 ab map over 200 segments.

    .venv/bin/python bench/bench_harmonize.py [--size 4096] [--segments 200] [--repeat 7] [--json out.json]

The segments are a Voronoi partition of random seeds (irregular sizes, like real segments); the list-of-masks form
(overlapping SAM masks) is timed on the same partition.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_seconds, report  # noqa: E402

from chromaseg.core.harmonize import harmonize  # noqa: E402


def voronoi_labels(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size label map of n Voronoi cells, built at 1/8 resolution and upscaled (fast, irregular cells)."""
    small = size // 8
    seeds = rng.integers(0, small, (n, 2))
    yy, xx = np.mgrid[:small, :small]
    best = np.full((small, small), np.inf)
    labels = np.zeros((small, small), np.int32)
    for k, (y, x) in enumerate(seeds):
        d = (yy - y) ** 2 + (xx - x) ** 2
        closer = d < best
        best[closer], labels[closer] = d[closer], k
    return np.kron(labels, np.ones((8, 8), np.int32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = voronoi_labels(args.size, args.segments, rng)
    ab = rng.normal(0, 25, (args.size, args.size, 2)).astype(np.float32)
    size = f"{args.size}x{args.size}"
    rows = []
    median, _ = median_seconds(lambda: harmonize(ab, labels), args.repeat)
    rows.append({"segments": f"label map ({len(np.unique(labels))})", "size": size, "median_s": round(median, 3)})
    masks = [labels == k for k in range(args.segments)]
    median, _ = median_seconds(lambda: harmonize(ab, masks), max(3, args.repeat // 2))
    rows.append({"segments": f"{len(masks)} boolean masks", "size": size, "median_s": round(median, 3)})
    report(rows, args.json)


if __name__ == "__main__":
    main()
