"""The process's one `Controller`, shared by the menu and every window's docker, and the QTimer that pumps its jobs."""
from __future__ import annotations

from PyQt5.QtCore import QTimer

from chromaseg.plugins.krita.controller import Controller

_controller: Controller | None = None


class QtTimer:
    """The controller's `Timer` on a QTimer, firing `Controller.tick` on Krita's event loop (never a thread)."""

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.timeout.connect(lambda: shared_controller().tick())

    def start(self, interval_ms: int) -> None:
        self._timer.start(interval_ms)

    def stop(self) -> None:
        self._timer.stop()


def shared_controller() -> Controller:
    """The process's controller, created on first use (after Krita's QApplication exists)."""
    global _controller
    if _controller is None:
        _controller = Controller(QtTimer())
    return _controller
