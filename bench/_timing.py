"""Timing helpers shared by the benchmark scripts (medians, never a pass/fail threshold)."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def report(rows: list[dict], json_path: str | None) -> None:
    """Print rows as an aligned table and optionally write them as JSON."""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1) + "\n")
