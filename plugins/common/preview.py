"""A colorize preview as the editors show it: the "after" the daemon sent at the preview's size and the "before" (the
source layer scaled to the same size here), both as RGBA8 bytes that any editor can put on screen (Krita: a QImage of
Format_RGBA8888; GIMP: the layers of a new 8-bit image). Nothing of it is written to the artist's document.

Editors have no NumPy: the "before" is sampled nearest-neighbour with one C-level gather per row (`itemgetter` over a
memoryview), and 16-bit and float pixels become 8-bit with slicing, so a 1024 px preview costs milliseconds (float
layers, rare, take one pass over the preview's values).
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from chromaseg.plugins.common.errors import PluginError


@dataclass(frozen=True)
class PreviewImage:
    """A preview: `width` x `height` RGBA8 pixels (row-major, non-premultiplied) of the source layer (`before`) and
    of its colorization (`after`). `selection`: it previews Colorize Selection (the selected region, with context),
    else Colorize Layer; the full-resolution Apply runs that one."""

    width: int
    height: int
    before: bytes
    after: bytes
    layer: str
    selection: bool

    def __post_init__(self) -> None:
        size = 4 * self.width * self.height
        if self.width <= 0 or self.height <= 0 or len(self.before) != size or len(self.after) != size:
            raise ValueError(f"a {self.width}x{self.height} preview needs {size} bytes before and after")


def preview_shape(result: dict[str, Any], rect_w: int, rect_h: int, side: int) -> tuple[int, int]:
    """(w, h) of the preview the daemon says it made (`result["preview"]`), checked against what was asked: at least
    1 px, never larger than the region sent, its long side at most `side`. PluginError for anything else."""
    said = result.get("preview")
    ok = (isinstance(said, list) and len(said) == 2 and all(type(v) is int for v in said)
          and 0 < said[0] <= rect_w and 0 < said[1] <= rect_h and max(said) <= side)
    if not ok:
        raise PluginError(f"The daemon sent no usable preview size ({said!r} for a {rect_w}x{rect_h} region at "
                          f"{side} px); the document is unchanged.")
    return said[0], said[1]


def sample_nearest(data: Any, w: int, h: int, pixel_bytes: int, out_w: int, out_h: int) -> bytes:
    """A row-major `w` x `h` raster of `pixel_bytes`-byte pixels (a multiple of 4) scaled to `out_w` x `out_h`, each
    output pixel the input pixel at its center."""
    if pixel_bytes % 4 or len(memoryview(data).cast("B")) != w * h * pixel_bytes:
        raise ValueError(f"{w}x{h} pixels of {pixel_bytes} bytes do not match the buffer")
    units = pixel_bytes // 4  # 4-byte words per pixel
    words = memoryview(data).cast("B").cast("I")
    columns = [min((2 * x + 1) * w // (2 * out_w), w - 1) for x in range(out_w)]
    gather = itemgetter(*[c * units + k for c in columns for k in range(units)])
    single = out_w * units == 1  # itemgetter of one index gives the item, not a tuple
    out = array("I")
    for y in range(out_h):
        source = min((2 * y + 1) * h // (2 * out_h), h - 1)
        picked = gather(words[source * w * units : (source + 1) * w * units])
        out.extend((picked,) if single else picked)
    return out.tobytes()


def rgba8(data: Any, dtype: str) -> bytes:
    """Wire RGBA (u8, little-endian u16, or f32 in [0, 1], all sRGB-encoded) as RGBA8 for the screen."""
    raw = memoryview(data).cast("B")
    if dtype == "u8":
        return bytes(raw)
    if dtype == "u16":
        return bytes(raw[1::2])  # the high byte of each little-endian value
    if dtype == "f32":
        values = array("f")
        values.frombytes(raw)
        return bytes([0 if not v > 0 else 255 if v >= 1 else int(v * 255 + 0.5) for v in values])
    raise ValueError(f"no 8-bit view of {dtype!r} pixels")
