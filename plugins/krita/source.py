"""Which layer a command works on: the active one, unless it is a layer the plugin made. The hint and clicks layers
lead to the paint layer they were made for (remembered in a document annotation when each was made), a result or segments layer to
the layer it was made from (its name says which, see `common.naming`), so an artist never has to pick the photo
again after painting hints or looking at a result."""
from __future__ import annotations

from typing import Callable

from krita import Document, Node

from chromaseg.plugins.common import naming
from chromaseg.plugins.common.adapter import SourceRole
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.krita.constants import NodeType

# the annotation types; each one's data is the uniqueId of the layer the painted layer is for
SOURCE_ANNOTATIONS = {PaintedLayer.HINTS: "chromaseg-hint-source", PaintedLayer.CLICKS: "chromaseg-clicks-source"}
_PAINTED = {kind.value: kind for kind in PaintedLayer}


def remember_painted_source(doc: Document, kind: PaintedLayer, source: Node) -> None:
    """Record that the hint or clicks layer is painted for `source` (kept in the document, saved with it)."""
    doc.setAnnotation(SOURCE_ANNOTATIONS[kind], f"chromaseg: the layer the {kind.value.lower()} are for",
                      _node_id(source).encode())


def resolve(doc: Document, active: Node, role: SourceRole) -> Node:
    """The layer the command works on when `active` is the active layer (see the module's docstring)."""
    if role is SourceRole.ACTIVE_SEGMENT:
        return active  # Select Segment reads the active segment's mask itself
    parent = active.parentNode()
    if parent is not None and parent.parentNode() is not None and naming.made_by_plugin(parent.name()):
        active = parent  # a layer or mask inside a result or segments layer (a segment's mask) stands for it
    if active.name() in _PAINTED:
        return _painted_source(doc, _PAINTED[active.name()], active) or active
    keep_result = role is SourceRole.ACTIVE_RESULT and not active.name().startswith(naming.SEGMENTS + naming.SEP)
    if naming.made_by_plugin(active.name()) and not keep_result:
        return _origin(active) or active
    return active


def _node_id(node: Node) -> str:
    return node.uniqueId().toString()


def _painted_source(doc: Document, kind: PaintedLayer, painted: Node) -> Node | None:
    """The remembered source when it is still in the document, else the nearest own paint layer below."""
    remembered = bytes(doc.annotation(SOURCE_ANNOTATIONS[kind]) or b"").decode(errors="replace")
    if remembered:
        found = _find(doc.rootNode(), lambda node: _node_id(node) == remembered)
        if found is not None:
            return found
    return next((node for node in _below(painted) if node.type() == NodeType.PAINT_LAYER
                 and node.name() not in _PAINTED and not naming.made_by_plugin(node.name())), None)


def _origin(result: Node) -> Node | None:
    """The layer below `result` (same parent) that `result` was made from, followed back to one the artist made."""
    return next((node for node in _below(result) if naming.derived_from(result.name(), node.name())
                 and not naming.made_by_plugin(node.name())), None)


def _below(node: Node) -> list[Node]:
    """`node`'s siblings under it, nearest first."""
    parent = node.parentNode()
    siblings = [] if parent is None else parent.childNodes()
    index = next((i for i, sibling in enumerate(siblings) if sibling == node), 0)
    return list(reversed(siblings[:index]))


def _find(root: Node, match: Callable[[Node], bool]) -> Node | None:
    for child in root.childNodes():
        if match(child):
            return child
        found = _find(child, match)
        if found is not None:
            return found
    return None
