"""Time colorize() end to end (1024x1024 and 4096x4096 RGBA uint8, with hints and a selection) and its peak memory.

Targets (issue 4): 1024x1024 <= 3 s and 4096x4096 <= 30 s with peak memory <= 3 GB on the 2-core CPU.
Uses the shipped weights when present, else a randomly initialized model of the same architecture (same cost).
Each size runs in a fresh process so the peak resident memory is that size's own.

``--backends ccc,siggraph17,ddcolor-tiny`` (issue 15) times the published colorizers through the same pipeline, each
randomly initialized in memory (the cost of real weights; no file needed). A random DDColor's ab runs to 1e5, which
would send every pixel through gamut fitting's bisection: its output is scaled to a photo's range (|ab| <= 40) so
the pipeline's cost is a real image's. ``cpu_s`` is the process's CPU time per call (all threads), beside wall time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def published(backend: str):
    """A randomly initialized published colorizer of ``backend``'s architecture."""
    import torch

    from chromaseg.core.published.architectures import architecture
    from chromaseg.core.published.colorizer import PublishedColorizer

    arch = architecture(backend)
    torch.manual_seed(0)
    colorizer = PublishedColorizer(arch.build().eval(), arch, "(random)", backend)
    if not arch.takes_hints:  # DDColor: bring the random ab to a photo's range (see the module docstring)
        colorizer.net.net.register_forward_hook(lambda _m, _args, ab: ab * (40 / ab.abs().amax()))
    return colorizer


def one(size: int, repeats: int, backend: str = "ccc") -> dict:
    import resource

    import numpy as np
    import torch

    from chromaseg.core.classes import ClassTable, GRID_CLASSES
    from chromaseg.core.colorize import colorize, get_model
    from chromaseg.core.model import build_colorizer

    if backend != "ccc":
        model, source = published(backend), f"{backend} random"
    else:
        try:
            model = get_model()
            source = "shipped"
        except FileNotFoundError:
            counts = np.zeros(GRID_CLASSES, np.int64)
            counts[::2] = 1
            model = build_colorizer("ccc-mobile", table=ClassTable.from_counts(counts, 1e-3), width=48).eval()
            source = "random"  # no DeepLab
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    gray = (127 + 100 * np.sin(20 * xx) * np.cos(13 * yy)).astype(np.uint8)
    img = np.stack([gray, gray, gray, np.full_like(gray, 255)], -1)
    hints = np.zeros((size, size, 4), np.uint8)
    for y, x in rng.integers(0, size - 8, (20, 2)):
        hints[y:y + 6, x:x + 6] = (*rng.integers(0, 256, 3), 255)
    sel = np.zeros((size, size), np.uint8)
    sel[size // 8: -size // 8, size // 8: -size // 8] = 255
    colorize(img[:64, :64], model=model)  # warm-up: first torch call
    times, cpu = [], []
    for rep in range(repeats):
        img[0, 0, 0] = rep  # another image each time: no repeat is served from the semantic features of the last
        t0, c0 = time.perf_counter(), time.process_time()
        colorize(img, hints=hints, selection=sel, model=model)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"size": size, "model": source, "threads": torch.get_num_threads(),
            "median_s": round(float(np.median(times)), 3), "cpu_s": round(float(np.median(cpu)), 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="ccc",
                        help="comma-separated: ccc (the project's model) and published architectures (siggraph17, "
                             "ddcolor-tiny, ddcolor-large); default: %(default)s")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="ccc", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.repeats, args.backend)))
        return
    for backend in args.backends.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            res = subprocess.run([sys.executable, __file__, "--one", str(size), "--repeats", str(args.repeats),
                                  "--backend", backend], capture_output=True, text=True, check=True)
            print(res.stdout.strip())


if __name__ == "__main__":
    main()
