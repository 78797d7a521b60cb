"""The controller on the fake `krita` with a real daemon: every command end to end, timer-driven like the plugin."""
from __future__ import annotations

import time

import pytest
from bridge_helpers import Daemon, halves
from bridge_helpers import photo as sample_image
from fake_krita import Document, Krita, Selection

from chromaseg.bridge.client import Frame
from chromaseg.plugins.common.runner import Runner, State, Update
from chromaseg.plugins.common.settings import Settings
from chromaseg.plugins.krita.controller import PUMP_INTERVAL_MS, Controller
from chromaseg.plugins.krita.settings_store import load_settings, save_settings

W, H = 64, 48


class ManualTimer:
    """Stands in for QTimer: the test fires it."""

    def __init__(self) -> None:
        self.interval: int | None = None

    def start(self, interval_ms: int) -> None:
        self.interval = interval_ms

    def stop(self) -> None:
        self.interval = None


def photo(krita: Krita, masks: bool = True) -> Document:
    """A gray photo-like layer: dark noisy background, a bright object at (20..40, 12..30)."""
    doc = krita.add_document(Document(W, H, "photo", transparency_masks=masks))
    data = bytearray()
    for y in range(H):
        for x in range(W):
            v = (200 if 20 <= x < 40 and 12 <= y < 30 else 60) + (x * 7 + y * 13) % 20
            data += bytes((v, v, v, 255))
    doc.activeNode().setPixelData(bytes(data), 0, 0, W, H)
    return doc


def select(doc: Document, x: int, y: int, w: int, h: int) -> None:
    s = Selection()
    s.select(x, y, w, h, 255)
    doc.setSelection(s)


def run(controller: Controller, key: str, limit: float = 120.0) -> tuple[Update, list[Update]]:
    """Run the command `key` (or, for "apply", the preview's Apply) and fire the timer until it is over."""
    seen: list[Update] = []
    controller.add_listener(seen.append)
    first = controller.apply_preview() if key == "apply" else controller.run(key)
    end = time.monotonic() + limit  # only stops a hung test; nothing asserts on time
    while controller.timer.interval is not None and time.monotonic() < end:
        time.sleep(PUMP_INTERVAL_MS / 1000)
        controller.tick()
    controller._listeners.remove(seen.append)
    assert first in seen
    return seen[-1], seen


@pytest.fixture
def controller(krita: Krita, daemon: Daemon) -> Controller:
    c = Controller(ManualTimer(), Runner(Settings(endpoint=daemon.endpoint, autostart=False)))
    yield c
    c.close()


@pytest.mark.parametrize("masks", [True, False], ids=["krita-5.2", "krita-5.1"])
def test_colorize_selection_adds_one_masked_layer_and_leaves_the_source(krita: Krita, controller: Controller,
                                                                        masks: bool) -> None:
    doc = photo(krita, masks)
    source = doc.activeNode()
    before = source.pixelData(0, 0, W, H)
    select(doc, 18, 10, 26, 22)
    last, seen = run(controller, "colorize_selection")
    assert last.state is State.DONE, last.message
    assert any(u.state is State.RUNNING for u in seen) and controller.timer.interval is None
    names = [n.name() for n in doc.rootNode().childNodes()]
    assert names[0] == "Background" and names[1].startswith("Colorized · Background · vibrancy model")
    result = doc.rootNode().childNodes()[1]
    assert [c.type() for c in result.childNodes()] == (["transparencymask"] if masks else ["paintlayer", "paintlayer"])
    assert source.pixelData(0, 0, W, H) == before and len(doc.undo_steps) == 1


def test_colorize_layer_with_hints_and_harmonize(krita: Krita, controller: Controller) -> None:
    doc = photo(krita)
    assert run(controller, "hint_layer")[0].message.startswith("Added 'Color hints'")
    doc.nodeByName("Color hints").setPixelData(bytes([0, 0, 255, 255]) * 4, 25, 15, 2, 2)
    doc.setActiveNode(doc.rootNode().childNodes()[0])
    controller.update_settings(Settings(endpoint=controller.settings.endpoint, autostart=False, harmonize=True,
                                        vibrancy=0.5))
    last, _ = run(controller, "colorize_layer")
    assert last.state is State.DONE, last.message
    colorized = doc.rootNode().childNodes()[1]
    assert colorized.name() == "Colorized · Background · vibrancy 0.5 · harmonized · hints"
    assert colorized.childNodes() == [] and colorized.bounds().width() == W
    doc.setActiveNode(colorized)
    last, _ = run(controller, "harmonize_layer")
    assert last.state is State.DONE, last.message
    assert doc.rootNode().childNodes()[2].name().startswith("Harmonized · Colorized")


def test_select_object_and_auto_segment(krita: Krita, controller: Controller) -> None:
    doc = photo(krita)
    select(doc, 16, 8, 28, 26)
    last, _ = run(controller, "select_object")
    assert last.state is State.DONE, last.message
    sel = doc.selection()
    assert (sel.x(), sel.y(), sel.width(), sel.height()) == (20, 12, 20, 18)
    # Add and Subtract take the object from a dot on "Object clicks"; the selection is only combined with it
    select(doc, 16, 8, 28, 26)
    refused = run(controller, "select_object_subtract")[0]
    assert refused.state is State.FAILED and "Paint a dot on the object first" in refused.message
    source = doc.activeNode()
    assert run(controller, "clicks_layer")[0].state is State.DONE
    clicks = doc.nodeByName("Object clicks")
    assert doc.activeNode() is clicks and clicks.type() == "paintlayer"
    clicks.setPixelData(b"\x00\xff\x00\xff" * 4, 29, 19, 2, 2)  # a green dot on the object (BGRA)
    assert run(controller, "select_object_subtract")[0].state is State.DONE
    ring = doc.selection()  # the box minus the object under the dot: a frame around it
    assert ring.pixelData(16, 8, 1, 1) == b"\xff" and ring.pixelData(30, 20, 1, 1) == b"\0"
    select(doc, 2, 2, 6, 6)  # a selection away from the object
    assert run(controller, "select_object_add")[0].state is State.DONE
    union = doc.selection()  # the selection and the object, nothing between them
    assert union.pixelData(3, 3, 1, 1) == b"\xff" and union.pixelData(30, 20, 1, 1) == b"\xff"
    assert union.pixelData(12, 10, 1, 1) == b"\0"
    clicks.remove()
    doc.setActiveNode(source)
    last, _ = run(controller, "auto_segment")
    assert last.state is State.DONE, last.message
    group = doc.rootNode().childNodes()[1]
    assert group.type() == "grouplayer" and group.childNodes()
    assert all(m.type() == "selectionmask" for m in group.childNodes())
    # pick a segment: its mask becomes the selection in one action, no daemon involved
    segment = max(group.childNodes(), key=lambda m: m.selection().width())
    doc.setActiveNode(segment)
    before = doc.selection().pixelData(0, 0, W, H)
    last, _ = run(controller, "select_segment")
    assert last.state is State.DONE and last.message == f"Selected {segment.name()!r}."
    mask = segment.selection()
    assert doc.selection().pixelData(0, 0, W, H) == mask.pixelData(0, 0, W, H)
    assert bytes(mask.pixelData(0, 0, W, H)).count(255) > 0
    doc.undo()  # Krita's own Select Opaque made it one undo step: the previous selection comes back
    assert doc.selection().pixelData(0, 0, W, H) == before and group in doc.rootNode().childNodes()


def test_select_segment_refuses_unless_a_segment_is_active(krita: Krita, controller: Controller) -> None:
    doc = photo(krita)
    select(doc, 16, 8, 28, 26)
    before = doc.selection().pixelData(0, 0, W, H)
    stray = doc.createSelectionMask("not a segment")  # a selection mask of the artist's own
    doc.activeNode().addChildNode(stray, None)
    for active in (doc.rootNode().childNodes()[0], stray):
        doc.setActiveNode(active)
        last, _ = run(controller, "select_segment")
        assert last.state is State.FAILED
        assert last.message == "Select Segment: make a segment of an Auto-Segment group active first."
        assert doc.selection().pixelData(0, 0, W, H) == before


def test_refusals_and_failures_leave_the_document_as_it_was(krita: Krita, controller: Controller) -> None:
    assert "Open an image" in run(controller, "colorize_layer")[0].message
    doc = photo(krita)
    last, _ = run(controller, "colorize_selection")
    assert last.state is State.FAILED and "needs a selection" in last.message
    assert len(doc.rootNode().childNodes()) == 1 and doc.undo_steps == []


def test_settings_round_trip_through_kritarc(krita: Krita) -> None:
    assert load_settings() == Settings()
    save_settings(Settings(vibrancy=0.75, harmonize=True, daemon_command="/x/chromaseg serve"))
    assert krita.settings[("chromaseg", "harmonize")] == "true"
    assert load_settings() == Settings(vibrancy=0.75, harmonize=True, daemon_command="/x/chromaseg serve")



def test_cancel_while_queued_leaves_the_document_as_it_was(krita: Krita, controller: Controller,
                                                             daemon: Daemon) -> None:
    doc = photo(krita)
    big = 1536
    with daemon.client() as other:  # another editor keeps the daemon's one worker busy: ours waits queued
        busy = other.submit("harmonize", {}, {"layer": Frame.from_array(sample_image(big, big)),
                                              "segments": Frame.from_array(halves(big, big))})
        update = controller.run("harmonize_layer")
        assert update.state is State.RUNNING and controller.timer.interval == PUMP_INTERVAL_MS
        assert "cancelling" in controller.cancel().message
        while controller.timer.interval is not None:
            time.sleep(PUMP_INTERVAL_MS / 1000)
            controller.tick()
        busy.cancel()
    assert controller.last.state is State.CANCELLED
    assert controller.last.message == "Cancelled. The document is unchanged."
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"] and doc.undo_steps == []


def chroma(rgba: bytes) -> int:
    """How colored RGBA8 pixels are: the sum of max-min of R, G, B (0 for gray)."""
    return sum(max(rgba[i : i + 3]) - min(rgba[i : i + 3]) for i in range(0, len(rgba), 4))


def test_a_preview_comes_back_small_writes_nothing_and_apply_writes_the_full_layer(krita: Krita,
                                                                                     controller: Controller) -> None:
    doc = photo(krita)
    source = doc.activeNode()
    before = source.pixelData(0, 0, W, H)
    refused = controller.apply_preview()
    assert refused.state is State.FAILED and refused.message.startswith("Preview first")
    controller.update_settings(Settings(endpoint=controller.settings.endpoint, autostart=False, preview_size=32))
    last, seen = run(controller, "preview")
    assert last.state is State.DONE, last.message
    assert any(u.state is State.RUNNING for u in seen)
    preview = controller.preview
    assert (preview.width, preview.height, preview.layer, preview.selection) == (32, 24, "Background", False)
    assert last.message == "Preview 32x24 of 'Background': the document is unchanged; Apply colorizes at full size."
    # nothing was written: the same layers, the same pixels, no undo step
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"] and doc.undo_steps == []
    assert source.pixelData(0, 0, W, H) == before
    # before: the layer scaled down (nearest: preview pixel (x, y) is layer pixel (2x+1, 2y+1)), BGRA made RGBA
    b, g, r, a = before[4 * (5 * W + 7) : 4 * (5 * W + 7) + 4]
    assert preview.before[4 * (2 * 32 + 3) : 4 * (2 * 32 + 3) + 4] == bytes((r, g, b, a))
    assert chroma(preview.before) == 0 and chroma(preview.after) > 0
    last, _ = run(controller, "apply")
    assert last.state is State.DONE, last.message
    result = doc.rootNode().childNodes()[1]
    assert result.name().startswith("Colorized · Background") and "selection" not in result.name()
    assert (result.bounds().width(), result.bounds().height()) == (W, H) and result.childNodes() == []
    assert controller.preview is preview  # still shown: the artist can compare


def test_a_preview_of_a_selection_applies_as_colorize_selection(krita: Krita, controller: Controller) -> None:
    doc = photo(krita)
    select(doc, 18, 10, 26, 22)
    controller.update_settings(Settings(endpoint=controller.settings.endpoint, autostart=False, preview_size=32))
    last, _ = run(controller, "preview")
    assert last.state is State.DONE, last.message
    preview = controller.preview
    # the selection's box plus 16 px of context, clamped to the layer (58x48), at a long side of 32
    assert preview.selection and (preview.width, preview.height) == (32, 26)
    assert "of the selection of 'Background'" in last.message
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"] and doc.undo_steps == []
    last, _ = run(controller, "apply")
    assert last.state is State.DONE, last.message
    assert "selection, feather" in doc.rootNode().childNodes()[1].name() and len(doc.undo_steps) == 1
