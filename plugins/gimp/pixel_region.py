"""gimpfu's PixelRgn: `rgn[x0:x1, y0:y1]` reads and writes a rectangle of a drawable as bytes.

Coordinates are the drawable's own and must stay inside the region. A region opened with `shadow=True` writes to the
drawable's shadow buffer, which `drawable.merge_shadow(True)` then commits as one undo step (the GIMP way of
filtering a drawable in place). Backends supply the storage through `read_rect` / `write_rect`.
"""
from __future__ import annotations

from typing import Protocol


class RegionStorage(Protocol):
    """What a drawable gives its pixel regions (`bpp` bytes per pixel, rows packed)."""

    bpp: int

    def read_rect(self, x: int, y: int, w: int, h: int, shadow: bool) -> bytes: ...

    def write_rect(self, x: int, y: int, w: int, h: int, data: bytes, shadow: bool) -> None: ...


class PixelRgn:
    """A rectangle of a drawable; `dirty=False` makes it read-only."""

    def __init__(self, storage: RegionStorage, x: int, y: int, w: int, h: int, dirty: bool, shadow: bool) -> None:
        self.x, self.y, self.w, self.h = x, y, w, h
        self.bpp = storage.bpp
        self.dirty = dirty
        self.shadow = shadow
        self._storage = storage

    def __getitem__(self, key: tuple[slice, slice]) -> bytes:
        x, y, w, h = self._rect(key)
        return self._storage.read_rect(x, y, w, h, self.shadow and self.dirty)

    def __setitem__(self, key: tuple[slice, slice], data: bytes | bytearray | memoryview) -> None:
        if not self.dirty:
            raise ValueError("this pixel region was opened read-only (dirty=False)")
        x, y, w, h = self._rect(key)
        if len(data) != w * h * self.bpp:
            raise ValueError(f"{w}x{h} pixels of {self.bpp} bytes need {w * h * self.bpp} bytes, got {len(data)}")
        self._storage.write_rect(x, y, w, h, bytes(data), self.shadow)

    def _rect(self, key: tuple[slice, slice]) -> tuple[int, int, int, int]:
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, slice) for k in key)):
            raise TypeError("index a pixel region with rgn[x0:x1, y0:y1]")
        xs, ys = key
        x0 = self.x if xs.start is None else xs.start
        x1 = self.x + self.w if xs.stop is None else xs.stop
        y0 = self.y if ys.start is None else ys.start
        y1 = self.y + self.h if ys.stop is None else ys.stop
        if not (self.x <= x0 < x1 <= self.x + self.w and self.y <= y0 < y1 <= self.y + self.h):
            raise IndexError(f"[{x0}:{x1}, {y0}:{y1}] is outside the region "
                             f"[{self.x}:{self.x + self.w}, {self.y}:{self.y + self.h}]")
        return x0, y0, x1 - x0, y1 - y0
