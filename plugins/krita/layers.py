"""New nodes, each built whole while detached and then added with one `addChildNode`: one undo step takes a result
away, and a failure half-way leaves the document untouched (a detached node is simply dropped).

Masks: Krita 5.2+ exposes `TransparencyMask.setSelection`, so a result gets a real transparency mask. Krita 5.1's
Python API cannot fill a transparency mask, so there the result becomes a group holding the pixels and, above
them, an editable mask layer composited with "destination-in" (paint it to show, erase it to hide): the same
non-destructive effect, still one undo step.
"""
from __future__ import annotations

from typing import Sequence

from krita import Document, Node, Selection

from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.pixels import rgba_from_mask
from chromaseg.plugins.krita.colorspace import Space
from chromaseg.plugins.krita.constants import NodeType

MASK_LAYER_NAME = "Mask (paint to show, erase to hide)"
PIXELS_LAYER_NAME = "Pixels"
MASK_BLENDING = "destination-in"
WHITE = (1.0, 1.0, 1.0)


def selection_from(mask: bytes, rect: Rect) -> Selection:
    """A Krita Selection holding the u8 `mask` of `rect`."""
    selection = Selection()
    selection.setPixelData(mask, rect.x, rect.y, rect.w, rect.h)
    return selection


def paint_layer(doc: Document, name: str, space: Space, rect: Rect, pixels: bytes) -> Node:
    """A detached paint layer in `space` holding `pixels` at `rect`."""
    layer = doc.createNode(name, NodeType.PAINT_LAYER.value)
    if Space.of(layer) != space:
        layer.setColorSpace(space.model, space.depth, space.profile)
    layer.setPixelData(pixels, rect.x, rect.y, rect.w, rect.h)
    return layer


def supports_transparency_masks(doc: Document) -> bool:
    """Whether this Krita's API can fill a transparency mask (5.2+)."""
    return hasattr(doc, "createTransparencyMask")


def masked_result(doc: Document, name: str, space: Space, rect: Rect, pixels: bytes, mask: bytes | None) -> Node:
    """The detached result node: a paint layer, with a transparency mask from `mask` (or the 5.1 group form)."""
    if mask is None:
        return paint_layer(doc, name, space, rect, pixels)
    if supports_transparency_masks(doc):
        layer = paint_layer(doc, name, space, rect, pixels)
        transparency = doc.createTransparencyMask("Selection")
        transparency.setSelection(selection_from(mask, rect))
        layer.addChildNode(transparency, None)
        return layer
    group = doc.createGroupLayer(name)
    group.addChildNode(paint_layer(doc, PIXELS_LAYER_NAME, space, rect, pixels), None)
    group.addChildNode(mask_layer(doc, space, rect, mask), None)  # added last = on top
    return group


def mask_layer(doc: Document, space: Space, rect: Rect, mask: bytes) -> Node:
    """White where `mask` is set, its alpha the mask: composited with destination-in it cuts out what is below."""
    layer = doc.createNode(MASK_LAYER_NAME, NodeType.PAINT_LAYER.value)
    if Space.of(layer) != space:
        layer.setColorSpace(space.model, space.depth, space.profile)
    layer.setPixelData(rgba_from_mask(mask, WHITE, space.pixel_format), rect.x, rect.y, rect.w, rect.h)
    layer.setBlendingMode(MASK_BLENDING)
    return layer


def selection_masks_group(doc: Document, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> Node:
    """A detached group holding one named selection mask per u8 mask (the artist clicks one to select it)."""
    group = doc.createGroupLayer(name)
    for mask_name, mask in masks:
        node = doc.createSelectionMask(mask_name)
        node.setSelection(selection_from(mask, rect))
        group.addChildNode(node, None)
    return group
