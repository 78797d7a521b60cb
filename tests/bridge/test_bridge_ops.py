"""Every op, through both clients (pyzmq and the pure-Python ZMTP client), against the real daemon."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from bridge_helpers import halves, photo

from chromaseg.bridge.client import Client, Frame, RequestCancelled, RequestFailed
from chromaseg.bridge.protocol import PROTOCOL_VERSION
from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab
from chromaseg.core.harmonize import harmonize as core_harmonize


def array(frame: Frame) -> np.ndarray:
    numpy_dtype = {"u8": np.uint8, "u16": "<u2", "i32": "<i4", "f32": "<f4"}[frame.dtype]
    return np.frombuffer(frame.data, numpy_dtype).reshape(frame.shape)


def test_ping_and_info(daemon, backend) -> None:
    with daemon.client(backend) as c:
        assert c.backend_name == backend
        pong = c.ping()
        assert pong["pong"] is True and pong["protocol"] == PROTOCOL_VERSION
        info = c.info()
        assert info["protocol"] == PROTOCOL_VERSION and set(info["ops"]) >= {"echo", "colorize", "harmonize"}
        assert info["limits"]["max_frames"] == 8 and info["device"] == "cpu"
        assert info["models"]["colorizer"].startswith("ready") and info["models"]["segmenter"].startswith("ready")


@pytest.mark.parametrize(
    "shape,dtype",
    [((37, 53, 4), np.uint8), ((16, 9, 3), np.uint16), ((8, 8), np.float32), ((300, 200, 4), np.uint8), ((1,), np.int32)],
)
def test_echo_returns_the_frames_bit_exact(daemon, backend, shape, dtype) -> None:
    data = np.random.default_rng(1).integers(0, 255, shape).astype(dtype)
    extra = np.arange(10, dtype=np.uint8)
    with daemon.client(backend) as c:
        reply = c.request("echo", {}, {"layer": Frame.from_array(data), "mask": Frame.from_array(extra)})
    assert list(reply.frames) == ["layer", "mask"]
    assert reply.frames["layer"].dtype == Frame.from_array(data).dtype and reply.frames["layer"].shape == shape
    assert np.array_equal(array(reply.frames["layer"]), data)
    assert bytes(reply.frames["mask"].data) == extra.tobytes()
    assert reply.result == {"frames": 2, "bytes": data.nbytes + 10}


@pytest.mark.parametrize("channels,dtype", [(4, np.uint8), (3, np.uint16), (4, np.float32)])
def test_harmonize_matches_core_and_keeps_alpha(daemon, backend, channels, dtype) -> None:
    layer = photo(96, 80, channels, dtype)
    seg = halves(96, 80, np.uint16)
    progress = []
    with daemon.client(backend) as c:
        reply = c.request("harmonize", {"min_pixels": 50}, {"layer": Frame.from_array(layer),
                                                            "segments": Frame.from_array(seg)}, progress.append)
    out = array(reply.frames["layer"])
    assert out.shape == layer.shape and out.dtype == layer.dtype
    if channels == 4:
        assert np.array_equal(out[..., 3], layer[..., 3])
    # The same computation straight through core: the daemon adds transport, not math.
    lab = srgb_to_lab(layer[..., :3])
    ab = core_harmonize(lab[..., 1:], np.where(seg > 0, seg.astype(np.int32) - 1, -1), 8.0, 8.0, 50)
    moved = np.any(ab != lab[..., 1:], axis=-1)
    expect = layer[..., :3].copy()
    expect[moved] = from_unit_float(lab_to_srgb(np.concatenate([lab[..., :1], ab], -1)[moved]), dtype)
    assert np.array_equal(out[..., :3], expect)
    assert reply.result["changed_pixels"] == int(moved.sum()) > 0
    assert progress[0].stage == "queued" and progress[-1].stage == "harmonize"
    assert progress[-1].done == progress[-1].total


def test_harmonize_outside_the_selection_is_untouched(daemon, backend) -> None:
    layer = photo(64, 64, 4)
    sel = np.zeros((64, 64), np.uint8)
    sel[:, :20] = 255
    with daemon.client(backend) as c:
        out = array(c.request("harmonize", {"min_pixels": 10}, {
            "layer": Frame.from_array(layer), "segments": Frame.from_array(halves(64, 64)),
            "selection": Frame.from_array(sel)}).frames["layer"])
    assert np.array_equal(out[:, 20:], layer[:, 20:]) and not np.array_equal(out[:, :20], layer[:, :20])
    with daemon.client(backend) as c:
        reply = c.request("harmonize", {"min_pixels": 10}, {
            "layer": Frame.from_array(layer), "segments": Frame.from_array(halves(64, 64)),
            "protect": Frame.from_array(np.full((64, 64), 255, np.uint8))})
    assert reply.result["changed_pixels"] == 0 and np.array_equal(array(reply.frames["layer"]), layer)
    painted = np.zeros((64, 64, 4), np.uint8)
    painted[..., 3] = 255  # every pixel a painted hint: harmonize keeps them all
    with daemon.client(backend) as c:
        reply = c.request("harmonize", {"min_pixels": 10}, {
            "layer": Frame.from_array(layer), "segments": Frame.from_array(halves(64, 64)),
            "hints": Frame.from_array(painted)})
    assert reply.result["changed_pixels"] == 0 and np.array_equal(array(reply.frames["layer"]), layer)


def test_colorize_runs_the_colorizer(daemon, backend) -> None:
    layer = photo(40, 56, 4)
    hints = np.zeros((40, 56, 4), np.uint8)
    hints[5:9, 5:9] = (255, 0, 0, 255)
    sel = np.full((40, 56), 255, np.uint8)
    sel[:, 40:] = 0
    with daemon.client(backend) as c:
        reply = c.request("colorize", {"vibrancy": 0.5, "resolution": 32}, {
            "layer": Frame.from_array(layer), "hints": Frame.from_array(hints), "selection": Frame.from_array(sel)})
    out = array(reply.frames["layer"])
    assert out.shape == layer.shape and np.array_equal(out[..., 3], layer[..., 3])
    assert np.array_equal(out[:, 40:], layer[:, 40:])  # outside the selection: unchanged
    lab = srgb_to_lab(out[5:9, 5:9, :3])
    assert lab[..., 1].mean() > 20  # the red hint shows
    assert reply.result["colorizer"].startswith("ready")


def test_colorize_gray_u16_comes_back_rgb_with_harmonize(daemon, backend) -> None:
    layer = photo(32, 32, 0, np.uint16)
    with daemon.client(backend) as c:
        reply = c.request("colorize", {"harmonize": True}, {"layer": Frame.from_array(layer),
                                                              "segments": Frame.from_array(halves(32, 32, np.uint8))})
    f = reply.frames["layer"]
    assert (f.dtype, f.shape) == ("u16", (32, 32, 3))


def test_colorize_pipeline_segments_by_itself(daemon, backend) -> None:
    """No segments sent: the daemon segments the layer with its active backend for the segment pass and
    harmonization, and reports each stage."""
    layer = photo(240, 320, 3)
    stages = []
    with daemon.client(backend) as c:
        reply = c.request("colorize", {"harmonize": True, "segment_pass": True, "resolution": 64},
                          {"layer": Frame.from_array(layer)}, lambda p: stages.append(p.stage))
        assert reply.result["segmenter"] == c.info()["segmenter"]["backend"] == "classic"
    assert array(reply.frames["layer"]).shape == layer.shape
    assert {"colorize", "segment", "harmonize"} <= set(stages)


def test_colorize_confines_hints_to_their_segment(daemon, backend) -> None:
    layer = photo(64, 64, 3)
    hints = np.zeros((64, 64, 4), np.uint8)
    hints[5:9, 5:9] = (255, 0, 0, 255)  # in the left half
    frames = {"layer": Frame.from_array(layer), "hints": Frame.from_array(hints),
              "segments": Frame.from_array(halves(64, 64))}
    with daemon.client(backend) as c:
        confined = array(c.request("colorize", {"confine_hints": True, "segment_pass": False, "resolution": 32},
                                   frames).frames["layer"])
        free = array(c.request("colorize", {"segment_pass": False, "resolution": 32},
                               {"layer": Frame.from_array(layer)}).frames["layer"])
    right = halves(64, 64) == 2
    assert np.array_equal(confined[right], free[right])


def test_harmonize_segments_by_itself(daemon, backend) -> None:
    layer = photo(96, 80, 4)
    with daemon.client(backend) as c:
        reply = c.request("harmonize", {"min_pixels": 50}, {"layer": Frame.from_array(layer)})
    out = array(reply.frames["layer"])
    assert reply.result["segmenter"] == "classic" and reply.result["changed_pixels"] > 0
    assert np.array_equal(out[..., 3], layer[..., 3])


def test_segment_auto_and_prompted(daemon, backend) -> None:
    layer = photo(64, 64, 3)
    layer[16:48, 16:48] = (250, 20, 20)
    with daemon.client(backend) as c:
        auto = c.request("segment", {"max_segments": 8}, {"layer": Frame.from_array(layer)})
        labels = array(auto.frames["segments"])
        assert labels.dtype == np.int32 and labels.shape == (64, 64)
        assert 1 <= auto.result["segments"] <= 8 and labels.max() == auto.result["segments"]
        prompted = c.request("segment", {"points": [[32, 32]], "labels": [1]}, {"layer": Frame.from_array(layer)})
    mask = array(prompted.frames["mask"])
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255} and mask[32, 32] == 255


def test_segment_takes_clicks_painted_on_a_prompts_frame(daemon, backend) -> None:
    layer = photo(64, 64, 3)
    layer[16:48, 16:48] = (250, 20, 20)
    prompts = np.zeros((64, 64, 4), np.float32)
    cv2.circle(prompts, (32, 32), 3, (0.1, 0.9, 0.2, 1.0), 1)  # a green ring on the object: a positive click
    prompts[2:4, 60:62] = (1.0, 0.0, 0.0, 0.5)  # a red dab outside: a negative click
    with daemon.client(backend) as c:
        reply = c.request("segment", {}, {"layer": Frame.from_array(layer), "prompts": Frame.from_array(prompts)})
        mixed = c.request("segment", {"points": [[5, 60]], "labels": [0]},
                          {"layer": Frame.from_array(layer), "prompts": Frame.from_array(prompts)})
    mask = array(reply.frames["mask"])
    assert mask[32, 32] == 255 and mask[2, 60] == 0
    assert reply.result["clicks"] == {"positive": 1, "negative": 1, "dropped": 0}
    assert reply.result["pixels"] == int(np.count_nonzero(mask))
    assert mixed.result["clicks"] == {"positive": 1, "negative": 1, "dropped": 0}  # the params' point is added


@pytest.mark.parametrize("paint,words", [(None, "nothing is painted"), ((255, 0, 0, 255), "no positive click")])
def test_a_prompts_frame_without_a_positive_click_is_refused_in_words(daemon, backend, paint, words) -> None:
    layer = photo(32, 32, 3)
    prompts = np.zeros((32, 32, 4), np.uint8)
    if paint is not None:
        prompts[10:13, 10:13] = paint
    with daemon.client(backend) as c:
        with pytest.raises(RequestFailed) as err:
            c.request("segment", {}, {"layer": Frame.from_array(layer), "prompts": Frame.from_array(prompts)})
        assert err.value.code == "bad_params" and words in str(err.value)
        if paint is not None:  # a red click beside a box: it only excludes, the box says where the object is
            reply = c.request("segment", {"box": [4, 4, 28, 28]},
                              {"layer": Frame.from_array(layer), "prompts": Frame.from_array(prompts)})
            assert reply.result["clicks"] == {"positive": 0, "negative": 1, "dropped": 0}


def test_auto_segments_come_with_their_class_names(daemon, backend) -> None:
    from chromaseg.core.semantic import VOC_CLASSES

    layer = photo(64, 96, 3)
    with daemon.client(backend) as c:
        reply = c.request("segment", {"max_segments": 6}, {"layer": Frame.from_array(layer)})
    classes = reply.result["classes"]
    assert isinstance(classes, list) and len(classes) == reply.result["segments"] == array(
        reply.frames["segments"]).max()
    assert all(name is None or name in VOC_CLASSES[1:] for name in classes)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colorize_preview_comes_back_at_the_previews_size(daemon, backend, dtype) -> None:
    layer = photo(200, 300, 4, dtype)  # 300 wide, 200 high
    hints = np.zeros((200, 300, 4), dtype)
    hints[100, 150] = (1, 0, 0, 1) if dtype == np.float32 else (255, 0, 0, 255)
    sel = np.full((200, 300), 255, np.uint8)
    with daemon.client(backend) as c:
        reply = c.request("colorize", {"preview": 64, "harmonize": True}, {
            "layer": Frame.from_array(layer), "hints": Frame.from_array(hints), "selection": Frame.from_array(sel),
            "segments": Frame.from_array(halves(200, 300))})
        whole = c.request("colorize", {"preview": 1024}, {"layer": Frame.from_array(layer)})
    f = reply.frames["layer"]
    assert (f.dtype, f.shape) == (Frame.from_array(layer).dtype, (43, 64, 4))
    assert reply.result["preview"] == [64, 43]
    assert np.array_equal(array(f)[..., 3], cv2.resize(layer[..., 3], (64, 43), interpolation=cv2.INTER_AREA))
    assert whole.frames["layer"].shape == (200, 300, 4) and whole.result["preview"] == [300, 200]


def test_cancel_a_running_job(daemon, backend) -> None:
    layer = photo(2048, 4096, 3, seed=2)
    with daemon.client(backend) as c:
        job = c.submit("harmonize", {}, {"layer": Frame.from_array(layer),
                                         "segments": Frame.from_array(halves(2048, 4096))})
        while job.progress is None or job.progress.stage != "harmonize":
            assert job.poll() is None
        job.cancel()
        with pytest.raises(RequestCancelled) as err:
            job.wait(30)
        assert err.value.code == "cancelled"
        assert c.ping()["pong"]


def test_cancel_of_an_unknown_job_says_so(daemon, backend) -> None:
    with daemon.client(backend) as c:
        assert c.request("cancel", {"target": "nope"}).result == {"target": "nope", "state": "unknown"}


@pytest.mark.parametrize(
    "op,params,frames,code",
    [
        ("colorize", {}, {}, "frame_mismatch"),
        ("colorize", {"tile": 3}, {}, "unknown_field"),
        ("harmonize", {"delta_a": "big"}, {}, "bad_params"),
        ("harmonize", {}, {"layer": np.zeros((4, 4, 2), np.uint8), "segments": np.zeros((4, 4), np.int32)},
         "bad_shape"),
        ("harmonize", {}, {"layer": np.zeros((4, 4, 3), np.uint8), "segments": np.zeros((5, 4), np.int32)},
         "bad_shape"),
        ("harmonize", {}, {"layer": np.zeros((4, 4, 3), np.int32), "segments": np.zeros((4, 4), np.int32)},
         "bad_dtype"),
        ("segment", {"points": [[1, 2]], "labels": [1, 0]}, {"layer": np.zeros((4, 4), np.uint8)}, "bad_params"),
        ("segment", {}, {"layer": np.zeros((4, 4), np.uint8), "prompts": np.zeros((4, 4, 3), np.uint8)}, "bad_shape"),
        ("segment", {}, {"layer": np.zeros((4, 4), np.uint8), "prompts": np.zeros((4, 4, 4), np.int32)}, "bad_dtype"),
        ("segment", {}, {"layer": np.zeros((4, 4), np.uint8), "prompts": np.full((4, 4, 4), np.nan, np.float32)},
         "bad_frame"),
        ("colorize", {"preview": 16}, {"layer": np.zeros((4, 4), np.uint8)}, "bad_params"),
        ("ping", {"x": 1}, {}, "unknown_field"),
        ("ping", {}, {"junk": np.zeros(3, np.uint8)}, "unknown_field"),
    ],
)
def test_bad_requests_get_stable_codes(daemon, backend, op, params, frames, code) -> None:
    with daemon.client(backend) as c:
        with pytest.raises(RequestFailed) as err:
            c.request(op, params, {k: Frame.from_array(v) for k, v in frames.items()})
        assert err.value.code == code
        assert c.ping()["pong"]


def test_ipc_endpoint_serves_both_clients(ipc_daemon, backend) -> None:
    data = np.arange(4096, dtype=np.uint16)
    with ipc_daemon.client(backend) as c:
        assert np.array_equal(array(c.request("echo", {}, {"a": Frame.from_array(data)}).frames["a"]), data)


_NO_ZMQ = textwrap.dedent(
    """
    import sys
    sys.modules["zmq"] = None  # pyzmq cannot be imported, as in an editor's Python without it
    import numpy as np
    from chromaseg.bridge.client import Client, Frame
    c = Client(sys.argv[1], timeout=20)
    assert c.backend_name == "zmtp", c.backend_name
    assert c.ping()["pong"]
    layer = np.full((32, 32, 4), 200, np.uint8)
    seg = np.ones((32, 32), np.int32)
    r = c.request("harmonize", {}, {"layer": Frame.from_array(layer), "segments": Frame.from_array(seg)})
    assert r.frames["layer"].shape == (32, 32, 4)
    assert bytes(c.request("echo", {}, {"x": Frame(b"abc", "u8", (3,))}).frames["x"].data) == b"abc"
    assert "zmq" not in [m for m in sys.modules if sys.modules[m] is not None]
    print("ok")
    """
)


def test_client_falls_back_to_pure_python_without_pyzmq(daemon) -> None:
    out = subprocess.run([sys.executable, "-c", _NO_ZMQ, daemon.endpoint], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_client_module_imports_only_the_standard_library() -> None:
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import chromaseg.bridge.client
        new = {m.split('.')[0] for m in set(sys.modules) - before}
        assert not new & {"numpy", "zmq", "torch", "PIL", "cv2"}, new
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_hints_lists_each_painted_dab_with_its_place_size_and_color(daemon, backend) -> None:
    layer = np.zeros((40, 60, 4), np.uint8)
    layer[5:8, 10:14] = (255, 128, 0, 255)  # an orange dab, 12 px
    layer[30, 50] = (0, 0, 255, 80)  # a faint blue single pixel: painted all the same
    with daemon.client(backend) as c:
        reply = c.request("hints", {}, {"hints": Frame(layer.tobytes(), "u8", layer.shape)})
        assert reply.result == {"hints": [{"x": 11, "y": 6, "pixels": 12, "color": "#ff8000"},
                                          {"x": 50, "y": 30, "pixels": 1, "color": "#0000ff"}], "dropped": 0}
        empty = np.zeros((4, 4, 4), np.float32)
        assert c.request("hints", {}, {"hints": Frame(empty.tobytes(), "f32", empty.shape)}).result == {
            "hints": [], "dropped": 0}
        with pytest.raises(RequestFailed, match="hints"):
            c.request("hints", {}, {})
