"""The docker on the fake Qt widgets: its options are built from the op contract (through settings.OPTIONS), and its
vibrancy is the daemon's model's own until the artist changes it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import time

import pytest
from bridge_helpers import Daemon
from fake_krita import Document, Krita

from chromaseg.bridge.contract import OPS
from chromaseg.plugins.common.runner import Runner
from chromaseg.plugins.common.settings import MODEL_VIBRANCY, OPTIONS, Settings
from chromaseg.plugins.krita import shared
from chromaseg.plugins.krita.controller import Controller
from chromaseg.plugins.krita.docker import SHIPPED_COLORIZER, ChromasegDocker, _fit

SPINS = ("vibrancy", "feather", "max_segments")
CHECKS = ("harmonize", "segment_pass", "confine_hints")
CHOICES = ("colorizer",)


class NoTimer:
    def start(self, interval_ms: int) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def make_docker(krita: Krita, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    controllers: list[Controller] = []

    def make(settings: Settings) -> ChromasegDocker:
        controller = Controller(NoTimer(), Runner(settings))
        controllers.append(controller)
        monkeypatch.setattr(shared, "_controller", controller)
        return ChromasegDocker()

    yield make
    for controller in controllers:
        controller.close()


def test_every_option_a_widget_shows_is_an_op_param_with_the_contracts_range_step_default_and_words(
        make_docker) -> None:
    docker = make_docker(Settings())
    op_params = {name for op in OPS.values() for name in op.specs}
    assert set(SPINS + CHECKS + CHOICES) == op_params & set(OPTIONS)  # every contract-backed option has its widget
    for name in SPINS:
        spec, spin = OPTIONS[name], getattr(docker, name)
        assert (spin.minimum(), spin.maximum(), spin.singleStep()) == (spec.lo, spec.hi, spec.step), name
        assert spin.value() == spec.start and spin.toolTip() == spec.help
    for name in CHECKS:
        spec, check = OPTIONS[name], getattr(docker, name)
        assert (check.text(), check.isChecked(), check.toolTip()) == (spec.label, spec.default, spec.help)
    assert docker.colorizer.toolTip() == OPTIONS["colorizer"].help
    assert docker.colorizer.currentText() == SHIPPED_COLORIZER and docker.colorizer.currentData() == ""  # default
    padding = OPTIONS["padding"]
    assert (docker.padding.minimum(), docker.padding.maximum()) == (round(padding.lo * 100), round(padding.hi * 100))
    assert docker.model_vibrancy.isChecked() and docker.model_vibrancy.text() == MODEL_VIBRANCY


def test_changing_the_vibrancy_makes_it_the_artists_and_the_toggle_gives_it_back(make_docker, krita: Krita) -> None:
    docker = make_docker(Settings())
    docker.vibrancy.setValue(0.8)
    assert docker.controller.settings.vibrancy == 0.8 and not docker.model_vibrancy.isChecked()
    assert krita.settings[("chromaseg", "vibrancy")] == "0.8"
    docker.model_vibrancy.setChecked(True)
    assert docker.controller.settings.vibrancy is None and krita.settings[("chromaseg", "vibrancy")] == ""
    assert make_docker(Settings(vibrancy=0.3)).vibrancy.value() == 0.3


def test_the_docker_shows_the_daemons_own_vibrancy_without_making_it_the_artists(
        make_docker, daemon: Daemon, tiny_colorizer_checkpoint: Path) -> None:
    from chromaseg.core.colorize import Colorizer

    docker = make_docker(Settings(endpoint=daemon.endpoint, autostart=False))
    docker.refresh_status()
    own = Colorizer.load(tiny_colorizer_checkpoint).vibrancy
    assert docker.controller.colorizer is not None and docker.controller.colorizer.vibrancy == own
    assert docker.model_vibrancy.text() == f"{MODEL_VIBRANCY} ({own:.2f})"
    assert docker.vibrancy.value() == round(own, 2) and docker.controller.settings.vibrancy is None
    docker.model_vibrancy.setChecked(False)  # the artist's own now, starting from the model's value
    assert docker.controller.settings.vibrancy == round(own, 2)


def test_the_daemon_settings_are_folded_away_until_asked_for(make_docker) -> None:
    docker = make_docker(Settings())
    assert docker.daemon_settings.isHidden() and not docker.show_daemon_settings.isChecked()
    docker.show_daemon_settings.setChecked(True)
    assert not docker.daemon_settings.isHidden()
    assert docker.scroll.resizable and docker.scroll.content is not None  # the docker can be made short


def test_the_colorizer_choice_lists_the_daemons_installed_ones_and_is_stored(make_docker, krita: Krita) -> None:
    docker = make_docker(Settings())
    docker.controller.runner.colorizers = ["ddcolor-tiny", "siggraph17"]  # as the daemon's last `info` said
    docker.show_colorizers(docker.controller.settings.colorizer)
    names = [docker.colorizer.itemText(i) for i in range(docker.colorizer.count())]
    assert names == [SHIPPED_COLORIZER, "ddcolor-tiny", "siggraph17"]
    docker.colorizer.setCurrentIndex(2)
    assert docker.controller.settings.colorizer == "siggraph17"
    listed = docker.colorizer.clear
    docker.colorizer.clear = lambda: pytest.fail("the list was rebuilt without a change")  # an open list stays open
    docker.show_colorizers(docker.controller.settings.colorizer)
    docker.colorizer.clear = listed
    assert krita.settings[("chromaseg", "colorizer")] == "siggraph17"
    docker.controller.runner.colorizers = []  # a daemon without it: the artist's choice stays, marked
    docker.show_colorizers(docker.controller.settings.colorizer)
    assert docker.colorizer.currentText() == "siggraph17 (not installed)"
    assert docker.controller.settings.colorizer == "siggraph17"
    docker.colorizer.setCurrentIndex(0)
    assert docker.controller.settings.colorizer is None and krita.settings[("chromaseg", "colorizer")] == ""


def test_the_preview_size_is_a_folded_option_with_the_contracts_steps_and_the_plugins_default(make_docker,
                                                                                               krita: Krita) -> None:
    docker = make_docker(Settings())
    spec = OPTIONS["preview_size"]
    assert (spec.lo, spec.hi, spec.step, spec.default) == (32, 1024, 32, 384)
    spin = docker.preview_size
    assert (spin.minimum(), spin.maximum(), spin.singleStep(), spin.value()) == (32, 1024, 32, 384)
    assert docker.more.isHidden()  # with the options rarely changed
    spin.setValue(256)
    assert docker.controller.settings.preview_size == 256 and krita.settings[("chromaseg", "preview_size")] == "256"


def _until_done(docker: ChromasegDocker) -> None:
    end = time.monotonic() + 120  # only stops a hung test
    while docker.controller.runner.busy and time.monotonic() < end:
        time.sleep(0.05)
        docker.controller.tick()


def test_preview_shows_after_and_before_in_the_docker_and_apply_writes_the_layer(make_docker, krita: Krita,
                                                                                daemon: Daemon) -> None:
    w, h = 64, 48
    doc = krita.add_document(Document(w, h, "photo"))
    layer = doc.activeNode()
    layer.setPixelData(bytes(v for i in range(w * h) for v in (i % 200,) * 3 + (255,)), 0, 0, w, h)
    pixels = layer.pixelData(0, 0, w, h)
    docker = make_docker(Settings(endpoint=daemon.endpoint, autostart=False, preview_size=32))
    # compact until there is a preview: no image, no toggle, nothing to apply
    assert docker.preview_area.isHidden() and not docker.apply_button.isEnabled()
    assert docker.buttons["preview"].text() == "Preview Colorization"
    docker.buttons["preview"].click()
    assert not docker.buttons["preview"].isEnabled() and not docker.apply_button.isEnabled()  # busy
    _until_done(docker)
    preview = docker.controller.preview
    assert docker.message.text().startswith("Preview 32x24 of 'Background'")
    assert not docker.preview_area.isHidden() and docker.apply_button.isEnabled()
    shown = docker.preview_label.pixmap()
    assert shown.data == preview.after and shown.source_size == (32, 24) and (shown.width(), shown.height()) == (32, 24)
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"] and doc.undo_steps == []
    assert layer.pixelData(0, 0, w, h) == pixels
    docker.before_after.click()  # pressed: before
    assert docker.before_after.isChecked() and docker.preview_label.pixmap().data == preview.before
    docker.before_after.click()  # released: after again
    assert docker.preview_label.pixmap().data == preview.after
    docker.before_after.click()
    docker.apply_button.click()
    _until_done(docker)
    names = [n.name() for n in doc.rootNode().childNodes()]
    assert len(names) == 2 and names[1].startswith("Colorized · Background"), docker.message.text()
    assert layer.pixelData(0, 0, w, h) == pixels and len(doc.undo_steps) == 1
    # the same preview stays shown, as it was (before)
    assert docker.before_after.isChecked() and docker.preview_label.pixmap().data == preview.before


def test_a_large_preview_is_shown_as_wide_as_the_docker_never_enlarged() -> None:
    assert _fit(384, 256, 276, 360) == (276, 184)
    assert _fit(256, 1024, 276, 360) == (90, 360)
    assert _fit(32, 24, 276, 360) == (32, 24)
