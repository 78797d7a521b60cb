"""Throughput of `chromaseg batch` in images/s: on a local Ray cluster with 1 and 2 workers, in one process
(--no-ray), and the one-process `chromaseg colorize`, over the same photos with the shipped colorizer.

Two figures per configuration, each the median of --runs runs into a fresh output folder:
- end to end: photos / the command's wall time, start-up included (Python, Ray, model loading): what a user waits;
- steady: from the manifest's per-file times, (photos - 1) / (last - first result): what each further photo costs
  once the workers are up, the rate a long job tends to (`chromaseg colorize` keeps no manifest: end to end only).
The photos are read from ../shared/data/train at run time, never copied into the repository.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from _timing import report

from chromaseg.batch.manifest import MANIFEST_NAME
from chromaseg.core.classes import list_images

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "train"
# name -> (arguments, environment): each Ray actor runs torch on one thread (Ray sets OMP_NUM_THREADS=1), a plain
# process on all cores; the one-thread loop tells the engine's share from the threads' share.
CONFIGURATIONS = {
    "colorize (one process)": (["colorize"], {}),
    "batch --no-ray": (["batch", "--no-ray"], {}),
    "batch --no-ray, 1 thread": (["batch", "--no-ray"], {"OMP_NUM_THREADS": "1"}),
    "batch, Ray, 1 worker": (["batch", "--workers", "1"], {}),
    "batch, Ray, 2 workers": (["batch", "--workers", "2"], {}),
}


def photos(count: int) -> list[Path]:
    """``count`` photos spread over the training folders (every n-th of the sorted list)."""
    found = list_images(SHARED_PHOTOS)
    return found[::max(1, len(found) // count)][:count]


def one_run(command: list[str], env: dict[str, str], inputs: list[Path], out: Path) -> tuple[float, float | None]:
    """(end-to-end, steady) images/s of one run of ``chromaseg COMMAND INPUTS -o OUT``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chromaseg.cli.main", *command, *map(str, inputs), "-o", str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    wall = time.perf_counter() - start
    if not (out / MANIFEST_NAME).exists():
        return len(inputs) / wall, None
    with closing(sqlite3.connect(out / MANIFEST_NAME)) as db:
        times = sorted(t for (t,) in db.execute("SELECT updated FROM files WHERE status = 'done'"))
    return len(inputs) / wall, (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50, help="photos (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (default 3)")
    parser.add_argument("--only", action="append", choices=list(CONFIGURATIONS), help="these configurations only")
    parser.add_argument("--json", help="also write the table as JSON")
    args = parser.parse_args()
    inputs = photos(args.count)
    names = args.only or list(CONFIGURATIONS)
    runs: dict[str, list[tuple[float, float | None]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        for i in range(args.runs):  # configurations interleaved, so that a change of load hits them all
            for j, name in enumerate(names):
                runs[name].append(one_run(*CONFIGURATIONS[name], inputs, Path(tmp) / f"{i}-{j}"))
    rows = []
    for name in names:
        steady = [s for _, s in runs[name] if s is not None]
        rows.append({"configuration": name, "photos": len(inputs),
                     "end_to_end_img_s": round(statistics.median(e for e, _ in runs[name]), 2),
                     "steady_img_s": round(statistics.median(steady), 2) if steady else "-", "runs": args.runs})
    report(rows, args.json)


if __name__ == "__main__":
    main()
