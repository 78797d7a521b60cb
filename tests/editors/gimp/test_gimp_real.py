"""The plug-in in real GIMP 3.0 (batch mode in the trixie chroot) through a real daemon: every action's layers,
masks and pixels, and the source layer unchanged."""
from __future__ import annotations

import base64
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from bridge_helpers import Daemon, start_daemon
from gimp_batch import SHARED_PLUGINS_DIR, GimpConfig, install_plugin, plugin_processes, run_gimp

from chromaseg.bridge.client import Client, Frame
from chromaseg.plugins.common.settings import Settings

P = "python-fu-chromaseg-"
W, H = 64, 48

DEFAULTS = Settings()  # what the plug-in sends unless the artist changes it


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def ramp() -> bytes:
    return b"".join(bytes([v, v, v, 255]) for y in range(H) for x in range(W) for v in [(x * 3 + y * 2) % 256])


def disc() -> bytes:
    """A bright disc on a dark background: an object to find."""
    return b"".join(bytes([v, v, v, 255]) for y in range(H) for x in range(W)
                    for v in [230 if (x - 30) ** 2 + (y - 22) ** 2 < 120 else 20])


def red_square(name: str) -> dict:
    pixels = bytearray(W * H * 4)
    for y in range(5, 12):
        for x in range(5, 12):
            pixels[(y * W + x) * 4 : (y * W + x) * 4 + 4] = bytes([220, 30, 30, 255])
    return {"name": name, "pixels": base64.b64encode(bytes(pixels)).decode()}


def test_shim_backend_round_trips_pixels_shadow_buffers_and_masks(installed_plugin: Path,
                                                                   gimp_config: GimpConfig) -> None:
    vendor = str(gimp_config.inside / "plug-ins" / "chromaseg-gimp" / "vendor")
    out = run_gimp({"scenario": "shim", "vendor": vendor, "w": W, "h": H, "pixels": base64.b64encode(ramp()).decode(),
                    "select": [8, 4, 10, 6]}, gimp_config)
    assert out == {"read": True, "bpp": 4, "before_merge": False, "after_merge": True, "mask": True,
                   "mode": "lch-color", "names": ["Shim", "Photo"], "found": True, "bounds": [True, 8, 4, 18, 10]}


def test_colorize_layer_writes_the_daemons_pixels_into_a_new_layer(gimp, daemon) -> None:
    out = gimp(P + "colorize-layer", ramp(), W, H)
    assert out["status"] == "success", out["error"]
    result, source = out["layers"]
    assert source["name"] == "Photo" and out["source_sha256_before"] == out["source_sha256_after"]
    assert result["name"] == "Colorized · Photo · vibrancy model"  # the model's own, by default
    assert (result["offsets"], result["size"], result["mode"], result["mask"]) == ([0, 0], [W, H], "lch-color", None)
    # exactly what the daemon answers for the same request
    with Client(daemon.endpoint) as client:
        reply = client.request("colorize", {"vibrancy": DEFAULTS.vibrancy, "harmonize": False,
                                            "segment_pass": DEFAULTS.segment_pass,
                                            "confine_hints": False}, {"layer": Frame(ramp(), "u8", (H, W, 4))})
    assert b64(result["pixels"]) == bytes(reply.frames["layer"].data)


def test_colorize_selection_with_hints_masks_the_result_by_the_selection(gimp) -> None:
    out = gimp(P + "colorize-selection", ramp(), W, H, select=[20, 16, 12, 10], hints=red_square("My hints"),
               args={"hint-layer": "My hints", "layer-mode": "normal"})
    assert out["status"] == "success", out["error"]
    hints, result, source = out["layers"]
    assert (hints["name"], source["name"]) == ("My hints", "Photo")
    assert out["source_sha256_before"] == out["source_sha256_after"]
    assert result["name"].endswith("hints · selection, feather 4") and result["mode"] == "normal"
    x, y = result["offsets"]
    w, h = result["size"]
    assert (x, y, w, h) == (4, 0, 44, 42)
    expected = bytearray(w * h)
    for row in range(16 - y, 26 - y):
        expected[row * w + 20 - x : row * w + 32 - x] = b"\xff" * 12
    assert b64(result["mask"]) == bytes(expected)


def test_select_object_replaces_the_selection(gimp) -> None:
    out = gimp(P + "select-object", disc(), W, H, select=[16, 8, 28, 28])
    assert out["status"] == "success", out["error"]
    non_empty, x1, y1, x2, y2 = out["selection"]
    assert non_empty and [x1, y1, x2, y2] != [16, 8, 44, 36]
    mask = b64(out["selection_mask"])
    assert mask[22 * W + 30] == 255 and mask[0] == 0
    assert [layer["name"] for layer in out["layers"]] == ["Photo"] and out["channels"] == []


@pytest.mark.parametrize("output", ["layer-group-of-masks", "channels"])
def test_auto_segment_into_a_layer_group_or_channels(gimp, output: str) -> None:
    out = gimp(P + "auto-segment", ramp(), W, H, args={"output": output, "max-segments": 8})
    assert out["status"] == "success", out["error"]
    assert out["source_sha256_before"] == out["source_sha256_after"]
    if output == "layer-group-of-masks":
        group, source = out["layers"]
        assert group["group"] and group["name"].startswith("Segments · Photo · ") and source["name"] == "Photo"
        alphas = [b64(c["pixels"])[3::4] for c in group["children"]]
        assert 1 <= len(alphas) <= 8 and all(sum(1 for a in col if a) <= 1 for col in zip(*alphas))
        assert all(c["opacity"] == 50.0 for c in group["children"])  # translucent tints: the photo shows through
    else:
        assert [layer["name"] for layer in out["layers"]] == ["Photo"]
        assert out["channels"] and all(" · Segment " in c["name"] for c in out["channels"])


@pytest.mark.parametrize("output", ["layer-group-of-masks", "channels"])
def test_select_segment_makes_the_active_segment_the_selection(installed_plugin: Path, gimp_config: GimpConfig,
                                                               daemon: Daemon, output: str) -> None:
    out = run_gimp({"scenario": "select_segment", "w": W, "h": H, "pixels": base64.b64encode(disc()).decode(),
                    "box": [4, 4, 10, 10], "output": output}, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})
    assert "exception" not in out, out
    box = bytearray(W * H)  # the selection made before: a refusal leaves it as it was
    for y in range(4, 14):
        box[y * W + 4 : y * W + 14] = b"\xff" * 10
    assert out["refused"][0] == "execution-error"
    assert "Select Segment: make a segment of an Auto-Segment group active first." in out["refused"][1]
    assert b64(out["after_refusal"]) == bytes(box)
    assert out["status"] == "success", out["error"]
    mask = b64(out["segment_mask"])
    assert mask.count(255) > 0 and b64(out["selection_mask"]) == mask  # exactly the segment, nothing else
    assert not any("chromaseg object" in c for c in out["channels"])  # no helper channel left behind
    assert out["segment"].endswith(f"({mask.count(255)} px)")  # the name Auto-Segment gave it says its size
    assert out["active_after"] == [out["segment"]]  # still active: the artist can go on to the next segment


def test_harmonize_adds_a_layer_keeping_the_hints(gimp) -> None:
    colored = bytearray(ramp())
    colored[0::4] = bytes((v + 60) % 256 for v in colored[0::4])
    out = gimp(P + "harmonize", bytes(colored), W, H, hints=red_square("Color hints"))
    assert out["status"] == "success", out["error"]
    names = [layer["name"] for layer in out["layers"]]
    assert names == ["Color hints", "Harmonized · Photo · hints kept", "Photo"]
    assert out["layers"][1]["mode"] == "normal" and out["source_sha256_before"] == out["source_sha256_after"]


def test_gray_image_is_converted_and_colorized(gimp) -> None:
    gray = b"".join(bytes([b[0], b[3]]) for b in (ramp()[i : i + 4] for i in range(0, W * H * 4, 4)))
    out = gimp(P + "colorize-layer", gray, W, H, gray=True)
    assert out["status"] == "success", out["error"]
    assert out["base_type"] == "rgb" and len(out["layers"]) == 2
    assert out["source_sha256_before"] == out["source_sha256_after"]


def test_a_16_bit_image_gets_the_daemons_u16_pixels(gimp, daemon) -> None:
    out = gimp(P + "colorize-layer", ramp(), W, H, u16=True)
    assert out["status"] == "success", out["error"]
    assert out["precision"] == "u16-non-linear" and out["source_sha256_before"] == out["source_sha256_after"]
    result = out["layers"][0]
    assert result["size"] == [W, H] and result["name"].startswith("Colorized · Photo")
    ramp16 = bytes(b for v in ramp() for b in (v, v))  # each u8 value v as u16 v * 257 (little-endian: v, v)
    with Client(daemon.endpoint) as client:
        reply = client.request("colorize", {"vibrancy": DEFAULTS.vibrancy, "harmonize": False,
                                            "segment_pass": DEFAULTS.segment_pass,
                                            "confine_hints": False}, {"layer": Frame(ramp16, "u16", (H, W, 4))})
    assert b64(result["pixels"]) == bytes(reply.frames["layer"].data)


def test_failures_are_clear_messages_and_change_nothing(gimp) -> None:
    out = gimp(P + "colorize-selection", ramp(), W, H)
    assert out["status"] == "execution-error" and "needs a selection" in out["error"]
    assert [layer["name"] for layer in out["layers"]] == ["Photo"]


def test_daemon_not_running_is_reported(installed_plugin: Path, gimp_config: GimpConfig) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    out = run_gimp({"scenario": "procedure", "procedure": P + "auto-segment", "w": W, "h": H,
                    "pixels": base64.b64encode(ramp()).decode(), "args": {"endpoint": free}}, gimp_config)
    assert out["status"] == "execution-error"
    # autostart runs the command the installer recorded: the host's interpreter, which the chroot does not have
    assert "Could not start the daemon" in out["error"], out["error"]
    assert [layer["name"] for layer in out["layers"]] == ["Photo"]


FIRST = "Colorized · Photo · vibrancy 0.2 · hints"
SECOND = "Colorized · Photo · vibrancy 0.9 · hints"
FIRST_DEFAULT = "Colorized · Photo · vibrancy model · hints"


def test_the_active_hint_layer_leads_to_its_photo_and_each_result_shows_on_top(installed_plugin: Path,
                                                                               gimp_config: GimpConfig,
                                                                               daemon: Daemon) -> None:
    def colorize(drawable: str, vibrancy: float) -> dict[str, Any]:
        return {"procedure": P + "colorize-layer", "drawable": drawable,
                "args": {"model-vibrancy": False, "vibrancy": vibrancy, "layer-mode": "normal"}}

    out = run_gimp({"scenario": "steps", "w": W, "h": H, "pixels": base64.b64encode(ramp()).decode(), "steps": [
        {"procedure": P + "add-hint-layer", "drawable": "Photo"},
        {"paint": {"layer": "Color hints", "rect": [5, 5, 7, 7], "rgba": [220, 30, 30, 255]}},
        colorize("Color hints", 0.2),  # the hint layer is still the active one after painting
        colorize(FIRST, 0.9),  # the result is the active one: colorize again, from the photo
    ]}, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})
    hint_layer, first, second = out["steps"]
    assert [step["status"] for step in out["steps"]] == ["success"] * 3, out["steps"]
    assert hint_layer["layers"] == ["Color hints", "Photo"] and hint_layer["colored"] == 0
    assert first["layers"] == ["Color hints", FIRST, "Photo"]
    assert first["colored"] > W * H // 4  # the composite image shows the colors right after the action
    assert second["layers"] == ["Color hints", SECOND, FIRST, "Photo"]  # the newest result on top
    assert second["colored"] > W * H // 4
    assert out["source_sha256_before"] == out["source_sha256_after"]


def two_discs() -> bytes:
    """Two bright discs side by side on a dark background: two objects a box holds together."""
    return b"".join(bytes([v, v, v, 255]) for y in range(H) for x in range(W)
                    for v in [230 if min((x - 20) ** 2, (x - 44) ** 2) + (y - 22) ** 2 < 70 else 20])


GREEN, RED = [0, 255, 0, 255], [255, 0, 0, 255]


def test_clicks_select_objects_and_add_and_subtract_combine_with_the_selection(installed_plugin: Path,
                                                                               gimp_config: GimpConfig,
                                                                               daemon: Daemon) -> None:
    def select_object(mode: str, drawable: str = "Photo") -> dict[str, Any]:
        return {"procedure": P + "select-object", "drawable": drawable, "args": {"mode": mode},
                "probes": [[20, 22], [44, 22], [9, 11], [10, 40]]}  # left disc, right disc, box corner, background

    out = run_gimp({"scenario": "steps", "w": W, "h": H, "pixels": base64.b64encode(two_discs()).decode(), "steps": [
        {"select": [8, 10, 48, 26]},
        select_object("replace"),  # a box around both discs: both
        {"procedure": P + "add-clicks-layer", "drawable": "Photo"},
        {"paint": {"layer": "Object clicks", "rect": [19, 21, 2, 2], "rgba": GREEN}},
        {"paint": {"layer": "Object clicks", "rect": [43, 21, 2, 2], "rgba": RED}},
        {"select": [8, 10, 48, 26]},
        select_object("replace", "Object clicks"),  # the same box, a green dot on the left, a red one on the right
        {"paint": {"layer": "Object clicks", "rect": [43, 21, 2, 2], "rgba": [0, 0, 0, 0]}},
        {"select": None},
        select_object("replace"),  # the green dot alone, nothing selected: the left disc
        {"select": [6, 38, 8, 6]},
        select_object("add"),  # a small box in the background plus the disc under the dot, nothing between
        {"select": [8, 10, 48, 26]},
        select_object("subtract"),  # the box minus the disc under the dot
    ]}, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})
    box, clicks_layer, negative, click, add, subtract = out["steps"]
    assert [s["status"] for s in out["steps"]] == ["success"] * 6, out["steps"]
    assert box["probes"][:2] == [255, 255]
    assert clicks_layer["layers"] == ["Object clicks", "Photo"]
    assert negative["probes"][:2] == [255, 0] and negative["selected"] < box["selected"]  # the red dot's disc is out
    assert click["probes"] == [255, 0, 0, 0] and 150 < click["selected"] < 500
    assert add["probes"] == [255, 0, 0, 255] and add["selected"] >= click["selected"] + 40
    assert subtract["probes"][:3] == [0, 255, 255]
    assert out["source_sha256_before"] == out["source_sha256_after"]


def test_hint_at_selection_fills_the_foreground_on_the_hint_layer(installed_plugin: Path, gimp_config: GimpConfig,
                                                                  daemon: Daemon) -> None:
    out = run_gimp({"scenario": "steps", "w": W, "h": H, "pixels": base64.b64encode(ramp()).decode(), "steps": [
        {"procedure": P + "hint-at-selection", "drawable": "Photo"},  # nothing selected: refused
        {"foreground": [1.0, 0.5, 0.0]},
        {"select": [10, 12, 4, 4]},
        {"procedure": P + "hint-at-selection", "drawable": "Photo",
         "pixel_probes": [["Color hints", 11, 13], ["Color hints", 20, 20]]},
        {"procedure": P + "list-hints", "drawable": "Color hints"},
        {"procedure": P + "colorize-layer", "drawable": "Color hints", "args": {"layer-mode": "normal"},
         "pixel_probes": [[FIRST_DEFAULT, 11, 13]]},
    ]}, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})
    refused, hint, listed, colorize = out["steps"]
    assert listed["status"] == "success", listed["error"]  # the list is GIMP's message dialog
    assert refused["status"] != "success" and "select where the color goes" in refused["error"]
    assert hint["status"] == "success", hint["error"]
    assert hint["layers"] == ["Color hints", "Photo"]
    assert hint["pixels"] == [[255, 128, 0, 255], [0, 0, 0, 0]]  # the foreground where selected, nothing elsewhere
    assert colorize["status"] == "success", colorize["error"]
    r, g, b, _ = colorize["pixels"][0]
    assert r > b + 20  # the orange point colors the result where it was put
    assert out["source_sha256_before"] == out["source_sha256_after"]


def test_preview_opens_a_small_before_after_image_and_leaves_the_artists_image_clean(installed_plugin: Path,
                                                                                    gimp_config: GimpConfig,
                                                                                    daemon: Daemon) -> None:
    out = run_gimp({"scenario": "preview", "w": W, "h": H, "pixels": base64.b64encode(ramp()).decode(),
                    "args": {"preview-size": 32}}, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})
    assert out["status"] == "success", out["error"]
    assert out["layers"] == ["Photo"] and out["source_unchanged"] and not out["dirty"]  # no layer, no undo step
    assert out["new_images"] == 1
    shown = out["preview"]
    assert shown["size"] == [32, 24] and shown["layers"] == ["After", "Before"] and shown["visible"] == [True, True]
    assert shown["base_type"] == "rgb" and not shown["dirty"]
    after, before = shown["colored"]
    assert after > 32 * 24 // 4 and before == 0  # the colorized preview over the gray original


@pytest.fixture
def slow_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon with the shipped colorizer weights: a large colorize takes it seconds, time to press Cancel."""
    d = start_daemon(tmp_path / "daemon", "tcp://127.0.0.1:0")
    yield d
    d.stop()


def test_cancel_in_gimp_cancels_the_daemons_job(installed_plugin: Path, gimp_config: GimpConfig,
                                                slow_daemon: Daemon) -> None:
    """GIMP's Cancel kills the plug-in (SIGKILL, gimp_plug_in_close): the test does the same, and the daemon must
    stop the job (its log says so) instead of computing it for nobody."""
    size = 1024
    pixels = b"".join(bytes([v, v, v, 255]) for y in range(size) for v in ((x * 3 + y) % 256 for x in range(size)))
    outcome: dict[str, Any] = {}

    def call() -> None:
        outcome["out"] = run_gimp({"scenario": "procedure", "procedure": P + "colorize-layer", "w": size, "h": size,
                                   "pixels": base64.b64encode(pixels).decode(), "args": {"harmonize": True}},
                                  gimp_config, {"CHROMASEG_ENDPOINT": slow_daemon.endpoint})

    gimp = threading.Thread(target=call)
    gimp.start()
    deadline = time.monotonic() + 180
    pids: list[int] = []
    while len(pids) < 2 and gimp.is_alive() and time.monotonic() < deadline:  # the plug-in and its cancel guard:
        pids = plugin_processes(gimp_config)  # the job is with the daemon now
        time.sleep(0.05)
    assert len(pids) == 2, f"the plug-in never had its job with the daemon ({pids})"
    (plug_in,) = [pid for pid in pids if _parent(pid) not in pids]
    os.kill(plug_in, signal.SIGKILL)  # what GIMP's Cancel does to a plug-in
    gimp.join(300)
    out = outcome["out"]
    assert out["status"] != "success" and [layer["name"] for layer in out["layers"]] == ["Photo"]
    assert out["source_sha256_before"] == out["source_sha256_after"]
    deadline = time.monotonic() + 120
    while not re.search(r"colorize \S+ cancelled", slow_daemon.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    log = slow_daemon.log.read_text()
    assert re.search(r"colorize \S+ cancelled", log), log[-2000:]
    assert not re.search(r"colorize \S+ done", log), log[-2000:]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_each_session_installs_into_its_own_gimp_config(installed_plugin: Path, gimp_config: GimpConfig) -> None:
    """Two suites (two clones) one after the other on one chroot: each installs into its own configuration folder,
    ending one removes only its own, and the chroot's shared configuration is never touched."""
    def listing(folder: Path) -> list[str]:
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []

    shared_before = listing(SHARED_PLUGINS_DIR)
    other = GimpConfig.create()  # the other clone's session
    try:
        install_plugin(other)
        seen_by_other = run_gimp({"scenario": "where"}, other)
    finally:
        other.remove()  # the other session ends
    seen = run_gimp({"scenario": "where"}, gimp_config)
    assert seen_by_other["directory"] == str(other.inside) and len(seen_by_other["procedures"]) == 2
    assert seen["directory"] == str(gimp_config.inside) and len(seen["procedures"]) == 2
    assert installed_plugin == gimp_config.plugins / "chromaseg-gimp" and (installed_plugin / "vendor").is_dir()
    assert not other.host.exists() and listing(SHARED_PLUGINS_DIR) == shared_before
