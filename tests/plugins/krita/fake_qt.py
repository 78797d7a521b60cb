"""A stand-in for the few PyQt5 classes the docker and the extension use: widgets that keep their state (ranges,
steps, values, texts) and signals that call their slots, with Qt's rules where the plugin relies on them (a spin box
clamps and rounds its value and signals only a change; blockSignals silences a widget), so the docker runs without
Qt. QImage and QPixmap keep their pixels' bytes and size, so a test can tell which image a label shows. `install()`
puts it in sys.modules as PyQt5.QtCore, PyQt5.QtGui and PyQt5.QtWidgets."""
from __future__ import annotations

import sys
import types
from typing import Any, Callable

single_shots: list[Callable[[], None]] = []  # what QTimer.singleShot was asked to run (the test runs it, or not)


class Signal:
    def __init__(self, owner: "QWidget | None" = None) -> None:
        self._owner = owner
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        self._slots.append(slot)

    def emit(self, *args: Any) -> None:
        if self._owner is not None and self._owner.signalsBlocked():
            return
        for slot in list(self._slots):
            slot(*args)


class QWidget:
    def __init__(self, *_parent: Any) -> None:
        self._tip = ""
        self._enabled = True
        self._blocked = False
        self._hidden = False

    def setToolTip(self, tip: str) -> None:
        self._tip = tip

    def toolTip(self) -> str:
        return self._tip

    def setEnabled(self, enabled: bool) -> None:
        self._enabled = bool(enabled)

    def isEnabled(self) -> bool:
        return self._enabled

    def isVisible(self) -> bool:
        return False  # never shown: the docker refreshes its status only while it has none

    def setVisible(self, visible: bool) -> None:
        self._hidden = not visible

    def isHidden(self) -> bool:
        return self._hidden

    def blockSignals(self, block: bool) -> bool:
        previous, self._blocked = self._blocked, bool(block)
        return previous

    def signalsBlocked(self) -> bool:
        return self._blocked


class _Text(QWidget):
    SIGNAL = ""  # the one signal a text widget emits, e.g. "clicked" (none when empty)

    def __init__(self, text: str = "", *_parent: Any) -> None:
        super().__init__()
        self._text = text
        if self.SIGNAL:
            setattr(self, self.SIGNAL, Signal(self))

    def setText(self, text: str) -> None:
        self._text = text

    def text(self) -> str:
        return self._text


class QGroupBox(_Text):
    pass


class QLabel(_Text):
    def __init__(self, text: str = "", *_parent: Any) -> None:
        super().__init__(text)
        self._pixmap: QPixmap | None = None

    def setWordWrap(self, on: bool) -> None:
        pass

    def setAlignment(self, _alignment: int) -> None:
        pass

    def setPixmap(self, pixmap: "QPixmap") -> None:
        self._pixmap = pixmap

    def pixmap(self) -> "QPixmap | None":
        return self._pixmap


class Qt:
    AlignCenter = 0x84
    IgnoreAspectRatio = 0
    SmoothTransformation = 1


class QImage:
    """Pixels Qt reads from `data` (not copied: QPixmap.fromImage copies them)."""

    Format_RGBA8888 = 17

    def __init__(self, data: bytes, width: int, height: int, bytes_per_line: int, fmt: int) -> None:
        if fmt != self.Format_RGBA8888 or bytes_per_line != 4 * width or len(data) != bytes_per_line * height:
            raise ValueError("the fake QImage takes packed RGBA8888 rows")
        self.data, self._w, self._h = data, width, height

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h


class QPixmap:
    """A copy of an image's pixels (`data`, at the image's size) shown at `width()` x `height()`."""

    def __init__(self, data: bytes, source_size: tuple[int, int], width: int, height: int) -> None:
        self.data, self.source_size, self._w, self._h = data, source_size, width, height

    @staticmethod
    def fromImage(image: QImage) -> "QPixmap":
        return QPixmap(bytes(image.data), (image.width(), image.height()), image.width(), image.height())

    def scaled(self, width: int, height: int, *_modes: int) -> "QPixmap":
        return QPixmap(self.data, self.source_size, width, height)

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h


class QLineEdit(_Text):
    SIGNAL = "editingFinished"

    def setPlaceholderText(self, text: str) -> None:
        pass


class QPushButton(_Text):
    SIGNAL = "clicked"

    def __init__(self, text: str = "", *_parent: Any) -> None:
        super().__init__(text)
        self._checkable = self._checked = False
        self.toggled = Signal(self)

    def setCheckable(self, checkable: bool) -> None:
        self._checkable = bool(checkable)

    def setChecked(self, checked: bool) -> None:
        if self._checkable and bool(checked) != self._checked:
            self._checked = bool(checked)
            self.toggled.emit(self._checked)

    def isChecked(self) -> bool:
        return self._checked

    def click(self) -> None:
        """As the artist's click: nothing on a disabled button; a checkable one toggles first, then it signals."""
        if not self.isEnabled():
            return
        if self._checkable:
            self.setChecked(not self._checked)
        self.clicked.emit(self._checked)


class QCheckBox(_Text):
    SIGNAL = "toggled"

    def __init__(self, text: str = "", *_parent: Any) -> None:
        super().__init__(text)
        self._checked = False

    def setChecked(self, checked: bool) -> None:
        if bool(checked) != self._checked:
            self._checked = bool(checked)
            self.toggled.emit(self._checked)

    def isChecked(self) -> bool:
        return self._checked


class QComboBox(QWidget):
    """Items of (text, data); Qt's rules: the first item added to an empty box becomes current, and a change of the
    current index signals currentIndexChanged."""

    def __init__(self, *_parent: Any) -> None:
        super().__init__()
        self._items: list[tuple[str, Any]] = []
        self._current = -1
        self.currentIndexChanged = Signal(self)

    def addItem(self, text: str, data: Any = None) -> None:
        self._items.append((text, data))
        if self._current < 0:
            self.setCurrentIndex(0)

    def clear(self) -> None:
        self._items = []
        self.setCurrentIndex(-1)

    def count(self) -> int:
        return len(self._items)

    def itemText(self, index: int) -> str:
        return self._items[index][0]

    def itemData(self, index: int) -> Any:
        return self._items[index][1]

    def findData(self, data: Any) -> int:
        return next((i for i, (_, d) in enumerate(self._items) if d == data), -1)

    def setCurrentIndex(self, index: int) -> None:
        if index != self._current:
            self._current = index
            self.currentIndexChanged.emit(index)

    def currentIndex(self) -> int:
        return self._current

    def currentData(self) -> Any:
        return None if self._current < 0 else self._items[self._current][1]

    def currentText(self) -> str:
        return "" if self._current < 0 else self._items[self._current][0]


class QSpinBox(QWidget):
    def __init__(self, *_parent: Any) -> None:
        super().__init__()
        self._min, self._max, self._step, self._value = 0, 99, 1, 0
        self.valueChanged = Signal(self)

    def setRange(self, lo: Any, hi: Any) -> None:
        self._min, self._max = lo, hi
        self._value = min(max(self._value, lo), hi)

    def minimum(self) -> Any:
        return self._min

    def maximum(self) -> Any:
        return self._max

    def setSingleStep(self, step: Any) -> None:
        self._step = step

    def singleStep(self) -> Any:
        return self._step

    def setValue(self, value: Any) -> None:
        value = self._fit(min(max(value, self._min), self._max))
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    def value(self) -> Any:
        return self._value

    def _fit(self, value: Any) -> Any:
        return int(value)


class QDoubleSpinBox(QSpinBox):
    def __init__(self, *_parent: Any) -> None:
        super().__init__()
        self._min, self._max, self._step, self._value, self._decimals = 0.0, 99.99, 1.0, 0.0, 2

    def setDecimals(self, decimals: int) -> None:
        self._decimals = decimals

    def _fit(self, value: Any) -> float:
        return round(float(value), self._decimals)


class QProgressBar(QSpinBox):
    pass


class QScrollArea(QWidget):
    VIEWPORT_WIDTH = 300  # px, as a docker beside Krita's canvas

    def viewport(self) -> QWidget:
        viewport = QWidget()
        viewport.width = lambda: self.VIEWPORT_WIDTH  # type: ignore[method-assign]
        return viewport

    def setWidgetResizable(self, resizable: bool) -> None:
        self.resizable = resizable

    def setWidget(self, widget: Any) -> None:
        self.content = widget


class _Layout:
    def __init__(self, *_parent: Any) -> None:
        self.items: list[tuple[Any, ...]] = []

    def addRow(self, *items: Any) -> None:
        self.items.append(items)

    def addWidget(self, widget: Any, *_where: Any) -> None:
        self.items.append((widget,))

    def addLayout(self, layout: Any, *_where: Any) -> None:
        self.items.append((layout,))

    def addStretch(self, *_stretch: Any) -> None:
        pass

    def setContentsMargins(self, *_margins: Any) -> None:
        pass

    def setVerticalSpacing(self, _spacing: int) -> None:
        pass

    def setSpacing(self, _spacing: int) -> None:
        pass


class QFormLayout(_Layout):
    pass


class QGridLayout(_Layout):
    pass


class QHBoxLayout(_Layout):
    pass


class QVBoxLayout(_Layout):
    pass


class QTimer:
    def __init__(self, *_parent: Any) -> None:
        self.timeout = Signal()
        self.interval: int | None = None

    def start(self, interval_ms: int) -> None:
        self.interval = interval_ms

    def stop(self) -> None:
        self.interval = None

    @staticmethod
    def singleShot(_ms: int, slot: Callable[[], None]) -> None:
        single_shots.append(slot)


class QEventLoop:
    AllEvents = 0


class QCoreApplication:
    """Krita's event loop; the fake applies everything at once, so there is nothing to process."""

    @staticmethod
    def processEvents(*_flags: Any) -> None:
        pass


class QMenu(QWidget):
    pass


class QMenuBar(QWidget):
    pass


def install() -> None:
    """Make `from PyQt5.QtCore / PyQt5.QtWidgets import ...` find these (unless a PyQt5 is imported already)."""
    this = sys.modules[__name__]
    package = types.ModuleType("PyQt5")
    package.QtCore = package.QtGui = package.QtWidgets = this  # type: ignore[attr-defined]
    for name, module in (("PyQt5", package), ("PyQt5.QtCore", this), ("PyQt5.QtGui", this),
                         ("PyQt5.QtWidgets", this)):
        sys.modules.setdefault(name, module)
