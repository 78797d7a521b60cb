"""An in-memory DocumentAdapter: one layer, an optional selection and hint layer, and a log of what was written."""
from __future__ import annotations

from dataclasses import dataclass, field

from chromaseg.plugins.common.adapter import SelectionMode
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat


def crop(buffer: bytes, full: Rect, rect: Rect, pixel_bytes: int) -> bytes:
    """`rect` cut out of a `full`-sized buffer; outside `full` reads as zeros (transparent / unselected)."""
    out = bytearray(rect.w * rect.h * pixel_bytes)
    inside = rect.intersect(full)
    for y in range(inside.y, inside.bottom):
        src = ((y - full.y) * full.w + inside.x - full.x) * pixel_bytes
        dst = ((y - rect.y) * rect.w + inside.x - rect.x) * pixel_bytes
        out[dst : dst + inside.w * pixel_bytes] = buffer[src : src + inside.w * pixel_bytes]
    return bytes(out)


@dataclass
class FakeDocument:
    width: int
    height: int
    layer: bytes
    fmt: PixelFormat = PixelFormat("u8", "BGRA")
    name: str = "Background"
    selection: bytes | None = None
    hints: bytes | None = None
    hints_fmt: PixelFormat | None = None
    clicks: bytes | None = None
    hint_layer: str = PaintedLayer.HINTS.value  # GIMP's procedures may name the hint layer otherwise
    foreground: bytes = b"\x00\x80\xff\xff"  # what paint_hint_at_selection fills with, in `fmt` (BGRA: orange)
    fail_writes: bool = False
    segment: tuple[str, Rect, bytes] | None = None  # the active segment (Select Segment), None: not a segment
    results: list[tuple[str, Rect, bytes, bytes | None]] = field(default_factory=list)
    segment_groups: list[tuple[str, Rect, list[tuple[str, bytes]]]] = field(default_factory=list)
    selection_ops: list[tuple[Rect, bytes, SelectionMode]] = field(default_factory=list)

    @property
    def canvas(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def layer_name(self) -> str:
        return self.name

    def pixel_format(self) -> PixelFormat:
        return self.fmt

    def layer_bounds(self) -> Rect:
        return self.canvas

    def conversion_note(self) -> str:
        return ""

    def read_layer(self, rect: Rect) -> bytes:
        return crop(self.layer, self.canvas, rect, self.fmt.pixel_bytes)

    def selection_bounds(self) -> Rect | None:
        return None if self.selection is None else self.canvas

    def read_selection(self, rect: Rect) -> bytes:
        return bytes(rect.w * rect.h) if self.selection is None else crop(self.selection, self.canvas, rect, 1)

    def painted_layer_name(self, kind: PaintedLayer) -> str:
        return self.hint_layer if kind is PaintedLayer.HINTS else kind.value

    def read_painted(self, kind: PaintedLayer, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        data = self.hints if kind is PaintedLayer.HINTS else self.clicks
        if data is None:
            return None
        fmt = (self.hints_fmt if kind is PaintedLayer.HINTS else None) or self.fmt
        return crop(data, self.canvas, rect, fmt.pixel_bytes), fmt

    def add_painted_layer(self, kind: PaintedLayer) -> bool:
        attr = "hints" if kind is PaintedLayer.HINTS else "clicks"
        if getattr(self, attr) is not None:
            return False
        setattr(self, attr, bytes(self.width * self.height * self.fmt.pixel_bytes))
        return True

    def paint_hint_at_selection(self) -> str:
        self._write()
        self.add_painted_layer(PaintedLayer.HINTS)
        painted, px = bytearray(self.hints), self.fmt.pixel_bytes
        for i, covered in enumerate(self.selection or b""):
            if covered:
                painted[i * px : (i + 1) * px] = self.foreground
        self.hints = bytes(painted)
        return "#ff8000"

    def _write(self) -> None:
        if self.fail_writes:
            raise PluginError("the fake document refuses writes")

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        self._write()
        self.results.append((name, rect, pixels, mask))

    def add_segment_masks(self, name: str, rect: Rect, masks) -> None:
        self._write()
        self.segment_groups.append((name, rect, list(masks)))

    def active_segment(self) -> tuple[str, Rect, bytes] | None:
        return self.segment

    def select_active_segment(self, rect: Rect, mask: bytes) -> None:
        self.set_selection(rect, mask, SelectionMode.REPLACE)

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        self._write()
        self.selection_ops.append((rect, mask, mode))


def box_mask(width: int, height: int, box: Rect, value: int = 255) -> bytes:
    """A `width` x `height` u8 mask with `box` set to `value`."""
    out = bytearray(width * height)
    for y in range(box.y, box.bottom):
        out[y * width + box.x : y * width + box.right] = bytes([value]) * box.w
    return bytes(out)


def object_rect(width: int, height: int) -> Rect:
    """Where `gray_bgra` puts its bright object."""
    return Rect(width * 5 // 16, height // 4, width * 5 // 16, height * 3 // 8)


def gray_bgra(width: int, height: int) -> bytes:
    """A dark, slightly noisy gray background with a bright object (`object_rect`), opaque 8-bit BGRA (Krita's
    layout): an image any segmenter, classical or SAM, separates the same way every time."""
    obj = object_rect(width, height)
    out = bytearray()
    for y in range(height):
        inside = obj.y <= y < obj.bottom
        for x in range(width):
            v = (200 if inside and obj.x <= x < obj.right else 60) + (x * 7 + y * 13) % 20
            out += bytes((v, v, v, 255))
    return bytes(out)
