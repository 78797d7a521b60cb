"""A shared thread pool for chunked NumPy work.

NumPy releases the GIL inside ufuncs, so splitting a big image into cache-sized chunks and mapping them over one
thread per core gives both parallelism and bounded temporaries.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable


@lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="chromaseg-numpy")


def for_each_chunk(fn: Callable[[slice], None], n: int, chunk: int) -> None:
    """Call ``fn(slice)`` on consecutive slices of ``range(n)``, at most ``chunk`` long, in parallel.

    The first exception raised by any chunk propagates.
    """
    if n <= chunk:
        fn(slice(0, n))
        return
    list(pool().map(lambda start: fn(slice(start, min(start + chunk, n))), range(0, n, chunk)))
