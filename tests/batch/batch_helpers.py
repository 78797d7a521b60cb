"""Helpers for the `chromaseg batch` tests: images of any depth, their results, the manifest as SQLite reads it."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from chromaseg.batch.manifest import MANIFEST_NAME

H, W = 20, 28


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: list[str]

    @property
    def summary(self) -> str:
        """The closing line (Ray's own notices may come before it)."""
        return [line for line in self.out.splitlines() if line.startswith("done ")][-1]


def pixels(channels: int, dtype: type, seed: int) -> np.ndarray:
    """Random pixels over the dtype's whole range, gray when ``channels`` is 1."""
    rng = np.random.default_rng(seed)
    shape = (H, W) if channels == 1 else (H, W, channels)
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def write(path: Path, image: np.ndarray) -> Path:
    """Any depth and channel count (OpenCV writes 16-bit PNGs; it wants BGR order)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), image)
    return path


def rows(out: Path, root: Path) -> dict[str, dict]:
    """The manifest's rows by the input's path relative to ``root``, as any SQLite tool reads them."""
    with closing(sqlite3.connect(out / MANIFEST_NAME)) as db:
        db.row_factory = sqlite3.Row
        return {Path(r["source"]).relative_to(root.resolve()).as_posix(): dict(r)
                for r in db.execute("SELECT * FROM files")}


def read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
