"""Krita's side of the plugin: the "Chromaseg" menu and the docker factory, both driving the process's one
`Controller` (`plugins.krita.shared`)."""
from __future__ import annotations

from functools import partial

from krita import DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita, Window
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QMenu, QMenuBar

from chromaseg.plugins.common.commands import COMMANDS
from chromaseg.plugins.krita.docker import ChromasegDocker
from chromaseg.plugins.krita.shared import shared_controller

MENU_NAME = "chromaseg"
DOCKER_ID = "chromaseg_docker"


class ChromasegExtension(Extension):
    """Registers one action per command (so artists can give them shortcuts) in a "Chromaseg" menu of its own."""

    def setup(self) -> None:
        Krita.instance().notifier().applicationClosing.connect(lambda: shared_controller().close())

    def createActions(self, window: Window) -> None:
        menu = QMenu("Chromaseg", window.qwindow())
        menu.setObjectName(MENU_NAME)
        for command in COMMANDS:
            action = window.createAction(f"chromaseg_{command.key}", command.label, "")
            action.setToolTip(command.tooltip)
            action.triggered.connect(partial(_run, command.key))
            menu.addAction(action)
        menu.addSeparator()
        cancel = window.createAction("chromaseg_cancel", "Cancel Running Job", "")
        cancel.triggered.connect(lambda: shared_controller().cancel())
        menu.addAction(cancel)
        # Krita fills its menu bar after createActions: place the menu once the window is built.
        QTimer.singleShot(0, partial(_place_menu, window.qwindow().menuBar(), menu))


def _place_menu(bar: QMenuBar, menu: QMenu) -> None:
    """Beside Krita's own menus, before Settings (at the end when there is no Settings menu)."""
    before = next((a for a in bar.actions() if a.menu() is not None and a.menu().objectName() == "settings"), None)
    if before is not None:
        bar.insertMenu(before, menu)
    else:
        bar.addMenu(menu)


def _run(key: str, *_checked: object) -> None:
    shared_controller().run(key)


def register() -> None:
    """Called by the pykrita entry module: the extension and the docker."""
    app = Krita.instance()
    app.addExtension(ChromasegExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, ChromasegDocker))
