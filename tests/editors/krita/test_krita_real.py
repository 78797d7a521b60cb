"""Every command of the Krita plugin in real Krita (5.1 from Debian 12, or whatever `kritarunner` is installed)
against a real daemon with the shipped colorizer weights. krita_scenarios.py runs inside Krita and records facts;
the assertions are here. `install/editors/krita-deps.sh` installs Krita and Xvfb; CI runs it first."""
from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
from bridge_helpers import Daemon, start_daemon
from krita_run import KritaRunFailed, krita_home, run_krita

pytestmark = pytest.mark.skipif(shutil.which("kritarunner") is None,
                                reason="kritarunner is not installed (install/editors/krita-deps.sh installs Krita)")


def run(home: dict[str, str], endpoint: str, scenarios: str, out: Path) -> dict[str, Any]:
    try:
        return run_krita(home, endpoint, scenarios, out)
    except KritaRunFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A real daemon with the shipped colorizer weights and the installed segmenter."""
    d = start_daemon(tmp_path_factory.mktemp("krita-daemon"), "tcp://127.0.0.1:0")
    yield d
    assert d.stop() == 0


@pytest.fixture(scope="module")
def facts(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("krita")
    scenarios = ("plugin,colorize_selection,hints_layer_harmonize,select_object,hint_at_selection,vibrancy,auto_segment,"
                 "depths,cancel,preview")
    return run(krita_home(root / "home"), daemon.endpoint, scenarios, root / "facts.json")


def scenario(facts: dict[str, Any], name: str) -> dict[str, Any]:
    assert "error" not in facts[name], facts[name]["error"]
    return facts[name]


def done(result: dict[str, Any]) -> None:
    assert result["state"] == "done", result
    assert result["pumped_by_timer"] or not any(u.startswith("running") for u in result["updates"])


def test_the_installed_plugin_registers_its_menu_and_docker(facts: dict[str, Any]) -> None:
    f = scenario(facts, "plugin")
    assert "/pykrita/chromaseg_krita/vendor/chromaseg/plugins/krita/" in f["vendored_from"]
    assert "ChromasegExtension" in f["extensions"]
    assert "chromaseg_docker" in f["dockers"] and "Chromaseg" in f["docker_titles"]
    assert f["menu"][:13] == ["Colorize Layer", "Colorize Selection", "Add Color Hint Layer", "Add Hint at Selection",
                              "List Hints", "Add Object Clicks Layer", "Select Object", "Add Object to Selection",
                              "Subtract Object from Selection", "Auto-Segment", "Select Segment", "Harmonize Layer",
                              "Preview Colorization"]
    assert f["menu"][-1] == "Cancel Running Job"
    assert f["docker_stored"] == {"vibrancy": "0.5", "harmonize": "true"} and f["docker_used"] == [0.5, True]
    # the colorizer choice: the shipped model, then what the daemon has installed; kept in kritarc
    assert f["colorizers"] == ["Shipped model (CCC)", "siggraph17"]
    assert f["colorizer_stored"] == ["siggraph17", "siggraph17"] and f["colorizer_reset"] == ""
    # compact: the daemon settings folded away, all of it fits a 1000 px high screen beside the Layers docker, and
    # the scroll area lets the docker be made shorter still
    assert f["docker_height"]["settings_hidden"] and f["docker_height"]["content"] <= 600
    assert f["docker_height"]["minimum"] <= 200


def result_node(tree: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    (node,) = [n for n in tree if n["name"].startswith(prefix)]
    return node


def assert_masked(node: dict[str, Any]) -> None:
    """A transparency mask (Krita 5.2+), or 5.1's group of pixels + destination-in mask layer."""
    kinds = [(c["type"], c["blending"]) for c in node["children"]]
    if node["type"] == "paintlayer":
        assert kinds == [("transparencymask", "normal")]
    else:
        assert node["type"] == "grouplayer" and kinds == [("paintlayer", "normal"), ("paintlayer", "destination-in")]


def test_colorize_selection_adds_one_masked_layer_undone_in_one_step(facts: dict[str, Any]) -> None:
    f = scenario(facts, "colorize_selection")
    done(f["result"])
    assert [n["name"] for n in f["tree"]][0] == "Background"
    node = result_node(f["tree"], "Colorized · Background · vibrancy 0.38 · selection, feather 4")
    assert_masked(node)
    assert_shown_at_once(f["shown_at_once"])
    assert f["source_unchanged"]
    assert f["colored_inside"] > 1000 and f["colored_outside"] == 0  # color inside the selection only
    assert f["outside"] == f["source_outside"]
    assert f["docker"]["message"] == f["result"]["message"] and not f["docker"]["cancel_enabled"]
    assert f["docker"]["progress"] == 1000 and f["docker"]["status"].startswith("Daemon ")
    assert f["after_undo"][0] == "Background" and not any(n.startswith("Colorized") for n in f["after_undo"])
    assert f["source_unchanged_after_undo"]


def assert_shown_at_once(shown: dict[str, Any]) -> None:
    """The result is on the canvas right after the command: non-empty bounds, colored pixels in the projection."""
    assert shown["bounds"][2] > 0 and shown["bounds"][3] > 0, shown
    assert shown["colored"] > 1000, shown


def test_hint_layer_colorize_layer_and_harmonize(facts: dict[str, Any]) -> None:
    f = scenario(facts, "hints_layer_harmonize")
    done(f["hint_layer"])
    assert f["hint_layer_is_active"] == "Color hints"
    done(f["hint_layer_active"])  # the active hint layer leads to the paint layer it was made for
    assert f["first_result"]["name"] == "Colorized · Background · vibrancy 0.38 · hints"
    assert_shown_at_once(f["first_result"])
    assert f["active_for_colorize"] == "Background"
    done(f["colorize_layer"])
    done(f["harmonize_layer"])
    names = [n["name"] for n in f["tree"]]
    assert "Color hints" in names
    assert f["colorized"]["name"] == "Colorized · Background · vibrancy 0.38 · hints"
    assert f["colorized"]["type"] == "paintlayer" and f["colorized"]["children"] == []
    assert f["colorized"]["colored"] > 1000
    colorized = [n for n in f["stack"] if n.startswith("Colorized")]  # the newest result on top of the earlier one
    assert f["stack"][0] == "Background" and len(colorized) == 2
    assert f["stack"].index("Color hints") > f["stack"].index(colorized[-1])
    assert any(n.startswith("Harmonized · Colorized · Background") and n.endswith("hints kept") for n in names)
    assert f["source_unchanged"]


def test_select_object_by_box_and_by_clicks_and_combining_with_the_selection(facts: dict[str, Any]) -> None:
    f = scenario(facts, "select_object")
    for key in ("replace", "clicks_layer", "click", "click_negative", "add", "subtract"):
        done(f[key])
    prompt, replaced = f["prompt"], f["replaced"]
    assert replaced["selected"] > 0 and replaced["digest"] != prompt["digest"]
    assert f["ants"] > 50  # the new selection's marching ants are on the canvas
    # Add without a click is refused and leaves the selection as it was
    assert f["add_refused"]["state"] == "failed" and "Paint a dot on the object first" in f["add_refused"]["message"]
    assert f["after_add_refused"]["box"] == [10, 10, 20, 20]
    assert f["clicks_active"] == "Object clicks"
    # one green dot, nothing selected: the object under it
    assert f["clicked"]["selected"] > 500 and f["clicked_at_dot"] == 255 and "from 1 click" in f["click"]["message"]
    # a red dot on a selected part of that object takes that part out
    assert f["negative_was_selected"] == 255 and f["negative_now"] == 0
    assert f["clicked_negative"]["selected"] < f["clicked"]["selected"]
    assert "1 not-object click" in f["click_negative"]["message"]
    # Add: the small selection and the object under the dot, not the background between them
    assert f["added_at"] == {"small_box": 255, "dot": 255, "between": 0}
    assert f["added"]["selected"] >= 400 + f["clicked"]["selected"] * 0.8
    # Subtract: the box minus the object under the dot (the same dot alone selected `clicked_in_box` of the box)
    assert f["box_not_object"] is not None
    assert f["subtracted_at"] == {"box_not_object": 255, "dot": 0}
    expected = prompt["selected"] - f["clicked_in_box"]
    assert abs(f["subtracted"]["selected"] - expected) <= 0.02 * prompt["selected"], (f["subtracted"], expected)
    assert f["layers"][:2] == ["Background", "Object clicks"] and f["source_unchanged"]


def test_vibrancy_in_the_docker_higher_is_bolder(facts: dict[str, Any]) -> None:
    """The saturation control in an artist's terms, with the shipped weights: higher vibrancy, bolder colors."""
    f = scenario(facts, "vibrancy")
    for result in f["results"]:
        done(result["run"])
        assert result["used"] == result["set"] and result["name"].endswith(f"vibrancy {result['set']:g}")
    plain, middle, bold = (r["saturation"] for r in f["results"])
    assert plain + 2 < middle < bold - 2, (plain, middle, bold)


def test_hint_at_selection_fills_the_foreground_on_the_hint_layer(facts: dict[str, Any]) -> None:
    f = scenario(facts, "hint_at_selection")
    assert f["refused"]["state"] == "failed" and "select where the color goes" in f["refused"]["message"]
    done(f["hint"])
    assert f["hint"]["message"].startswith("Painted a #ff8000 hint over the selection")
    assert f["hint_layer"] == "Color hints" and f["active"] == "Color hints"
    assert f["painted"] == {"count": 36, "first": [60, 70], "bgra": [0, 128, 255, 255]}
    done(f["list_hints"])
    assert f["list_hints"]["message"] == "1 hint: #ff8000 at (62, 72), 36 px"  # the docker lists what is painted
    done(f["colorize"])
    assert f["colorized"].endswith("· hints")
    b, g, r, _ = f["colorized_at_hint"]
    assert r > b + 20  # the orange hint colors the result where it was painted
    assert f["after_undo"] == {"layers": ["Background", "Color hints"], "painted": 0}  # one undo per step
    assert f["source_unchanged"]


def test_auto_segment_adds_a_group_of_selection_masks(facts: dict[str, Any]) -> None:
    f = scenario(facts, "auto_segment")
    done(f["result"])
    group = result_node(f["tree"], "Segments · Background")
    assert group["type"] == "grouplayer" and group["children"]
    assert all(c["type"] == "selectionmask" for c in group["children"])
    assert len(f["mask_pixels"]) == len(group["children"]) and min(f["mask_pixels"]) > 0
    assert f["source_unchanged"]


def test_select_segment_makes_the_active_segment_the_selection(facts: dict[str, Any]) -> None:
    f = scenario(facts, "auto_segment")
    assert f["refused"]["state"] == "failed"
    assert f["refused"]["message"] == "Select Segment: make a segment of an Auto-Segment group active first."
    assert f["after_refusal"]["box"] == [10, 10, 20, 20] and f["after_refusal"]["selected"] == 400  # unchanged
    segment = f["segment"]
    assert segment["active"] == segment["name"] and segment["name"].endswith(f"({segment['selected']} px)")
    done(f["select_segment"])
    assert f["select_segment"]["message"] == f"Selected {segment['name']!r}."
    assert {k: f["selected"][k] for k in ("selected", "digest")} == {k: segment[k] for k in ("selected", "digest")}
    assert f["active_after"] == segment["name"]  # the artist can go on to the next segment
    # Krita's own Select Opaque did it, so it is an undo step: one Undo gives the box back and keeps the group
    assert f["after_undo"]["box"] == [10, 10, 20, 20] and f["after_undo"]["selected"] == 400
    assert f["after_undo"]["group_kept"]


def test_sixteen_bit_and_linear_float_documents(facts: dict[str, Any]) -> None:
    f = scenario(facts, "depths")
    for depth in ("U16", "F32"):
        done(f[depth]["result"])
        assert f[depth]["source_unchanged"]
        assert_masked(result_node(f[depth]["tree"], "Colorized · Background"))
        assert f[depth]["result_space"] == [depth, "sRGB-elle-V2-srgbtrc.icc"]
    assert f["CMYKA"]["result"]["state"] == "failed" and "CMYKA color model" in f["CMYKA"]["result"]["message"]
    assert f["CMYKA"]["layers"] == 1


def test_a_gray_document_is_converted_to_rgb_at_its_depth_with_a_note(facts: dict[str, Any]) -> None:
    f = scenario(facts, "depths")["GRAYA"]
    done(f["result"])
    assert "converted to RGB (U8)" in f["result"]["message"]
    assert f["space"] == ["RGBA", "U8"] and f["layers"] == 2
    assert_shown_at_once(f["shown_at_once"])
    # Krita's Python API has no undo macro: one undo takes the result away, a second one returns the image to gray
    assert f["after_one_undo"] == ["RGBA", ["Background"]]
    assert f["after_two_undos"] == ["GRAYA", ["Background"]]


def test_cancel_leaves_the_document_as_it_was(facts: dict[str, Any]) -> None:
    f = scenario(facts, "cancel")
    assert f["started"] == "running"
    assert f["state"] == "cancelled" and f["message"] == "Cancelled. The document is unchanged."
    assert f["layers"] == ["Background"]
    assert f["source_unchanged"]


def test_preview_in_the_docker_writes_nothing_and_apply_writes_the_full_resolution_layer(
        facts: dict[str, Any]) -> None:
    f = scenario(facts, "preview")
    # compact until there is a preview: no image, nothing to apply
    assert f["before_preview"]["area_hidden"] and not f["before_preview"]["apply_enabled"]
    assert f["before_preview"]["height"] <= 600
    done(f["preview"])
    assert f["preview"]["message"] == ("Preview 128x128 of 'Background': the document is unchanged; Apply colorizes "
                                       "at full size.")
    assert f["size"] == [128, 128] and f["after"]["size"] == [128, 128]  # the 256 px layer at the chosen 128 px
    assert f["after"]["colored"] > 1000
    assert f["layers_after_preview"] == ["Background"] and f["source_unchanged"]  # nothing written
    assert not f["shown"]["area_hidden"] and f["shown"]["apply_enabled"]
    # the toggle: the layer as it is (gray), then the colorized preview again
    assert f["before"] == {"checked": True, "size": [128, 128], "colored": 0}
    assert f["after_again"] == {"checked": False, **f["after"]}
    done(f["apply"])
    assert f["layers_after_apply"][0] == "Background"
    assert f["layers_after_apply"][1].startswith("Colorized · Background") and len(f["layers_after_apply"]) == 2
    assert f["applied_bounds"] == [0, 0, 256, 256] and f["source_unchanged_after_apply"]


def test_autostart_starts_the_daemon_with_the_installed_command(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    f = run(krita_home(tmp_path / "home"), endpoint, "autostart", tmp_path / "facts.json")["autostart"]
    assert "error" not in f, f["error"]
    pids = [p for p in (f["daemon_pid"], f.get("restarted_pid")) if p]
    try:
        assert f["status_before"].startswith("Daemon not running at " + endpoint)
        assert f["result"]["state"] == "done", f["result"]
        assert any(u.startswith("starting: ") for u in f["result"]["updates"])
        assert f["status_after"].startswith("Daemon ")
        # the daemon was killed: the docker says so, and the next command starts a new one and succeeds
        assert f["status_killed"].startswith("Daemon not running at " + endpoint), f["status_killed"]
        assert f["after_kill"]["state"] == "done", f["after_kill"]
        assert any(u.startswith("starting: ") for u in f["after_kill"]["updates"])
        assert f["restarted_pid"] not in (None, f["daemon_pid"])
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
