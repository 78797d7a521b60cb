"""The GIMP side of `plugins.common.adapter.DocumentAdapter`, written with gimpfu calls only, so the same code runs
on GIMP 3 and on the in-memory backend of the unit tests.

The source is the active drawable, unless it is a layer the plug-in made: the hint and clicks layers lead to the layer
they were made for (its tattoo, kept in a parasite of each), a result or segments layer to the layer it was made from
(its name says which). Every write is one undo group (a gray image's conversion to RGB included); results are new
layers above the source and its earlier results, newest on top (the source is never written), masks are layer masks
or channels the artist can still edit. Select Segment reads the active drawable itself (`SourceRole.ACTIVE_SEGMENT`):
a segment layer's alpha or a segment channel becomes the selection.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from chromaseg.plugins.common import naming
from chromaseg.plugins.common.adapter import SelectionMode, SourceRole
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat, rgba_from_mask
from chromaseg.plugins.gimp.gimpfu import (
    ADD_MASK_WHITE,
    CHANNEL_OP_ADD,
    CHANNEL_OP_REPLACE,
    CHANNEL_OP_SUBTRACT,
    FILL_FOREGROUND,
    INDEXED,
    LAYER_MODE_NORMAL,
    PARASITE_PERSISTENT,
    RGB,
    RGBA_IMAGE,
    gimp,
    pdb,
)
from chromaseg.plugins.gimp.segment_colors import segment_color

_CHANNEL_OPS = {SelectionMode.REPLACE: CHANNEL_OP_REPLACE, SelectionMode.ADD: CHANNEL_OP_ADD,
                SelectionMode.SUBTRACT: CHANNEL_OP_SUBTRACT}
SEGMENT_OPACITY = 50.0  # % of each tinted segment layer: the photo shows through, the segments still tell apart
SOURCE_PARASITE = "chromaseg-hint-source"  # on a hint or clicks layer: the tattoo of the layer it is painted for


class GimpDocument:
    """An image and its active drawable, plus the artist's choices of where results go.

    hint_layer: name of the layer whose painted pixels (alpha > 0) are color hints (object clicks are always on
        `PaintedLayer.CLICKS`).
    result_mode: layer mode of result layers (LAYER_MODE_LCH_COLOR keeps the source's lightness).
    segments_as_channels: auto-segment writes channels instead of a layer group of masks.
    source: which layer a result layer leads to when it is the active drawable (`SourceRole`).
    """

    def __init__(self, image: Any, drawable: Any, *, hint_layer: str = naming.HINT_LAYER_NAME,
                 result_mode: str = LAYER_MODE_NORMAL, segments_as_channels: bool = False,
                 source: SourceRole = SourceRole.PAINT_LAYER) -> None:
        self.image = image
        self.hint_layer = hint_layer
        self.result_mode = result_mode
        self.segments_as_channels = segments_as_channels
        self.drawable = self._resolve(drawable, source)

    # --- the source ---

    def _resolve(self, active: Any, role: SourceRole) -> Any:
        if role is SourceRole.ACTIVE_SEGMENT:
            return active  # Select Segment reads the active segment itself
        if active.name in (self.hint_layer, PaintedLayer.CLICKS.value):
            return self._painted_source(active) or active
        keep_result = role is SourceRole.ACTIVE_RESULT and not active.name.startswith(naming.SEGMENTS + naming.SEP)
        if naming.made_by_plugin(active.name) and not keep_result:
            return next((layer for layer in self._below(active) if naming.derived_from(active.name, layer.name)
                         and not naming.made_by_plugin(layer.name)), active)
        return active

    def _painted_source(self, painted: Any) -> Any | None:
        """The layer remembered when the hint or clicks layer was made, else the nearest own layer below it."""
        tattoo = painted.parasite_find(SOURCE_PARASITE)
        if tattoo:
            found = pdb.gimp_image_get_layer_by_tattoo(self.image, int(tattoo))
            if found is not None:
                return found
        return next((layer for layer in self._below(painted) if getattr(layer, "children", None) is None
                     and layer.name not in (self.hint_layer, PaintedLayer.CLICKS.value)
                     and not naming.made_by_plugin(layer.name)), None)

    def painted_layer_name(self, kind: PaintedLayer) -> str:
        return self.hint_layer if kind is PaintedLayer.HINTS else kind.value

    def _siblings(self, item: Any) -> list[Any]:
        """`item` and its siblings, top first."""
        parent = item.parent
        return list(self.image.layers if parent is None else parent.children)

    def _below(self, item: Any) -> list[Any]:
        siblings = self._siblings(item)
        index = next((i for i, sibling in enumerate(siblings) if sibling == item), len(siblings))
        return siblings[index + 1 :]

    # --- reads ---

    def layer_name(self) -> str:
        return self.drawable.name

    def conversion_note(self) -> str:
        if self.image.base_type == RGB:
            return ""
        return "The gray image was converted to RGB so the colors show (the same undo returns it to gray)."

    def pixel_format(self) -> PixelFormat:
        if self.image.base_type == INDEXED:
            raise PluginError("Indexed images cannot be colorized: switch to Image > Mode > RGB first.")
        return self._layer_format(self.drawable)

    @staticmethod
    def _layer_format(layer: Any) -> PixelFormat:
        """A layer's pixel regions: perceptual RGBA, u8 on 8-bit images, u16 on deeper ones (see gimpfu)."""
        return PixelFormat("u8" if layer.bpp == 4 else "u16")

    def layer_bounds(self) -> Rect:
        return _bounds(self.drawable).intersect(self._canvas())

    def read_layer(self, rect: Rect) -> bytes:
        return _read(self.drawable, rect)

    def selection_bounds(self) -> Rect | None:
        non_empty, x1, y1, x2, y2 = pdb.gimp_selection_bounds(self.image)
        return Rect(x1, y1, x2 - x1, y2 - y1) if non_empty else None

    def read_selection(self, rect: Rect) -> bytes:
        return _read(self.image.selection, rect)

    def read_painted(self, kind: PaintedLayer, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        layer = pdb.gimp_image_get_layer_by_name(self.image, self.painted_layer_name(kind))
        if layer is None or layer == self.drawable or getattr(layer, "children", None) is not None:
            return None
        return _read(layer, rect), self.pixel_format()

    def active_segment(self) -> tuple[str, Rect, bytes] | None:
        """A layer of a segments group (its alpha is the mask) or a segments channel (its values are)."""
        item, prefix = self.drawable, naming.SEGMENTS + naming.SEP
        if item.bpp == 1:  # a channel, a layer mask or the selection: a segment when Auto-Segment named it
            if not item.name.startswith(prefix) or item not in self.image.channels:
                return None
            rect = _bounds(item).intersect(self._canvas())
            return item.name.rsplit(naming.SEP, 1)[-1], rect, _read(item, rect)
        parent = item.parent
        if getattr(item, "children", None) is not None or parent is None or not parent.name.startswith(prefix):
            return None
        rect = _bounds(item).intersect(self._canvas())
        return item.name, rect, _alpha(_read(item, rect), self._layer_format(item).itemsize)

    # --- writes (one undo group each) ---

    def add_painted_layer(self, kind: PaintedLayer) -> bool:
        with self._undo_group():
            added = self._add_painted(kind)
        pdb.gimp_displays_flush()
        return added

    def _add_painted(self, kind: PaintedLayer) -> bool:
        name = self.painted_layer_name(kind)
        if pdb.gimp_image_get_layer_by_name(self.image, name) is not None:
            return False
        self._ensure_rgb()  # colors, even a red dot, cannot show in a gray image
        layer = gimp.Layer(self.image, name, self.image.width, self.image.height, RGBA_IMAGE, 100.0,
                           LAYER_MODE_NORMAL)
        self._insert_above_source(layer)
        layer.attach_new_parasite(SOURCE_PARASITE, PARASITE_PERSISTENT, str(self.drawable.tattoo).encode())
        return True

    def paint_hint_at_selection(self) -> str:
        """GIMP's own Edit > Fill with FG Color on the hint layer (made first when missing), in one undo group."""
        with self._undo_group():
            self._add_painted(PaintedLayer.HINTS)
            hints = pdb.gimp_image_get_layer_by_name(self.image, self.hint_layer)
            if hints is None or getattr(hints, "children", None) is not None:
                raise PluginError(f"{self.hint_layer!r} is a layer group: name a paint layer for the hints.")
            pdb.gimp_drawable_edit_fill(hints, FILL_FOREGROUND)
        pdb.gimp_displays_flush()
        return "#" + "".join(f"{round(255 * c):02x}" for c in pdb.gimp_context_get_foreground())

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        with self._undo_group():
            self._ensure_rgb()
            layer = gimp.Layer(self.image, name, rect.w, rect.h, RGBA_IMAGE, 100.0, self.result_mode)
            self._insert_above_source(layer)
            layer.set_offsets(rect.x, rect.y)
            _write(layer, pixels)
            if mask is not None:
                layer_mask = layer.create_mask(ADD_MASK_WHITE)
                _write(layer_mask, mask)
                layer.add_mask(layer_mask)
        pdb.gimp_displays_flush()

    def add_segment_masks(self, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> None:
        with self._undo_group():
            if self.segments_as_channels:
                for index, (label, mask) in enumerate(masks):
                    channel = self._image_channel(f"{name}{naming.SEP}{label}", rect, mask, segment_color(index))
                    pdb.gimp_image_insert_channel(self.image, channel, None, index)
            else:
                self._ensure_rgb()
                group = gimp.GroupLayer(self.image, name)
                self._insert_above_source(group)
                for index, (label, mask) in enumerate(masks):
                    layer = gimp.Layer(self.image, label, rect.w, rect.h, RGBA_IMAGE, SEGMENT_OPACITY,
                                       LAYER_MODE_NORMAL)
                    pdb.gimp_image_insert_layer(self.image, layer, group, index)
                    layer.set_offsets(rect.x, rect.y)
                    _write(layer, rgba_from_mask(mask, segment_color(index), self._layer_format(layer)))
        pdb.gimp_displays_flush()

    def select_active_segment(self, rect: Rect, mask: bytes) -> None:
        self.set_selection(rect, mask, SelectionMode.REPLACE)  # already one undo group

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        with self._undo_group():
            channel = self._image_channel("chromaseg object", rect, mask, (1.0, 0.0, 0.0))
            pdb.gimp_image_insert_channel(self.image, channel, None, 0)
            pdb.gimp_image_select_item(self.image, _CHANNEL_OPS[mode], channel)
            pdb.gimp_image_remove_channel(self.image, channel)
        pdb.gimp_displays_flush()

    # --- helpers ---

    def _canvas(self) -> Rect:
        return Rect(0, 0, self.image.width, self.image.height)

    @contextmanager
    def _undo_group(self) -> Iterator[None]:
        pdb.gimp_image_undo_group_start(self.image)
        try:
            yield
        finally:
            pdb.gimp_image_undo_group_end(self.image)

    def _ensure_rgb(self) -> None:
        """Color layers need an RGB image: a grayscale one is converted (same pixels, inside the action's undo)."""
        if self.image.base_type != RGB:
            pdb.gimp_image_convert_rgb(self.image)

    def _insert_above_source(self, layer: Any) -> None:
        """Above the source and the results already made from it: the newest result is on top of them."""
        siblings = self._siblings(self.drawable)
        source = next((i for i, item in enumerate(siblings) if item == self.drawable), 0)
        made = [i for i, item in enumerate(siblings[:source]) if naming.derived_from(item.name, self.drawable.name)]
        pdb.gimp_image_insert_layer(self.image, layer, self.drawable.parent, min(made, default=source))

    def _image_channel(self, name: str, rect: Rect, mask: bytes, color: tuple[float, float, float]) -> Any:
        """An image-sized channel holding `mask` at `rect` (0 elsewhere)."""
        channel = gimp.Channel(self.image, name, self.image.width, self.image.height, 50.0, color)
        rgn = channel.get_pixel_rgn(0, 0, self.image.width, self.image.height, True, False)
        rgn[rect.x : rect.right, rect.y : rect.bottom] = mask
        channel.flush()
        return channel


def _bounds(drawable: Any) -> Rect:
    x, y = drawable.offsets
    return Rect(x, y, drawable.width, drawable.height)


def _read(drawable: Any, rect: Rect) -> bytes:
    """`rect` (image coordinates) of a drawable; zero bytes (transparent, unselected) where it has no pixels."""
    own = _bounds(drawable)
    inner = rect.intersect(own)
    bpp = drawable.bpp
    if inner.empty:
        return bytes(rect.area * bpp)
    rgn = drawable.get_pixel_rgn(inner.x - own.x, inner.y - own.y, inner.w, inner.h, False, False)
    data = rgn[inner.x - own.x : inner.right - own.x, inner.y - own.y : inner.bottom - own.y]
    if inner == rect:
        return data
    out = bytearray(rect.area * bpp)
    span, left = inner.w * bpp, (inner.x - rect.x) * bpp
    for row in range(inner.h):
        start = ((inner.y - rect.y + row) * rect.w) * bpp + left
        out[start : start + span] = data[row * span : (row + 1) * span]
    return bytes(out)


def _alpha(rgba: bytes, itemsize: int) -> bytes:
    """The u8 alpha plane of a layer's perceptual RGBA (u8, or little-endian u16: its high byte)."""
    return rgba[4 * itemsize - 1 :: 4 * itemsize]


def _write(drawable: Any, data: bytes) -> None:
    """All of a drawable's pixels at once, then pushed to GIMP."""
    rgn = drawable.get_pixel_rgn(0, 0, drawable.width, drawable.height, True, False)
    rgn[0 : drawable.width, 0 : drawable.height] = data
    drawable.flush()
    drawable.update(0, 0, drawable.width, drawable.height)
