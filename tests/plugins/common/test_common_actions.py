"""Plans built from a fake document: what is sent (frames, params, region) and what a reply writes back."""
import struct

import pytest
from common_fakes import FakeDocument, box_mask, gray_bgra

from chromaseg.bridge.client import Frame, Reply
from chromaseg.plugins.common import actions
from chromaseg.plugins.common.adapter import SelectionMode
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat, swap_red_blue
from chromaseg.plugins.common.settings import Settings

W, H = 64, 48


def reply(result: dict, **frames: Frame) -> Reply:
    return Reply({"result": result}, dict(frames))


def doc(**kw) -> FakeDocument:
    return FakeDocument(W, H, gray_bgra(W, H), **kw)


def test_colorize_layer_sends_the_whole_layer_as_rgba_and_writes_a_named_layer() -> None:
    d = doc()
    plan = actions.colorize(d, Settings(vibrancy=0.5, harmonize=True, segment_pass=True), selection_only=False)
    assert plan.op == "colorize" and set(plan.frames) == {"layer"}
    assert plan.params.to_params() == {"vibrancy": 0.5, "harmonize": True, "segment_pass": True,
                                       "confine_hints": False}
    layer = plan.frames["layer"]
    assert layer.dtype == "u8" and layer.shape == (H, W, 4)
    assert bytes(layer.data) == bytes(swap_red_blue(d.layer, 1))
    colored = bytes(range(256)) * (W * H * 4 // 256)
    message = plan.apply(reply({}, layer=Frame(colored, "u8", (H, W, 4))))
    name, rect, pixels, mask = d.results[0]
    assert name == "Colorized · Background · vibrancy 0.5 · harmonized · segment pass" and name in message
    assert rect == Rect(0, 0, W, H) and mask is None
    assert pixels == bytes(swap_red_blue(colored, 1))


def test_a_published_colorizer_is_requested_by_name_and_names_the_layer_instead_of_a_vibrancy() -> None:
    d = doc()
    plan = actions.colorize(d, Settings(vibrancy=0.5, colorizer="siggraph17"), selection_only=False)
    assert plan.params.to_params()["colorizer"] == "siggraph17"
    plan.apply(reply({}, layer=plan.frames["layer"]))
    assert d.results[0][0] == "Colorized · Background · siggraph17"
    assert "colorizer" not in actions.colorize(d, Settings(), selection_only=False).params.to_params()  # shipped


def test_colorize_selection_pads_the_box_sends_hints_and_masks_the_result() -> None:
    sel_box = Rect(20, 10, 10, 8)
    hints = bytearray(W * H * 4)
    hints[(12 * W + 22) * 4 : (12 * W + 22) * 4 + 4] = bytes([0, 0, 255, 255])  # one red hint (BGRA)
    d = doc(selection=box_mask(W, H, sel_box), hints=bytes(hints))
    plan = actions.colorize(d, Settings(feather=3), selection_only=True)
    region = Rect(4, 0, 42, 34)  # 16 px of context (the floor), clamped at the top edge
    assert plan.frames["layer"].shape == (region.h, region.w, 4)
    assert plan.frames["selection"].shape == (region.h, region.w)
    assert bytes(plan.frames["selection"].data) == box_mask(region.w, region.h, sel_box.offset_in(region))
    hint_frame = plan.frames["hints"]
    assert hint_frame.shape == (region.h, region.w, 4)
    px = (12 - region.y) * region.w + 22 - region.x
    assert bytes(hint_frame.data)[px * 4 : px * 4 + 4] == bytes([255, 0, 0, 255])  # RGBA on the wire
    assert plan.params.feather == 3
    plan.apply(reply({}, layer=Frame(bytes(region.w * region.h * 4), "u8", (region.h, region.w, 4))))
    name, rect, _, mask = d.results[0]
    assert rect == region and mask == bytes(plan.frames["selection"].data)
    assert name.endswith("· hints · selection, feather 3")


def test_an_empty_hint_layer_sends_no_hints() -> None:
    d = doc()
    assert actions.add_painted_layer(d, PaintedLayer.HINTS).startswith("Added 'Color hints'")
    assert actions.add_painted_layer(d, PaintedLayer.HINTS).startswith("'Color hints' already exists")
    assert "hints" not in actions.colorize(d, Settings(), selection_only=False).frames


def test_refusals_are_plugin_errors_and_write_nothing() -> None:
    with pytest.raises(PluginError, match="needs a selection"):
        actions.colorize(doc(), Settings(), selection_only=True)
    with pytest.raises(PluginError, match="Paint a dot on the object first"):
        actions.select_object(doc(selection=bytes(W * H)), Settings(), SelectionMode.ADD)
    with pytest.raises(PluginError, match="needs a prompt"):
        actions.select_object(doc(), Settings(), SelectionMode.REPLACE)
    d = doc(selection=box_mask(W, H, Rect(0, 0, 8, 8)))
    plan = actions.colorize(d, Settings(), selection_only=True)
    with pytest.raises(PluginError, match="unexpected result"):
        plan.apply(reply({}, layer=Frame(bytes(4), "u8", (1, 1, 4))))
    assert d.results == []


def test_sixteen_bit_layers_travel_as_u16() -> None:
    fmt = PixelFormat("u16", "BGRA")
    d = FakeDocument(4, 2, struct.pack("<32H", *range(32)), fmt=fmt)
    plan = actions.colorize(d, Settings(), selection_only=False)
    assert plan.frames["layer"].dtype == "u16"
    assert struct.unpack("<4H", bytes(plan.frames["layer"].data)[:8]) == (2, 1, 0, 3)
    plan.apply(reply({}, layer=plan.frames["layer"]))
    assert d.results[0][2] == d.layer


def test_harmonize_protects_painted_hints_within_the_selection() -> None:
    hints = bytearray(W * H * 4)
    hints[3::4] = bytes([0, 200]) * (W * H // 2)
    d = doc(selection=box_mask(W, H, Rect(0, 0, W, H)), hints=bytes(hints))
    plan = actions.harmonize(d, Settings())
    assert plan.op == "harmonize" and set(plan.frames) == {"layer", "selection", "hints"}
    assert bytes(plan.frames["hints"].data) == bytes(hints)  # the daemon's core decides which pixels are painted
    message = plan.apply(reply({"changed_pixels": 7}, layer=plan.frames["layer"]))
    assert "7 pixels changed" in message and d.results[0][0] == "Harmonized · Background · hints kept · selection"
    assert d.results[0][2] == d.layer


def dots(*spots: tuple[int, int, bytes]) -> bytes:
    """A W x H BGRA clicks layer with 2x2 dots of the given BGRA colors at (x, y)."""
    out = bytearray(W * H * 4)
    for x, y, bgra in spots:
        for yy in (y, y + 1):
            for xx in (x, x + 1):
                out[(yy * W + xx) * 4 : (yy * W + xx) * 4 + 4] = bgra
    return bytes(out)


GREEN, RED = b"\x00\xff\x00\xff", b"\x00\x00\xff\xff"


def test_select_object_replace_takes_the_selection_as_the_prompt_refined_by_the_clicks_inside() -> None:
    d = doc(selection=box_mask(W, H, Rect(30, 20, 6, 6)), clicks=dots((32, 22, GREEN), (0, 0, RED)))
    plan = actions.select_object(d, Settings(min_padding=4, padding=0), SelectionMode.REPLACE)
    region = Rect(26, 16, 14, 14)
    assert plan.op == "segment" and plan.params.to_params() == {}
    assert set(plan.frames) == {"layer", "selection", "prompts"} and plan.frames["prompts"].shape == (14, 14, 4)
    px = (22 - region.y) * region.w + 32 - region.x
    assert bytes(plan.frames["prompts"].data)[4 * px : 4 * px + 4] == bytes([0, 255, 0, 255])  # RGBA on the wire
    mask = box_mask(14, 14, Rect(2, 2, 10, 10))
    said = plan.apply(reply({"pixels": 100, "clicks": {"positive": 1, "negative": 0}}, mask=Frame(mask, "u8", (14, 14))))
    assert said == "The object (100 px, from 1 click) replaced the selection."
    assert d.selection_ops == [(region, mask, SelectionMode.REPLACE)]
    with pytest.raises(PluginError, match="No object"):
        plan.apply(reply({}, mask=Frame(bytes(196), "u8", (14, 14))))


def test_add_and_subtract_prompt_with_the_clicks_only_and_combine_with_the_selection() -> None:
    """A box beside a selected head must not prompt for the head and the background between them: the selection is
    only what the new object is combined with."""
    d = doc(selection=box_mask(W, H, Rect(30, 20, 6, 6)), clicks=dots((5, 5, GREEN), (9, 9, RED)))
    for mode, said in ((SelectionMode.ADD, "was added to"), (SelectionMode.SUBTRACT, "was cut from")):
        plan = actions.select_object(d, Settings(), mode)
        assert set(plan.frames) == {"layer", "prompts"} and plan.frames["prompts"].shape == (H, W, 4)
        mask = box_mask(W, H, Rect(4, 4, 3, 3))
        message = plan.apply(reply({"clicks": {"positive": 1, "negative": 1}}, mask=Frame(mask, "u8", (H, W))))
        assert said in message and "from 1 click and 1 not-object click" in message
        assert d.selection_ops[-1] == (Rect(0, 0, W, H), mask, mode)
    d.read_selection = lambda rect: pytest.fail("Add read the selection's pixels, which only the editor combines")
    assert set(actions.select_object(d, Settings(), SelectionMode.ADD).frames) == {"layer", "prompts"}


def test_clicks_alone_replace_the_selection_and_subtract_needs_one() -> None:
    d = doc(clicks=dots((5, 5, GREEN)))
    plan = actions.select_object(d, Settings(), SelectionMode.REPLACE)
    assert set(plan.frames) == {"layer", "prompts"}
    with pytest.raises(PluginError, match="needs a selection to cut the object from"):
        actions.select_object(d, Settings(), SelectionMode.SUBTRACT)
    assert actions.add_painted_layer(d, PaintedLayer.CLICKS).startswith("'Object clicks' already exists")
    fresh = doc()
    assert actions.add_painted_layer(fresh, PaintedLayer.CLICKS).startswith("Added 'Object clicks': paint a dot")
    with pytest.raises(PluginError, match="needs a prompt"):  # an empty clicks layer is no prompt
        actions.select_object(fresh, Settings(), SelectionMode.REPLACE)


def test_hint_at_selection_fills_the_selection_with_the_foreground_on_the_hint_layer() -> None:
    with pytest.raises(PluginError, match="select where the color goes"):
        actions.hint_at_selection(doc(), Settings())
    d = doc(selection=box_mask(W, H, Rect(10, 10, 3, 3)))
    assert actions.hint_at_selection(d, Settings()).startswith("Painted a #ff8000 hint over the selection")
    frame = actions.colorize(d, Settings(), selection_only=False).frames["hints"]
    painted = [i for i in range(W * H) if bytes(frame.data)[4 * i + 3]]
    assert painted == [y * W + x for y in range(10, 13) for x in range(10, 13)]


def test_auto_segment_turns_the_label_map_into_named_masks() -> None:
    d = doc()
    plan = actions.auto_segment(d, Settings(max_segments=8))
    assert plan.params.to_params() == {"max_segments": 8} and set(plan.frames) == {"layer"}
    labels = struct.pack(f"<{W * H}i", *([1] * (W * H // 2) + [3] * (W * H // 2)))
    message = plan.apply(reply({"segments": 3}, segments=Frame(labels, "i32", (H, W))))
    name, rect, masks = d.segment_groups[0]
    assert name == "Segments · Background · 2 found" and name in message and rect == Rect(0, 0, W, H)
    assert [m[0] for m in masks] == [f"Segment 1 ({W * H // 2} px)", f"Segment 3 ({W * H // 2} px)"]
    assert masks[0][1] == bytes([255]) * (W * H // 2) + bytes(W * H // 2)


def test_auto_segment_names_say_what_the_semantic_prior_knows() -> None:
    d = doc()
    plan = actions.auto_segment(d, Settings(max_segments=8))
    labels = struct.pack(f"<{W * H}i", *([1] * (W * H // 2) + [2] * (W * H // 2)))
    plan.apply(reply({"segments": 2, "classes": ["person", None]}, segments=Frame(labels, "i32", (H, W))))
    assert [m[0] for m in d.segment_groups[0][2]] == [f"Segment 1 · person ({W * H // 2} px)",
                                                       f"Segment 2 ({W * H // 2} px)"]


def test_auto_segment_of_a_selection_works_on_its_tight_box() -> None:
    d = doc(selection=box_mask(W, H, Rect(5, 6, 7, 8)))
    assert actions.auto_segment(d, Settings()).frames["layer"].shape == (8, 7, 4)


def test_select_segment_makes_the_active_segment_the_selection_without_the_daemon() -> None:
    mask = box_mask(10, 8, Rect(2, 2, 5, 4))
    d = doc(segment=("Segment 2 (20 px)", Rect(30, 20, 10, 8), mask))
    assert actions.select_segment(d) == "Selected 'Segment 2 (20 px)'."
    assert d.selection_ops == [(Rect(30, 20, 10, 8), mask, SelectionMode.REPLACE)]


def test_select_segment_refuses_when_no_segment_is_active_or_it_is_empty() -> None:
    d = doc(selection=box_mask(W, H, Rect(5, 6, 7, 8)))
    with pytest.raises(PluginError) as refused:
        actions.select_segment(d)
    assert str(refused.value) == "Select Segment: make a segment of an Auto-Segment group active first."
    d.segment = ("Segment 1 (0 px)", Rect(0, 0, 4, 4), bytes(16))
    with pytest.raises(PluginError, match="is empty"):
        actions.select_segment(d)
    assert d.selection_ops == []


def test_list_hints_asks_the_daemon_for_the_dabs_and_says_them_in_one_line() -> None:
    assert actions.list_hints(doc()).startswith("No hints yet: paint on 'Color hints'")
    assert actions.list_hints(doc(hint_layer="Hints 2")).startswith("No hints yet: paint on 'Hints 2'")
    d = doc(selection=box_mask(W, H, Rect(10, 10, 3, 3)))
    actions.hint_at_selection(d, Settings())
    plan = actions.list_hints(d)
    assert plan.op == "hints" and set(plan.frames) == {"hints"} and plan.frames["hints"].shape == (H, W, 4)
    said = plan.apply(reply({"hints": [{"x": 11, "y": 11, "pixels": 9, "color": "#ff8000"}], "dropped": 2}))
    assert said == "1 hint: #ff8000 at (11, 11), 9 px; and 2 smaller"
