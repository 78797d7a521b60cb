"""An in-memory stand-in for Krita's `krita` module: the part of the API the plugin uses, with Krita's pixel layouts
(BGRA for 8/16-bit integers, RGBA for floats, little-endian), its node tree and an undo log of node additions.

`Document(..., transparency_masks=True)` behaves like Krita 5.2+ (`createTransparencyMask`), False like 5.1.
Written for small test images: it works pixel by pixel, which is fine here and would not be in a plugin.
"""
from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import Any, Callable

import fake_qt

ITEM = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}
_CODE = {"U8": "B", "U16": "H", "F16": "e", "F32": "f"}


class QRect:
    def __init__(self, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> None:
        self._r = (x, y, w, h)

    def x(self) -> int:
        return self._r[0]

    def y(self) -> int:
        return self._r[1]

    def width(self) -> int:
        return self._r[2]

    def height(self) -> int:
        return self._r[3]


class _Plane:
    """Pixels of `size` bytes each on an unbounded canvas, default zero (transparent / unselected)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pixels: dict[tuple[int, int], bytes] = {}

    def write(self, data: bytes, x: int, y: int, w: int, h: int) -> None:
        data = bytes(data)
        assert len(data) >= w * h * self.size, "not enough data"
        zero = bytes(self.size)
        for row in range(h):
            for col in range(w):
                i = (row * w + col) * self.size
                px = data[i : i + self.size]
                if px == zero:
                    self.pixels.pop((x + col, y + row), None)
                else:
                    self.pixels[(x + col, y + row)] = px

    def read(self, x: int, y: int, w: int, h: int) -> bytes:
        zero = bytes(self.size)
        get = self.pixels.get
        return b"".join(get((x + col, y + row), zero) for row in range(h) for col in range(w))

    def bbox(self, keep: Callable[[bytes], bool] = lambda px: True) -> QRect:
        points = [p for p, px in self.pixels.items() if keep(px)]
        if not points:
            return QRect()
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return QRect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


class Selection:
    def __init__(self) -> None:
        self._plane = _Plane(1)

    def _box(self) -> QRect:
        return self._plane.bbox()

    def x(self) -> int:
        return self._box().x()

    def y(self) -> int:
        return self._box().y()

    def width(self) -> int:
        return self._box().width()

    def height(self) -> int:
        return self._box().height()

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        return self._plane.read(x, y, w, h)

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> None:
        self._plane.write(data, x, y, w, h)

    def select(self, x: int, y: int, w: int, h: int, value: int) -> None:
        self._plane.write(bytes([value]) * (w * h), x, y, w, h)

    def duplicate(self) -> "Selection":
        copy = Selection()
        copy._plane.pixels = dict(self._plane.pixels)
        return copy

    def _combine(self, other: "Selection", op: Callable[[int, int], int]) -> None:
        keys = set(self._plane.pixels) | set(other._plane.pixels)
        for key in keys:
            a = self._plane.pixels.get(key, b"\0")[0]
            b = other._plane.pixels.get(key, b"\0")[0]
            value = op(a, b)
            if value:
                self._plane.pixels[key] = bytes([value])
            else:
                self._plane.pixels.pop(key, None)

    def add(self, other: "Selection") -> None:
        self._combine(other, max)

    def subtract(self, other: "Selection") -> None:
        self._combine(other, lambda a, b: a * (255 - b) // 255)

    def replace(self, other: "Selection") -> None:
        self._plane.pixels = dict(other._plane.pixels)


def _to_unit(px: bytes, depth: str, linear: bool) -> list[float]:
    """One pixel -> [r, g, b, a] floats, sRGB-encoded."""
    values = list(struct.unpack("<4" + _CODE[depth], px))
    if depth in ("U8", "U16"):
        top = 255 if depth == "U8" else 65535
        b, g, r, a = (v / top for v in values)
        values = [r, g, b, a]
    if linear:
        values = [_encode(v) for v in values[:3]] + values[3:]
    return values


def _from_unit(values: list[float], depth: str, linear: bool) -> bytes:
    if linear:
        values = [_decode(v) for v in values[:3]] + values[3:]
    if depth in ("U8", "U16"):
        top = 255 if depth == "U8" else 65535
        r, g, b, a = (int(round(min(max(v, 0.0), 1.0) * top)) for v in values)
        return struct.pack("<4" + _CODE[depth], b, g, r, a)
    return struct.pack("<4" + _CODE[depth], *values)


def _encode(v: float) -> float:
    return 12.92 * v if v <= 0.0031308 else 1.055 * max(v, 0.0) ** (1 / 2.4) - 0.055


def _decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _is_linear(profile: str) -> bool:
    return "g10" in profile or "linear" in profile.lower()


_IDS = itertools.count(1)


class _Uuid:
    """QUuid, as far as the plugin uses it."""

    def __init__(self, text: str) -> None:
        self._text = text

    def toString(self) -> str:
        return self._text


class Node:
    def __init__(self, doc: "Document", name: str, kind: str) -> None:
        self.doc = doc
        self._name = name
        self._type = kind
        self.space = (doc.model, doc.depth, doc.profile)
        self._pixels = _Plane(4 * ITEM[doc.depth])
        self._parent: Node | None = None
        self._children: list[Node] = []
        self._blending = "normal"
        self.visible = True
        self._id = _Uuid(f"{{node-{next(_IDS)}}}")

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def name(self) -> str:
        return self._name

    def uniqueId(self) -> "_Uuid":
        return self._id

    def setName(self, name: str) -> None:
        self._name = name

    def type(self) -> str:
        return self._type

    def colorModel(self) -> str:
        return self.space[0]

    def colorDepth(self) -> str:
        return self.space[1]

    def colorProfile(self) -> str:
        return self.space[2]

    def setColorSpace(self, model: str, depth: str, profile: str) -> bool:
        old_model, old_depth, old_profile = self.space
        plane = _Plane(4 * ITEM[depth])
        for key, px in self._pixels.pixels.items():
            plane.pixels[key] = _from_unit(_to_unit(px, old_depth, _is_linear(old_profile)), depth, _is_linear(profile))
        self._pixels = plane
        self.space = (model, depth, profile)
        self.doc.conversions.append((self._name, (old_model, old_depth, old_profile), self.space))
        return True

    def bounds(self) -> QRect:
        item = ITEM[self.space[1]]
        return self._pixels.bbox(lambda px: any(px[3 * item : 4 * item]))

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:
        if self._type not in ("paintlayer",):
            return b""  # like Krita 5.1 for masks and groups
        return self._pixels.read(x, y, w, h)

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> None:
        if self._type == "paintlayer":
            self._pixels.write(data, x, y, w, h)

    def parentNode(self) -> "Node | None":
        return self._parent

    def childNodes(self) -> list["Node"]:
        return list(self._children)

    def addChildNode(self, child: "Node", above: "Node | None") -> bool:
        index = len(self._children) if above is None else self._children.index(above) + 1
        self._children.insert(index, child)
        child._parent = self
        if self.attached():
            self.doc.undo_steps.append(child)
        return True

    def remove(self) -> bool:
        if self._parent is None:
            return False
        self._parent._children.remove(self)
        self._parent = None
        return True

    def attached(self) -> bool:
        node: Node | None = self
        while node is not None:
            if node is self.doc.root:
                return True
            node = node._parent
        return False

    def blendingMode(self) -> str:
        return self._blending

    def setBlendingMode(self, mode: str) -> None:
        self._blending = mode


class SelectionMask(Node):
    def __init__(self, doc: "Document", name: str, kind: str = "selectionmask") -> None:
        super().__init__(doc, name, kind)
        self._selection = Selection()

    def selection(self) -> Selection:
        return self._selection.duplicate()

    def setSelection(self, selection: Selection) -> None:
        self._selection = selection.duplicate()


class TransparencyMask(SelectionMask):
    def __init__(self, doc: "Document", name: str) -> None:
        super().__init__(doc, name, "transparencymask")


class Document:
    def __init__(self, width: int, height: int, name: str = "doc", model: str = "RGBA", depth: str = "U8",
                 profile: str = "sRGB-elle-V2-srgbtrc.icc", transparency_masks: bool = True) -> None:
        self._width, self._height, self._name = width, height, name
        self.model, self.depth, self.profile = model, depth, profile
        self.root = Node(self, "root", "grouplayer")
        self._active: Node | None = None
        self._selection: Selection | None = None
        # an added node, the space before a conversion, or the selection before a selection action
        self.undo_steps: list[Node | tuple[str, str, str] | SelectionChange] = []
        self.conversions: list[tuple[str, tuple, tuple]] = []
        self.annotations: dict[str, bytes] = {}
        self.refreshes = 0  # refreshProjection calls
        self.closed = False
        if transparency_masks:
            self.createTransparencyMask = lambda name: TransparencyMask(self, name)
        background = Node(self, "Background", "paintlayer")
        self.root._children.append(background)
        background._parent = self.root
        self._active = background

    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height

    def name(self) -> str:
        return self._name

    def colorModel(self) -> str:
        return self.model

    def colorDepth(self) -> str:
        return self.depth

    def colorProfile(self) -> str:
        return self.profile

    def rootNode(self) -> Node:
        return self.root

    def topLevelNodes(self) -> list[Node]:
        return self.root.childNodes()

    def activeNode(self) -> Node | None:
        return self._active

    def setActiveNode(self, node: Node) -> None:
        self._active = node

    def selection(self) -> Selection | None:
        return None if self._selection is None else self._selection.duplicate()

    def setSelection(self, selection: Selection | None) -> None:
        self._selection = None if selection is None else selection.duplicate()

    def createNode(self, name: str, kind: str) -> Node:
        return Node(self, name, kind)

    def createGroupLayer(self, name: str) -> Node:
        return Node(self, name, "grouplayer")

    def createSelectionMask(self, name: str) -> SelectionMask:
        return SelectionMask(self, name)

    def nodeByName(self, name: str) -> Node | None:
        def walk(node: Node) -> Node | None:
            for child in node._children:
                if child._name == name:
                    return child
                found = walk(child)
                if found is not None:
                    return found
            return None

        return walk(self.root)

    def waitForDone(self) -> None:
        pass

    def refreshProjection(self) -> None:
        self.refreshes += 1

    def setColorSpace(self, model: str, depth: str, profile: str) -> bool:
        """Image > Convert Image Color Space: every layer follows; one undo step of its own."""
        self.undo_steps.append((self.model, self.depth, self.profile))
        self._convert(model, depth, profile)
        return True

    def _convert(self, model: str, depth: str, profile: str) -> None:
        self.model, self.depth, self.profile = model, depth, profile

        def walk(node: Node) -> None:
            for child in node._children:
                child.space = (model, depth, profile)
                walk(child)

        walk(self.root)

    def setAnnotation(self, kind: str, description: str, data: bytes) -> None:
        self.annotations[kind] = bytes(data)

    def annotation(self, kind: str) -> bytes:
        return self.annotations.get(kind, b"")

    def setModified(self, modified: bool) -> None:
        pass

    def close(self) -> bool:
        self.closed = True
        Krita.instance()._documents.remove(self)
        return True

    def undo(self) -> None:
        """What Krita's Edit > Undo does to the last node addition, image conversion or selection action."""
        step = self.undo_steps.pop()
        if isinstance(step, Node):
            step.remove()
        elif isinstance(step, SelectionChange):
            self._selection = step.previous
        elif isinstance(step, PixelChange):
            step.node._pixels.pixels = step.previous
        else:
            self._convert(*step)


@dataclass
class SelectionChange:
    """An undo step of a selection action (Document.setSelection records none)."""

    previous: "Selection | None"


@dataclass
class PixelChange:
    """An undo step of a fill action on a paint layer (Node.setPixelData records none)."""

    node: "Node"
    previous: dict


class Action:
    """Krita's built-in actions the plugin triggers: Select Opaque on a selection mask selects what the mask holds;
    Fill with Foreground Color paints the view's foreground (an 8-bit RGBA paint layer) where the selection is."""

    NAMES = ("selectopaque", "fill_selection_foreground_color")

    def __init__(self, krita: "Krita", name: str) -> None:
        self._krita, self.name = krita, name

    def trigger(self) -> None:
        doc = self._krita.activeDocument()
        node = doc.activeNode() if doc is not None else None
        if self.name == "selectopaque" and node is not None and node.type() == "selectionmask":
            doc.undo_steps.append(SelectionChange(doc._selection))
            doc.setSelection(node.selection())
        if self.name == "fill_selection_foreground_color" and node is not None and node.type() == "paintlayer":
            selection, color = doc.selection(), self._krita.foreground
            doc.undo_steps.append(PixelChange(node, dict(node._pixels.pixels)))
            for y in range(doc.height()):
                for x in range(doc.width()):
                    if selection is None or selection.pixelData(x, y, 1, 1) != b"\0":
                        node.setPixelData(bytes([color[2], color[1], color[0], 255]), x, y, 1, 1)


class Notifier:
    class _Signal:
        def connect(self, slot: Any) -> None:
            pass

    applicationClosing = _Signal()


class Krita:
    _instance: "Krita | None" = None

    def __init__(self) -> None:
        self._documents: list[Document] = []
        self._active: Document | None = None
        self.settings: dict[tuple[str, str], str] = {}
        self.extensions: list[Any] = []
        self.docker_factories: list[Any] = []
        self.foreground = (255, 128, 0)  # the view's foreground color, RGB
        self.window: Window | None = Window(self)

    @classmethod
    def instance(cls) -> "Krita":
        if cls._instance is None:
            cls._instance = Krita()
        return cls._instance

    @classmethod
    def reset(cls) -> "Krita":
        cls._instance = Krita()
        return cls._instance

    def version(self) -> str:
        return "5.2.0-fake"

    def createDocument(self, width: int, height: int, name: str, model: str, depth: str, profile: str,
                       resolution: float) -> Document:
        doc = Document(width, height, name, model, depth, profile or "sRGB-elle-V2-srgbtrc.icc")
        self._documents.append(doc)
        return doc

    def add_document(self, doc: Document) -> Document:
        """Test helper: open `doc` and make it the active one."""
        self._documents.append(doc)
        self._active = doc
        return doc

    def documents(self) -> list[Document]:
        return list(self._documents)

    def activeDocument(self) -> Document | None:
        return self._active

    def readSetting(self, group: str, name: str, default: str) -> str:
        return self.settings.get((group, name), default)

    def writeSetting(self, group: str, name: str, value: str) -> None:
        self.settings[(group, name)] = value

    def notifier(self) -> Notifier:
        return Notifier()

    def addExtension(self, extension: Any) -> None:
        self.extensions.append(extension)

    def addDockWidgetFactory(self, factory: Any) -> None:
        self.docker_factories.append(factory)

    def action(self, name: str) -> Action | None:
        return Action(self, name) if name in Action.NAMES else None

    def activeWindow(self) -> "Window | None":
        return self.window


# --- what the extension and the docker derive from (enough to build the docker on fake_qt's widgets) ---------------


class Window:
    """The main window: its active view shows the active document."""

    def __init__(self, krita: "Krita | None" = None) -> None:
        self._krita = krita

    def activeView(self) -> "View | None":
        doc = None if self._krita is None else self._krita.activeDocument()
        return None if doc is None else View(self._krita, doc)


class ManagedColor:
    def __init__(self, rgb: tuple[int, int, int]) -> None:
        self._rgb = rgb

    def colorForCanvas(self, canvas: object) -> "ManagedColor":
        """The QColor a canvas shows (the fake's QColor is the color itself: it has name())."""
        return self

    def name(self) -> str:
        return "#" + "".join(f"{c:02x}" for c in self._rgb)


class View:
    def __init__(self, krita: "Krita", doc: Document) -> None:
        self._krita, self._doc = krita, doc

    def document(self) -> Document:
        return self._doc

    def foregroundColor(self) -> ManagedColor:
        return ManagedColor(self._krita.foreground)

    def canvas(self) -> object:
        return object()


class Extension:
    def __init__(self, parent: Any) -> None:
        self.parent = parent


class DockWidget(fake_qt.QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.child: Any = None

    def setWindowTitle(self, title: str) -> None:
        self.title = title

    def setWidget(self, widget: Any) -> None:
        self.child = widget


class DockWidgetFactoryBase:
    DockRight = 2


class DockWidgetFactory(DockWidgetFactoryBase):
    def __init__(self, id: str, dockPosition: int, klass: type) -> None:
        self.id, self.position, self.klass = id, dockPosition, klass
