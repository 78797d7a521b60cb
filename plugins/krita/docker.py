"""The Chromaseg docker: command buttons, a colorize preview with its before/after toggle and Apply, the options,
progress and cancel, the daemon's status, and its settings folded away until asked for.

It stays compact beside Krita's default dockers on a 1000 px high screen: the daemon settings are collapsed by
default, the preview's image shows only once there is one, and everything sits in a scroll area, so the docker can be
made as short as the artist likes. A preview is never written to the document: it lives in the docker's label.

Everything runs on the UI thread: commands go to the shared controller, which pumps the job from a QTimer, and the
docker only redraws from the updates it is sent.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

from krita import DockWidget
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from chromaseg.plugins.common.commands import BY_KEY
from chromaseg.plugins.common.preview import PreviewImage
from chromaseg.plugins.common.runner import Update
from chromaseg.bridge.contract import Param
from chromaseg.plugins.common.settings import MODEL_VIBRANCY, OPTIONS, Settings
from chromaseg.plugins.krita.shared import shared_controller

STATUS_REFRESH_MS = 5000
SHIPPED_COLORIZER = "Shipped model (CCC)"
OPTION_ROW_SPACING = 3  # px between option and button rows (Qt's default is about 6): the docker fits a 1000 px screen
PREVIEW_MIN_WIDTH = 160  # px: the preview is shown as wide as the docker is (never enlarged), at least this wide
PREVIEW_MAX_HEIGHT = 360  # px: a tall preview is shown at most this high
_BUTTONS = (  # (command key, row, column) in the button grid
    ("colorize_layer", 0, 0), ("colorize_selection", 0, 1),
    ("hint_layer", 1, 0), ("hint_at_selection", 1, 1),
    ("clicks_layer", 2, 0), ("harmonize_layer", 2, 1),
    ("select_object", 3, 0), ("auto_segment", 3, 1),  # objects on the left, segments on the right
    ("select_object_add", 4, 0), ("select_segment", 4, 1),
    ("select_object_subtract", 5, 0), ("list_hints", 5, 1),
)


class ChromasegDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Chromaseg")
        self.controller = shared_controller()
        root = QWidget()
        layout = QVBoxLayout(root)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(OPTION_ROW_SPACING)
        layout.addWidget(self._commands())
        layout.addWidget(self._options(self.controller.settings))
        layout.addWidget(self._progress())
        layout.addWidget(self._daemon(self.controller.settings))
        layout.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(root)
        self.setWidget(self.scroll)
        self.controller.add_listener(self.show_update)
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start(STATUS_REFRESH_MS)
        QTimer.singleShot(0, self.refresh_status)

    # --- building ----------------------------------------------------------------------------------------------

    def _commands(self) -> QWidget:
        box = QGroupBox("Commands")
        grid = QGridLayout(box)
        grid.setVerticalSpacing(OPTION_ROW_SPACING)
        self.buttons: dict[str, QPushButton] = {}
        for key, row, column in _BUTTONS:
            command = BY_KEY[key]
            button = QPushButton(command.label)
            button.setToolTip(command.tooltip)
            button.clicked.connect(partial(self._run, key))
            grid.addWidget(button, row, column)
            self.buttons[key] = button
        grid.addWidget(self._preview(), 1 + max(row for _, row, _ in _BUTTONS), 0, 1, 2)  # the row below, both columns
        return box

    def _preview(self) -> QWidget:
        """Preview and Apply, then the preview's image and its before/after toggle, hidden until a preview exists."""
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(OPTION_ROW_SPACING)
        row = QHBoxLayout()
        command = BY_KEY["preview"]
        self.buttons["preview"] = QPushButton(command.label)
        self.buttons["preview"].setToolTip(command.tooltip)
        self.buttons["preview"].clicked.connect(partial(self._run, "preview"))
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Colorize at full resolution what the preview shows (Colorize Layer, or Colorize "
                                     "Selection when the preview is of a selection), with the options as they are.")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(lambda *_: self.controller.apply_preview())
        row.addWidget(self.buttons["preview"], 1)
        row.addWidget(self.apply_button)
        layout.addLayout(row)
        self.preview_area = QWidget()
        self.preview_area.setVisible(False)
        area = QVBoxLayout(self.preview_area)
        area.setContentsMargins(0, 0, 0, 0)
        area.setSpacing(OPTION_ROW_SPACING)
        self.preview_label = QLabel()
        self.preview_label.setAlignment(Qt.AlignCenter)
        self.before_after = QPushButton("Before")
        self.before_after.setCheckable(True)
        self.before_after.setToolTip("Pressed: the layer as it is. Released: the colorized preview.")
        self.before_after.toggled.connect(self._show_preview_side)
        area.addWidget(self.preview_label)
        area.addWidget(self.before_after)
        layout.addWidget(self.preview_area)
        self._shown_preview: PreviewImage | None = None
        return box

    def _options(self, s: Settings) -> QWidget:
        """The widgets' ranges, steps, defaults and words come from the op contract, through `OPTIONS`."""
        box = QGroupBox("Options")
        form = QFormLayout(box)
        form.setVerticalSpacing(OPTION_ROW_SPACING)
        self.colorizer = QComboBox()
        self.colorizer.setToolTip(OPTIONS["colorizer"].help)
        self.show_colorizers(s.colorizer)
        self.vibrancy = _double(OPTIONS["vibrancy"], s.vibrancy)
        self.model_vibrancy = _check(MODEL_VIBRANCY, s.vibrancy is None,
                                     "The daemon's colorizer uses the vibrancy chosen for it (shown once the daemon "
                                     "answers); change the value to use your own.")
        self.harmonize = _option_check("harmonize", s.harmonize)
        self.segment_pass = _option_check("segment_pass", s.segment_pass)
        self.confine_hints = _option_check("confine_hints", s.confine_hints)
        self.padding = _percent(OPTIONS["padding"], s.padding)
        self.feather = _double(OPTIONS["feather"], s.feather)
        self.max_segments = _spin(OPTIONS["max_segments"], s.max_segments)
        self.preview_size = _spin(OPTIONS["preview_size"], s.preview_size)
        form.addRow(OPTIONS["colorizer"].label, self.colorizer)
        form.addRow(OPTIONS["vibrancy"].label, self.vibrancy)
        form.addRow(self.model_vibrancy)
        form.addRow(self.harmonize)
        form.addRow(self.segment_pass)
        form.addRow(self.confine_hints)
        # the ones rarely changed, folded away like the daemon settings: the docker stays short
        self.show_more = _check("More options", False,
                                "Context around a selection, feather, most segments, preview size.")
        self.more = QWidget()
        self.more.setVisible(False)
        self.show_more.toggled.connect(self.more.setVisible)
        more = QFormLayout(self.more)
        more.setContentsMargins(0, 0, 0, 0)
        more.setVerticalSpacing(OPTION_ROW_SPACING)
        more.addRow(OPTIONS["padding"].label, self.padding)
        more.addRow(OPTIONS["feather"].label, self.feather)
        more.addRow(OPTIONS["max_segments"].label, self.max_segments)
        more.addRow(OPTIONS["preview_size"].label, self.preview_size)
        form.addRow(self.show_more)
        form.addRow(self.more)
        self.vibrancy.valueChanged.connect(self._override_vibrancy)
        self.model_vibrancy.toggled.connect(self._use_model_vibrancy)
        self.colorizer.currentIndexChanged.connect(self._store)
        for spin in (self.padding, self.feather, self.max_segments, self.preview_size):
            spin.valueChanged.connect(self._store)
        for check in (self.harmonize, self.segment_pass, self.confine_hints):
            check.toggled.connect(self._store)
        return box

    def _progress(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.controller.cancel())
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        return box

    def _daemon(self, s: Settings) -> QWidget:
        box = QGroupBox("Daemon")
        layout = QVBoxLayout(box)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.show_daemon_settings = _check("Show daemon settings", False,
                                           "The command that starts the daemon, where it listens, autostart.")
        self.daemon_settings = QWidget()
        self.daemon_settings.setVisible(False)
        self.show_daemon_settings.toggled.connect(self.daemon_settings.setVisible)
        layout.addWidget(self.status)
        layout.addWidget(self.show_daemon_settings)
        layout.addWidget(self.daemon_settings)
        form = QFormLayout(self.daemon_settings)
        form.setContentsMargins(0, 0, 0, 0)
        self.command = QLineEdit(s.daemon_command)
        self.command.setPlaceholderText("the installed `chromaseg serve`")
        self.endpoint = QLineEdit(s.endpoint)
        self.endpoint.setPlaceholderText("default socket")
        self.autostart = _check("Start the daemon when needed", s.autostart)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_status)
        form.addRow("Command", self.command)
        form.addRow("Endpoint", self.endpoint)
        form.addRow(self.autostart)
        form.addRow(refresh)
        self.command.editingFinished.connect(self._store)
        self.endpoint.editingFinished.connect(self._store)
        self.autostart.toggled.connect(self._store)
        return box

    # --- behaviour ---------------------------------------------------------------------------------------------

    def _run(self, key: str, *_checked: object) -> None:
        self.controller.run(key)

    def _override_vibrancy(self, *_changed: object) -> None:
        """Editing the value makes it the artist's own instead of the model's."""
        if self.model_vibrancy.isChecked():
            self.model_vibrancy.setChecked(False)  # stored by its toggled signal
        else:
            self._store()

    def _use_model_vibrancy(self, *_checked: object) -> None:
        self.show_model_vibrancy()
        self._store()

    def show_model_vibrancy(self) -> None:
        """The daemon's own vibrancy, once it has said it: in the toggle's text and, while the toggle is on, in the
        value (without making it the artist's)."""
        model = self.controller.colorizer
        self.model_vibrancy.setText(MODEL_VIBRANCY if model is None else f"{MODEL_VIBRANCY} ({model.vibrancy:.2f})")
        if model is not None and self.model_vibrancy.isChecked():
            blocked = self.vibrancy.blockSignals(True)
            self.vibrancy.setValue(model.vibrancy)
            self.vibrancy.blockSignals(blocked)

    def show_colorizers(self, chosen: str | None) -> None:
        """The shipped model, then the published colorizers the daemon has installed (as its last status said); a
        stored choice it does not have stays listed as such, so the artist's choice is never silently changed. The
        list is rebuilt only when it changes: the status refreshes every few seconds, and rebuilding would close a
        list the artist has open."""
        items = [(SHIPPED_COLORIZER, ""), *((name, name) for name in self.controller.colorizers)]
        if chosen is not None and chosen not in self.controller.colorizers:
            items.append((f"{chosen} (not installed)", chosen))
        shown = [(self.colorizer.itemText(i), self.colorizer.itemData(i)) for i in range(self.colorizer.count())]
        if items == shown and self.colorizer.currentData() == (chosen or ""):
            return
        blocked = self.colorizer.blockSignals(True)
        self.colorizer.clear()
        for text, data in items:
            self.colorizer.addItem(text, data)
        self.colorizer.setCurrentIndex(self.colorizer.findData(chosen or ""))
        self.colorizer.blockSignals(blocked)

    def _store(self, *_changed: object) -> None:
        vibrancy = None if self.model_vibrancy.isChecked() else self.vibrancy.value()
        try:
            settings = replace(
                self.controller.settings,
                vibrancy=vibrancy, colorizer=self.colorizer.currentData() or None, harmonize=self.harmonize.isChecked(),
                segment_pass=self.segment_pass.isChecked(), confine_hints=self.confine_hints.isChecked(),
                padding=self.padding.value() / 100, feather=self.feather.value(),
                max_segments=self.max_segments.value(), preview_size=self.preview_size.value(),
                daemon_command=self.command.text().strip(),
                endpoint=self.endpoint.text().strip(), autostart=self.autostart.isChecked(),
            )
        except ValueError as exc:
            self.message.setText(str(exc))
            return
        self.controller.update_settings(settings)

    def show_update(self, update: Update) -> None:
        busy = not update.state.final
        self.message.setText(update.message)
        self.cancel_button.setEnabled(busy)
        for button in self.buttons.values():
            button.setEnabled(not busy)
        if self.controller.preview is not self._shown_preview:
            self.show_preview(self.controller.preview)
        self.apply_button.setEnabled(not busy and self._shown_preview is not None)
        if busy and update.fraction is None:
            self.bar.setRange(0, 0)  # Qt's busy indicator
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * (update.fraction or 0.0)))

    def show_preview(self, preview: PreviewImage | None) -> None:
        """A new preview: its "after" in the label (the toggle released), sized to the docker's width."""
        self._shown_preview = preview
        self.preview_area.setVisible(preview is not None)
        if preview is None:
            return
        self.preview_label.setToolTip(f"Preview {preview.width}x{preview.height} of {preview.layer!r}: nothing of it "
                                      "is in the document.")
        blocked = self.before_after.blockSignals(True)
        self.before_after.setChecked(False)
        self.before_after.blockSignals(blocked)
        self._show_preview_side()

    def _show_preview_side(self, *_checked: object) -> None:
        """The before or the after of the preview, as the toggle says."""
        preview = self._shown_preview
        if preview is None:
            return
        data = preview.before if self.before_after.isChecked() else preview.after
        image = QImage(data, preview.width, preview.height, 4 * preview.width, QImage.Format_RGBA8888)
        pixmap = QPixmap.fromImage(image)  # a copy: the bytes may go
        w, h = _fit(preview.width, preview.height, max(PREVIEW_MIN_WIDTH, self.scroll.viewport().width() - 24),
                    PREVIEW_MAX_HEIGHT)
        if (w, h) != (preview.width, preview.height):
            pixmap = pixmap.scaled(w, h, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
        self.preview_label.setPixmap(pixmap)

    def refresh_status(self) -> None:
        if self.isVisible() or not self.status.text():
            self.status.setText(self.controller.daemon_status())
            self.show_model_vibrancy()
            self.show_colorizers(self.controller.settings.colorizer)

    def canvasChanged(self, canvas: object) -> None:
        """Commands always act on the active document; nothing to follow here."""


def _fit(w: int, h: int, most_w: int, most_h: int) -> tuple[int, int]:
    """`w` x `h` scaled down (never up) to fit `most_w` x `most_h`, keeping its aspect."""
    scale = min(1.0, most_w / w, most_h / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _double(spec: Param, value: float | None) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(spec.lo, spec.hi)
    spin.setSingleStep(spec.step)
    spin.setDecimals(2)
    spin.setValue(spec.start if value is None else value)
    spin.setToolTip(spec.help)
    return spin


def _spin(spec: Param, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(spec.lo, spec.hi)
    spin.setSingleStep(spec.step)
    spin.setValue(value)
    spin.setToolTip(spec.help)
    return spin


def _percent(spec: Param, value: float) -> QSpinBox:
    """A fraction shown in percent."""
    spin = QSpinBox()
    spin.setRange(round(spec.lo * 100), round(spec.hi * 100))
    spin.setSingleStep(round(spec.step * 100))
    spin.setValue(round(value * 100))
    spin.setToolTip(spec.help)
    return spin


def _option_check(name: str, value: bool) -> QCheckBox:
    return _check(OPTIONS[name].label, value, OPTIONS[name].help)


def _check(text: str, value: bool, tip: str = "") -> QCheckBox:
    check = QCheckBox(text)
    check.setChecked(value)
    check.setToolTip(tip)
    return check
