"""Pixel buffers as bytes, converted at C speed (slicing, bytes.translate, big-int OR): never a per-pixel Python loop.

Editors hand out pixels in their own layout (Krita: BGRA for 8/16-bit integers, RGBA for floats; GIMP: whatever
Babl format is asked for). The wire wants RGBA in u8, u16 or f32, little-endian; these functions convert both ways.
"""
from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass

from chromaseg.plugins.common.errors import PluginError

_ITEMSIZE = {"u8": 1, "u16": 2, "f16": 2, "f32": 4}
_WIRE_DTYPE = {"u8": "u8", "u16": "u16", "f16": "f32", "f32": "f32"}  # the wire has no half floats
_NONZERO_TO_255 = bytes([0] + [255] * 255)
_HALF_CHUNK = 1 << 20  # half floats converted this many at a time (bounded temporary Python floats)
MAX_LABELS = 255  # segments `label_masks` can split a label map into: each label is the low byte of its i32


@dataclass(frozen=True)
class PixelFormat:
    """How an editor lays out one RGBA pixel: channel `depth` and channel `order` ("BGRA" or "RGBA")."""

    depth: str
    order: str = "RGBA"

    def __post_init__(self) -> None:
        if self.depth not in _ITEMSIZE:
            raise PluginError(f"Channel depth {self.depth!r} is not supported; use 8 or 16-bit integer, or float.")
        if self.order not in ("RGBA", "BGRA"):
            raise ValueError(f"order must be 'RGBA' or 'BGRA', got {self.order!r}")

    @property
    def itemsize(self) -> int:
        """Bytes per channel value."""
        return _ITEMSIZE[self.depth]

    @property
    def pixel_bytes(self) -> int:
        return 4 * self.itemsize

    @property
    def wire_dtype(self) -> str:
        """The protocol dtype this format travels as (half floats widen to f32)."""
        return _WIRE_DTYPE[self.depth]


def wire_itemsize(dtype: str) -> int:
    return _ITEMSIZE[dtype]


def swap_red_blue(data: bytes | bytearray | memoryview, itemsize: int) -> bytearray:
    """BGRA <-> RGBA for 4-channel pixels of `itemsize`-byte channels (its own inverse)."""
    src = memoryview(data).cast("B")
    out = bytearray(src)
    step = 4 * itemsize
    for k in range(itemsize):
        out[k::step] = src[2 * itemsize + k :: step]
        out[2 * itemsize + k :: step] = src[k::step]
    return out


def _half_to_f32(data: bytes | bytearray | memoryview) -> bytes:
    src = memoryview(data).cast("B")
    out = array("f")
    for start in range(0, len(src), 2 * _HALF_CHUNK):
        chunk = src[start : start + 2 * _HALF_CHUNK]
        out.extend(struct.unpack(f"<{len(chunk) // 2}e", chunk))
    return _little_endian(out)


def _f32_to_half(data: bytes | bytearray | memoryview) -> bytes:
    values = array("f")
    values.frombytes(memoryview(data).cast("B"))
    if sys.byteorder == "big":
        values.byteswap()
    parts = []
    for start in range(0, len(values), _HALF_CHUNK):
        chunk = values[start : start + _HALF_CHUNK]
        parts.append(struct.pack(f"<{len(chunk)}e", *chunk))
    return b"".join(parts)


def _little_endian(values: array) -> bytes:
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def to_wire(data: bytes | bytearray | memoryview, fmt: PixelFormat) -> bytes | bytearray:
    """Editor pixels -> wire RGBA in `fmt.wire_dtype` (editors on big-endian machines are not supported)."""
    if fmt.depth == "f16":
        data = _half_to_f32(data)
    if fmt.order == "BGRA":
        return swap_red_blue(data, fmt.itemsize)
    return bytes(data) if isinstance(data, memoryview) else data


def from_wire(data: bytes | bytearray | memoryview, fmt: PixelFormat) -> bytes | bytearray:
    """Wire RGBA in `fmt.wire_dtype` -> editor pixels in `fmt`."""
    if fmt.order == "BGRA":
        data = swap_red_blue(data, fmt.itemsize)
    if fmt.depth == "f16":
        return _f32_to_half(data)
    return bytes(data) if isinstance(data, memoryview) else data


def alpha_mask(rgba: bytes | bytearray | memoryview, itemsize: int) -> bytes:
    """u8 mask, 255 where a wire RGBA pixel's alpha is non-zero, else 0 (a painted hint, a protected pixel)."""
    src = memoryview(rgba).cast("B")
    step = 4 * itemsize
    planes = [bytes(src[3 * itemsize + k :: step]) for k in range(itemsize)]
    combined = planes[0]
    if itemsize > 1:  # OR the alpha's bytes together: one big-int operation instead of a loop over pixels
        value = 0
        for plane in planes:
            value |= int.from_bytes(plane, "little")
        combined = value.to_bytes(len(planes[0]), "little")
    return combined.translate(_NONZERO_TO_255)


_UNIT_PACK = {
    "u8": lambda v: bytes([round(v * 255)]),
    "u16": lambda v: struct.pack("<H", round(v * 65535)),
    "f16": lambda v: struct.pack("<e", v),
    "f32": lambda v: struct.pack("<f", v),
}


def rgba_from_mask(mask: bytes | bytearray, color: tuple[float, float, float], fmt: PixelFormat) -> bytes:
    """Pixels of one `color` (RGB in [0, 1]) in `fmt` whose alpha is the u8 `mask` (255 = opaque): a segment's tint,
    or the white of a mask layer. Built with slice assignment and one lookup table per alpha byte (no pixel loop)."""
    pack = _UNIT_PACK[fmt.depth]
    item = fmt.itemsize
    rgb = color if fmt.order == "RGBA" else (color[2], color[1], color[0])
    out = bytearray((b"".join(pack(c) for c in rgb) + bytes(item)) * len(mask))
    mask = bytes(mask)
    for k in range(item):  # the alpha channel, one byte plane at a time
        table = bytes(pack(v / 255)[k] for v in range(256))
        out[3 * item + k :: 4 * item] = mask.translate(table)
    return bytes(out)


def any_set(mask: bytes | bytearray) -> bool:
    """Whether a u8 mask has any non-zero byte."""
    return mask.count(0) != len(mask)


def label_masks(labels: bytes | bytearray | memoryview, count: int) -> list[tuple[int, bytes]]:
    """0/255 masks of labels 1..count from a little-endian i32 label map (0 = no segment), skipping empty labels.

    With at most MAX_LABELS labels the low byte is the label, so each mask is one `bytes.translate` of that plane.
    """
    if not 0 <= count <= MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} segments fit a u8 plane, got {count}")
    src = memoryview(labels).cast("B")
    if any(any_set(bytes(src[k::4])) for k in (1, 2, 3)):
        raise PluginError(f"The daemon sent segment labels above {MAX_LABELS}; ask for fewer segments.")
    plane = bytes(src[0::4])
    masks = []
    for label in range(1, count + 1):
        if plane.count(label):
            table = bytes(255 if v == label else 0 for v in range(256))
            masks.append((label, plane.translate(table)))
    return masks
