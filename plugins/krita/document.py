"""`KritaDocument`: the shared logic's `DocumentAdapter` for one Krita document and its active layer.

The source layer is captured when a command starts: the result goes above it even if the artist picks another layer
while the daemon works, and nothing ever writes to it.
"""
from __future__ import annotations

from typing import Sequence

from krita import Document, Krita, Node

from chromaseg.plugins.common.adapter import SelectionMode
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import HINT_LAYER_NAME
from chromaseg.plugins.common.pixels import PixelFormat
from chromaseg.plugins.krita import layers
from chromaseg.plugins.krita.colorspace import Space, check_supported, read_pixels, working_space

_MASK_TYPES = ("transparencymask", "selectionmask", "filtermask", "transformmask", "colorizemask")


class KritaDocument:
    """A Krita document and the layer the command works on."""

    def __init__(self, doc: Document, node: Node) -> None:
        if node.type() in _MASK_TYPES:
            raise PluginError(f"{node.name()!r} is a mask: select the layer itself in the Layers docker.")
        self.doc = doc
        self.node = node
        self._space: Space | None = None

    @classmethod
    def active(cls) -> "KritaDocument":
        """The active document and layer, or a PluginError saying what to open or select."""
        doc = Krita.instance().activeDocument()
        if doc is None:
            raise PluginError("Open an image first.")
        node = doc.activeNode()
        if node is None:
            raise PluginError("Select a layer in the Layers docker first.")
        return cls(doc, node)

    # --- reading ------------------------------------------------------------------------------------------------

    def layer_name(self) -> str:
        return self.node.name()

    def _working_space(self) -> Space:
        if self.node.name() == HINT_LAYER_NAME:
            raise PluginError(f"{HINT_LAYER_NAME!r} holds the color hints: select the layer to work on in the "
                              "Layers docker (the hints stay where they are).")
        if self._space is None:
            self._space = working_space(check_supported(self.node, "layer"))
        return self._space

    def pixel_format(self) -> PixelFormat:
        return self._working_space().pixel_format

    def canvas(self) -> Rect:
        return Rect(0, 0, self.doc.width(), self.doc.height())

    def layer_bounds(self) -> Rect:
        b = self.node.bounds()
        return Rect(b.x(), b.y(), b.width(), b.height()).intersect(self.canvas())

    def read_layer(self, rect: Rect) -> bytes:
        return read_pixels(self.node, rect, self._working_space())

    def selection_bounds(self) -> Rect | None:
        selection = self.doc.selection()
        if selection is None or selection.width() <= 0 or selection.height() <= 0:
            return None
        return Rect(selection.x(), selection.y(), selection.width(), selection.height())

    def read_selection(self, rect: Rect) -> bytes:
        selection = self.doc.selection()
        if selection is None:
            return bytes(rect.w * rect.h)
        return bytes(selection.pixelData(rect.x, rect.y, rect.w, rect.h))

    def hint_node(self) -> Node | None:
        """The "Color hints" layer, wherever it is in the layer stack."""
        node = self.doc.nodeByName(HINT_LAYER_NAME)
        return node if node is not None and node.type() == "paintlayer" else None

    def read_hints(self, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        hints = self.hint_node()
        if hints is None:
            return None
        space = working_space(check_supported(hints, "hint layer"))
        return read_pixels(hints, rect, space), space.pixel_format

    # --- writing: each one addChildNode of a node built while detached (one undo step, nothing half-done) ------

    def _add_above_source(self, node: Node) -> None:
        parent = self.node.parentNode()
        if parent is None or self.doc not in Krita.instance().documents():
            raise PluginError(f"The layer {self.node.name()!r} or its image was closed meanwhile; nothing was added.")
        if not parent.addChildNode(node, self.node):
            raise PluginError("Krita refused the new layer; nothing was added.")
        self.doc.waitForDone()

    def add_hint_layer(self) -> bool:
        if self.hint_node() is not None:
            return False
        layer = self.doc.createNode(HINT_LAYER_NAME, "paintlayer")
        self._add_above_source(layer)
        self.doc.setActiveNode(layer)
        return True

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        self._add_above_source(layers.masked_result(self.doc, name, self._working_space(), rect, pixels, mask))

    def add_segment_masks(self, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> None:
        self._add_above_source(layers.selection_masks_group(self.doc, name, rect, masks))

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        found = layers.selection_from(mask, rect)
        current = self.doc.selection()
        if mode is SelectionMode.REPLACE or current is None:
            if mode is SelectionMode.SUBTRACT:
                raise PluginError("There is no selection to subtract the object from.")
            self.doc.setSelection(found)
            return
        if mode is SelectionMode.ADD:
            current.add(found)
        else:
            current.subtract(found)
        self.doc.setSelection(current)
