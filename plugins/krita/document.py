"""`KritaDocument`: the shared logic's `DocumentAdapter` for one Krita document and its source layer.

The source layer is resolved when a command starts (`source.resolve`: the active layer, or the paint layer a hint,
result or segments layer belongs to) and kept: the result goes above it even if the artist picks another layer while
the daemon works, and nothing ever writes to it. Select Segment is the exception: it reads the active segment's
selection mask itself (`SourceRole.ACTIVE_SEGMENT`). Every write ends with the projection refreshed, so what was added
shows on the canvas at once.

A gray image is converted to RGB at its own depth right before the result (or hint layer) is added: colors cannot
show in a gray image. Krita's Python API has no undo macro, so that conversion is an undo step of its own, just below
the result's: one undo takes the result away, a second one returns the image to gray.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from krita import Document, Krita, Node
from PyQt5.QtCore import QCoreApplication, QEventLoop

from chromaseg.plugins.common import naming
from chromaseg.plugins.common.adapter import SelectionMode, SourceRole
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat
from chromaseg.plugins.krita import layers, source
from chromaseg.plugins.krita.colorspace import (
    Space,
    check_supported,
    read_pixels,
    rgb_at_depth_of,
    working_space,
)
from chromaseg.plugins.krita.constants import MASK_TYPES, NodeType


SELECT_OPAQUE = "selectopaque"  # Krita's Select > Select Opaque (Replace) action
FILL_FOREGROUND = "fill_selection_foreground_color"  # Krita's Edit > Fill with Foreground Color action
ACTIVATE_WAIT_S = 2.0  # at most this long for Krita to make a requested layer the active one
_PAINTED_NAMES = {kind.value for kind in PaintedLayer}


class KritaDocument:
    """A Krita document and the layer the command works on."""

    def __init__(self, doc: Document, node: Node, role: SourceRole = SourceRole.PAINT_LAYER) -> None:
        if node.type() in MASK_TYPES and role is not SourceRole.ACTIVE_SEGMENT:
            raise PluginError(f"{node.name()!r} is a mask: select the layer itself in the Layers docker.")
        self.doc = doc
        self.node = node
        self._space: Space | None = None

    @classmethod
    def active(cls, role: SourceRole = SourceRole.PAINT_LAYER) -> "KritaDocument":
        """The active document and its source layer, or a PluginError saying what to open or select."""
        doc = Krita.instance().activeDocument()
        if doc is None:
            raise PluginError("Open an image first.")
        node = doc.activeNode()
        if node is None:
            raise PluginError("Select a layer in the Layers docker first.")
        return cls(doc, source.resolve(doc, node, role), role)

    # --- reading ------------------------------------------------------------------------------------------------

    def layer_name(self) -> str:
        return self.node.name()

    def _working_space(self) -> Space:
        if self.node.name() in _PAINTED_NAMES:
            raise PluginError(f"{self.node.name()!r} holds prompts painted for another layer: select the layer to "
                              "work on in the Layers docker (the painted prompts stay where they are).")
        if self._space is None:
            self._space = working_space(check_supported(self.node, "layer"))
        return self._space

    def pixel_format(self) -> PixelFormat:
        return self._working_space().pixel_format

    def conversion_note(self) -> str:
        space = Space.of(self.doc)
        if not space.is_gray:
            return ""
        return f"The gray image was converted to RGB ({space.depth}) so the colors show; undo twice to return to gray."

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

    def painted_node(self, kind: PaintedLayer) -> Node | None:
        """The "Color hints" or "Object clicks" layer, wherever it is in the layer stack."""
        node = self.doc.nodeByName(kind.value)
        return node if node is not None and node.type() == NodeType.PAINT_LAYER else None

    def painted_layer_name(self, kind: PaintedLayer) -> str:
        return kind.value

    def read_painted(self, kind: PaintedLayer, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        node = self.painted_node(kind)
        if node is None:
            return None
        space = working_space(check_supported(node, f"{kind.value!r} layer"))
        return read_pixels(node, rect, space), space.pixel_format

    def active_segment(self) -> tuple[str, Rect, bytes] | None:
        """A selection mask in a segments group is a segment: its mask is the mask's own selection (`Node.pixelData`
        gives nothing for masks in Krita 5.1)."""
        parent = self.node.parentNode()
        if (self.node.type() != NodeType.SELECTION_MASK or parent is None
                or not parent.name().startswith(naming.SEGMENTS + naming.SEP)):
            return None
        selection = self.node.selection()
        rect = Rect(selection.x(), selection.y(), selection.width(), selection.height()).intersect(self.canvas())
        mask = b"" if rect.empty else bytes(selection.pixelData(rect.x, rect.y, rect.w, rect.h))
        return self.node.name(), rect, mask

    # --- writing: each one addChildNode of a node built while detached (one undo step, nothing half-done) ------

    def _add_above_source(self, build: Callable[[], Node], *, needs_rgb: bool) -> Node:
        """Build the node and add it above the source's newest result (a gray image is made RGB first when the node
        holds colors); the projection is refreshed so that it shows at once."""
        parent = self.node.parentNode()
        if parent is None or self.doc not in Krita.instance().documents():
            raise PluginError(f"The layer {self.node.name()!r} or its image was closed meanwhile; nothing was added.")
        gray = Space.of(self.doc)
        converted = needs_rgb and gray.is_gray
        if converted:
            rgb = rgb_at_depth_of(gray)
            if not self.doc.setColorSpace(rgb.model, rgb.depth, rgb.profile):
                raise PluginError("Krita could not convert the gray image to RGB; nothing was added.")
            self.doc.waitForDone()
        node = build()
        if not parent.addChildNode(node, self._newest_result(parent)):
            if converted:
                self.doc.setColorSpace(gray.model, gray.depth, gray.profile)
            raise PluginError("Krita refused the new layer; nothing was added.")
        self._show()
        return node

    def _newest_result(self, parent: Node) -> Node:
        """The topmost sibling made from the source, or the source itself: new results go above it."""
        siblings = parent.childNodes()
        source_at = next((i for i, node in enumerate(siblings) if node == self.node), 0)
        made = [node for node in siblings[source_at + 1 :] if naming.derived_from(node.name(), self.node.name())]
        return made[-1] if made else self.node

    def _show(self) -> None:
        """Wait for Krita to apply the change, then recompute the image the canvas shows."""
        self.doc.waitForDone()
        self.doc.refreshProjection()
        self.doc.waitForDone()

    def add_painted_layer(self, kind: PaintedLayer) -> bool:
        if self.painted_node(kind) is not None:
            return False
        layer = self._add_above_source(lambda: self.doc.createNode(kind.value, NodeType.PAINT_LAYER.value),
                                       needs_rgb=True)  # colors, even a red dot, cannot show in a gray image
        source.remember_painted_source(self.doc, kind, self.node)
        self._make_active(layer)  # ready to paint on; the artist can still pick another layer
        return True

    def paint_hint_at_selection(self) -> str:
        """Krita's own Fill with Foreground Color on the hint layer: an undo step of its own (Node.setPixelData
        records none). Refused, with nothing written, when the hint layer could not be made the active layer, so
        the fill can never land on another layer."""
        view = Krita.instance().activeWindow().activeView() if Krita.instance().activeWindow() else None
        action = Krita.instance().action(FILL_FOREGROUND)
        if view is None or view.document() != self.doc or action is None:
            raise PluginError("Add hint at selection needs the image open in a view with Krita's Fill with "
                              "Foreground Color; paint the hint with a brush instead.")
        self.add_painted_layer(PaintedLayer.HINTS)
        hints = self.painted_node(PaintedLayer.HINTS)
        if hints is None or not self._make_active(hints):
            raise PluginError(f"Krita did not make {PaintedLayer.HINTS.value!r} the active layer; nothing was "
                              "painted. Select it in the Layers docker and try again.")
        action.trigger()
        self._show()
        return view.foregroundColor().colorForCanvas(view.canvas()).name()

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        space = self._working_space()
        self._add_above_source(lambda: layers.masked_result(self.doc, name, space, rect, pixels, mask), needs_rgb=True)

    def add_segment_masks(self, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> None:
        self._add_above_source(lambda: layers.selection_masks_group(self.doc, name, rect, masks), needs_rgb=False)

    def select_active_segment(self, rect: Rect, mask: bytes) -> None:
        """Krita's own Select Opaque on the active segment mask: unlike `Document.setSelection` (which Krita 5.1 does
        not record), it is an undo step, so one Undo gives the previous selection back. The API's way when the
        action is missing."""
        action = Krita.instance().action(SELECT_OPAQUE)
        if action is None:
            self.set_selection(rect, mask, SelectionMode.REPLACE)
            return
        action.trigger()
        self._show()

    def _make_active(self, node: Node) -> bool:
        """Krita applies `setActiveNode` through its event loop (and can drop a request): ask again and let the loop
        run until the node is the active one, for at most ACTIVATE_WAIT_S."""
        deadline = time.monotonic() + ACTIVATE_WAIT_S
        while True:
            self.doc.setActiveNode(node)
            if self.doc.activeNode() == node:
                return True
            if time.monotonic() > deadline:
                return False
            QCoreApplication.processEvents(QEventLoop.AllEvents, 50)

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        found = layers.selection_from(mask, rect)
        current = self.doc.selection()
        if mode is SelectionMode.REPLACE or current is None:
            if mode is SelectionMode.SUBTRACT:
                raise PluginError("There is no selection to subtract the object from.")
            self.doc.setSelection(found)
        else:
            if mode is SelectionMode.ADD:
                current.add(found)
            else:
                current.subtract(found)
            self.doc.setSelection(current)
        self._show()
