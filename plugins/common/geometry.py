"""Rectangles: the region of a layer sent to the daemon (a selection's box plus context, clamped to the layer)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """An axis-aligned pixel rectangle; `x`, `y` may be negative (Krita layers can extend past the canvas)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def intersect(self, other: "Rect") -> "Rect":
        """The overlap; an empty Rect (w or h 0) when there is none."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))

    def pad(self, margin: int, within: "Rect") -> "Rect":
        """Grown by `margin` pixels on each side, then clamped to `within`."""
        return Rect(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin).intersect(within)

    def offset_in(self, outer: "Rect") -> "Rect":
        """This rectangle in the coordinates of `outer`'s top-left corner."""
        return Rect(self.x - outer.x, self.y - outer.y, self.w, self.h)


def context_margin(box: Rect, fraction: float, minimum: int) -> int:
    """Context around a selection: `fraction` of its longer side, at least `minimum` pixels.

    The colorizer judges an object by its surroundings; a tight crop around a small selection loses that.
    """
    return max(int(round(max(box.w, box.h) * fraction)), minimum)


def mask_bbox(mask: bytes, rect: Rect) -> Rect | None:
    """Tight bounding box of the non-zero bytes of a `rect.w` x `rect.h` u8 mask, in `rect`'s coordinates.

    One C-speed strip per row (no per-pixel Python): editors report selection bounds loosely (Krita: whole tiles).
    """
    w = rect.w
    x0, x1, y0, y1 = w, 0, -1, -1
    for row in range(rect.h):
        line = mask[row * w : (row + 1) * w]
        stripped = line.lstrip(b"\0")
        if not stripped:
            continue
        if y0 < 0:
            y0 = row
        y1 = row
        x0 = min(x0, w - len(stripped))
        x1 = max(x1, len(line.rstrip(b"\0")))
    if y0 < 0:
        return None
    return Rect(rect.x + x0, rect.y + y0, x1 - x0, y1 - y0 + 1)

