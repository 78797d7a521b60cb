"""The colorize preview: what the plan sends (colorize's request with `preview`), what its apply checks and leaves for
the editor (before/after RGBA8 at the daemon's preview size), and that it writes nothing to the document."""
import struct

import pytest
from common_fakes import FakeDocument, box_mask, gray_bgra

from chromaseg.bridge.client import Frame, Reply
from chromaseg.plugins.common import actions
from chromaseg.plugins.common.commands import BY_KEY
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.pixels import PixelFormat, swap_red_blue
from chromaseg.plugins.common.preview import PreviewImage, preview_shape, rgba8, sample_nearest
from chromaseg.plugins.common.settings import OPTIONS, Settings

W, H = 64, 48


def doc(**kw) -> FakeDocument:
    return FakeDocument(W, H, gray_bgra(W, H), **kw)


def after(w: int, h: int, dtype: str = "u8") -> Frame:
    """A colored wire frame: red rising along x."""
    if dtype == "u8":
        data = b"".join(bytes((4 * x % 256, 40, 90, 255)) for _ in range(h) for x in range(w))
    else:
        data = b"".join(struct.pack("<4f", x / w, 0.25, 0.5, 1.0) for _ in range(h) for x in range(w))
    return Frame(data, dtype, (h, w, 4))


def test_the_preview_sends_colorizes_request_with_the_preview_size_and_writes_nothing() -> None:
    d = doc()
    settings = Settings(vibrancy=0.5, harmonize=True)
    plan = actions.preview(d, settings)
    colorize = actions.colorize(d, settings, selection_only=False)
    assert plan.op == "colorize" and plan.title == "Preview" and plan.preview is None
    assert plan.params.to_params() == {**colorize.params.to_params(), "preview": OPTIONS["preview_size"].default}
    assert {k: bytes(f.data) for k, f in plan.frames.items()} == {k: bytes(f.data) for k, f in colorize.frames.items()}
    assert actions.preview(d, settings, 96).params.to_params()["preview"] == 96
    message = plan.apply(Reply({"result": {"preview": [32, 24]}}, {"layer": after(32, 24)}))
    assert message == "Preview 32x24 of 'Background': the document is unchanged; Apply colorizes at full size."
    shown = plan.preview
    assert (shown.width, shown.height, shown.layer, shown.selection) == (32, 24, "Background", False)
    assert shown.after == bytes(after(32, 24).data)
    # before: the layer at the preview's size, nearest (pixel (x, y) of the layer's (2x+1, 2y+1)), BGRA made RGBA
    rgba = bytes(swap_red_blue(d.layer, 1))
    assert shown.before == b"".join(rgba[4 * ((2 * y + 1) * W + 2 * x + 1) : 4 * ((2 * y + 1) * W + 2 * x + 2)]
                                    for y in range(24) for x in range(32))
    assert d.results == [] and d.selection_ops == [] and d.segment_groups == []
    assert BY_KEY["preview"].run(d, settings).params.to_params()["preview"] == 384


def test_the_preview_of_a_selection_is_its_region_with_context_and_hints() -> None:
    hints = bytearray(W * H * 4)
    hints[(12 * W + 22) * 4 : (12 * W + 22) * 4 + 4] = bytes([0, 0, 255, 255])
    d = doc(selection=box_mask(W, H, Rect(20, 10, 10, 8)), hints=bytes(hints))
    plan = actions.preview(d, Settings(feather=3, preview_size=32))
    assert set(plan.frames) == {"layer", "selection", "hints"} and plan.frames["layer"].shape == (34, 42, 4)
    assert plan.params.to_params()["feather"] == 3 and plan.params.to_params()["preview"] == 32
    message = plan.apply(Reply({"result": {"preview": [32, 26]}}, {"layer": after(32, 26)}))
    assert "of the selection of 'Background'" in message and plan.preview.selection and d.results == []


@pytest.mark.parametrize("result, frame, match", [
    ({}, after(32, 24), "no usable preview size"),
    ({"preview": [32]}, after(32, 24), "no usable preview size"),
    ({"preview": [128, 96]}, after(128, 96), "no usable preview size"),  # larger than the layer sent
    ({"preview": [64, 48]}, after(64, 48), "no usable preview size"),  # not scaled to the 32 px asked for
    ({"preview": [32, 24]}, after(24, 32), "unexpected preview"),  # the frame is not the size the result says
    ({"preview": [32, 24]}, after(32, 24, "f32"), "unexpected preview"),  # nor the layer's dtype
    ({"preview": [32, 24]}, None, "unexpected preview"),
])
def test_a_preview_reply_that_does_not_match_what_it_says_is_refused(result, frame, match) -> None:
    d = doc()
    plan = actions.preview(d, Settings(preview_size=32))
    with pytest.raises(PluginError, match=match):
        plan.apply(Reply({"result": result}, {} if frame is None else {"layer": frame}))
    assert plan.preview is None and d.results == []


def test_an_out_of_range_preview_size_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="preview_size"):
        actions.preview(doc(), Settings(), 2048)
    with pytest.raises(ValueError, match="preview_size"):
        Settings(preview_size=16)


def test_float_and_16_bit_layers_preview_as_8_bit() -> None:
    f32 = b"".join(struct.pack("<4f", 0.5, 0.5, 0.5, 1.0) for _ in range(W * H))
    d = FakeDocument(W, H, f32, fmt=PixelFormat("f32", "RGBA"))
    plan = actions.preview(d, Settings(preview_size=32))
    plan.apply(Reply({"result": {"preview": [32, 24]}}, {"layer": after(32, 24, "f32")}))
    assert plan.preview.before == bytes((128, 128, 128, 255)) * (32 * 24)
    assert plan.preview.after[:8] == bytes((0, 64, 128, 255, 8, 64, 128, 255))
    u16 = struct.pack("<4H", 0x1234, 0x5678, 0x9ABC, 0xFFFF) * (W * H)
    d = FakeDocument(W, H, u16, fmt=PixelFormat("u16", "BGRA"))
    plan = actions.preview(d, Settings(preview_size=32))
    frame = Frame(u16[: 32 * 24 * 8], "u16", (24, 32, 4))
    plan.apply(Reply({"result": {"preview": [32, 24]}}, {"layer": frame}))
    assert plan.preview.before == bytes((0x9A, 0x56, 0x12, 0xFF)) * (32 * 24)  # BGRA swapped, the high bytes
    assert plan.preview.after == bytes((0x12, 0x56, 0x9A, 0xFF)) * (32 * 24)


def test_sample_nearest_takes_each_output_pixels_center_for_any_pixel_size() -> None:
    w, h = 7, 5
    words = [(y * w + x) for y in range(h) for x in range(w)]
    for units in (1, 2, 4):
        data = struct.pack(f"<{w * h * units}I", *(v for v in words for _ in range(units)))
        out = struct.unpack(f"<{3 * 2 * units}I", sample_nearest(data, w, h, 4 * units, 3, 2))
        assert out[::units] == (8, 10, 12, 22, 24, 26)  # columns 1, 3, 5 of rows 1, 3
    one = sample_nearest(struct.pack("<35I", *words), w, h, 4, 1, 1)
    assert struct.unpack("<I", one) == (17,)  # the middle pixel
    assert sample_nearest(bytes(4 * 35), w, h, 4, w, h) == bytes(4 * 35)
    with pytest.raises(ValueError):
        sample_nearest(bytes(10), w, h, 4, 1, 1)


def test_rgba8_of_each_wire_dtype() -> None:
    assert rgba8(b"\x01\x02\x03\x04", "u8") == b"\x01\x02\x03\x04"
    assert rgba8(struct.pack("<4H", 0, 0x00FF, 0x8000, 0xFFFF), "u16") == bytes((0, 0, 0x80, 0xFF))
    assert rgba8(struct.pack("<4f", -1.0, 0.2, 2.0, float("nan")), "f32") == bytes((0, 51, 255, 0))
    with pytest.raises(ValueError):
        rgba8(b"", "i32")


def test_preview_shape_and_image_checks() -> None:
    assert preview_shape({"preview": [384, 256]}, 3000, 2000, 384) == (384, 256)
    for said in ([384, 256.0], [0, 10], [True, 1], "384x256", [385, 256]):
        with pytest.raises(PluginError):
            preview_shape({"preview": said}, 3000, 2000, 384)
    with pytest.raises(ValueError):
        PreviewImage(2, 2, bytes(16), bytes(15), "x", False)
