"""The Krita adapter on the fake `krita`: reads, color models and spaces, results, masks, selections, undo."""
from __future__ import annotations

import struct

import pytest
from fake_krita import Document, Krita, Selection

from chromaseg.plugins.common.adapter import SelectionMode, SourceRole
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat
from chromaseg.plugins.krita import layers
from chromaseg.plugins.krita.document import KritaDocument

W, H = 12, 8


def open_doc(krita: Krita, depth: str = "U8", profile: str = "sRGB-elle-V2-srgbtrc.icc", model: str = "RGBA",
             masks: bool = True) -> Document:
    doc = krita.add_document(Document(W, H, "photo", model, depth, profile, transparency_masks=masks))
    background = doc.activeNode()
    size = {"U8": 1, "U16": 2, "F16": 2, "F32": 4}[depth]
    code = {"U8": "B", "U16": "H", "F16": "e", "F32": "f"}[depth]
    top = {"U8": 255, "U16": 65535}.get(depth, 1.0)
    px = struct.pack("<4" + code, *(top * v if isinstance(top, float) else int(top * v) for v in (0.2, 0.4, 0.6, 1.0)))
    assert len(px) == 4 * size
    background.setPixelData(px * (W * H), 0, 0, W, H)
    return doc


def select(doc: Document, rect: Rect, value: int = 255) -> None:
    s = Selection()
    s.select(rect.x, rect.y, rect.w, rect.h, value)
    doc.setSelection(s)


def test_needs_an_open_image_and_a_layer(krita: Krita) -> None:
    with pytest.raises(PluginError, match="Open an image"):
        KritaDocument.active()
    doc = open_doc(krita)
    mask = doc.createSelectionMask("m")
    doc.activeNode().addChildNode(mask, None)
    doc.setActiveNode(mask)
    with pytest.raises(PluginError, match="is a mask"):
        KritaDocument.active()


def test_reads_bgra_u8_as_is(krita: Krita) -> None:
    doc = open_doc(krita)
    adapter = KritaDocument.active()
    assert adapter.pixel_format() == PixelFormat("u8", "BGRA")
    assert adapter.layer_bounds() == Rect(0, 0, W, H) and adapter.layer_name() == "Background"
    assert adapter.read_layer(Rect(1, 1, 2, 1)) == bytes(doc.activeNode().pixelData(1, 1, 2, 1))
    assert doc.conversions == []


def test_sixteen_bit_srgb_layers_are_read_directly_and_linear_ones_converted_by_krita(krita: Krita) -> None:
    open_doc(krita, "U16")
    assert KritaDocument.active().pixel_format() == PixelFormat("u16", "BGRA")
    doc = open_doc(krita, "U16", "sRGB-elle-V2-g10.icc")
    adapter = KritaDocument.active()
    data = adapter.read_layer(Rect(0, 0, 2, 2))
    b, g, r, a = struct.unpack("<4H", data[:8])
    assert abs(r / 65535 - 0.7977) < 0.001 and a == 65535  # linear 0.6 (stored as BGRA: red third) sRGB-encoded
    assert doc.conversions == []  # the scratch document did the converting, not the source
    assert doc.activeNode().colorProfile() == "sRGB-elle-V2-g10.icc"


def test_float_layers_travel_as_srgb_f32(krita: Krita) -> None:
    open_doc(krita, "F16", "sRGB-elle-V2-g10.icc")
    adapter = KritaDocument.active()
    assert adapter.pixel_format() == PixelFormat("f32", "RGBA")
    r, g, b, a = struct.unpack("<4f", adapter.read_layer(Rect(0, 0, 1, 1)))
    assert abs(r - 0.4845) < 0.01 and a == 1.0
    adapter.add_result_layer("Colorized", Rect(0, 0, 1, 1), struct.pack("<4f", 0.5, 0.5, 0.5, 1.0), None)
    result = KritaDocument.active().doc.rootNode().childNodes()[1]
    assert (result.colorDepth(), result.colorProfile()) == ("F32", "sRGB-elle-V2-srgbtrc.icc")


def test_other_color_models_are_refused_clearly(krita: Krita) -> None:
    doc = krita.add_document(Document(W, H, "cmyk", "CMYKA", "U8"))
    with pytest.raises(PluginError, match="CMYKA color model.*Convert Image Color Space"):
        KritaDocument.active().pixel_format()
    assert doc.conversions == []


def test_a_gray_image_becomes_rgb_at_its_depth_when_the_result_is_added(krita: Krita) -> None:
    doc = open_doc(krita, "U16", "Gray-D50-elle-V2-srgbtrc.icc", model="GRAYA")
    adapter = KritaDocument.active()
    assert adapter.pixel_format() == PixelFormat("u16", "BGRA")  # read through Krita's conversion to RGBA
    assert "converted to RGB (U16)" in adapter.conversion_note() and doc.model == "GRAYA"
    adapter.add_result_layer("Colorized · Background", Rect(0, 0, 1, 1), bytes(8), None)
    assert (doc.model, doc.depth, doc.profile) == ("RGBA", "U16", "sRGB-elle-V2-srgbtrc.icc")
    assert adapter.conversion_note() == ""
    doc.undo()
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"] and doc.model == "RGBA"
    doc.undo()
    assert doc.model == "GRAYA"


def test_results_stack_above_earlier_results_of_the_same_source_and_show_at_once(krita: Krita) -> None:
    doc = open_doc(krita)
    adapter = KritaDocument.active()
    adapter.add_painted_layer(PaintedLayer.HINTS)
    for name in ("Colorized · Background · vibrancy 0.2", "Colorized · Background · vibrancy 0.9"):
        refreshes = doc.refreshes
        adapter.add_result_layer(name, Rect(0, 0, 1, 1), bytes([1, 2, 3, 255]), None)
        assert doc.refreshes > refreshes
    assert [n.name() for n in doc.rootNode().childNodes()] == [
        "Background", "Colorized · Background · vibrancy 0.2", "Colorized · Background · vibrancy 0.9", "Color hints"]


def test_the_hint_layer_and_results_lead_back_to_their_paint_layer(krita: Krita) -> None:
    doc = open_doc(krita)
    photo = doc.activeNode()
    other = doc.createNode("Sketch", "paintlayer")
    doc.rootNode().addChildNode(other, None)
    KritaDocument(doc, photo).add_painted_layer(PaintedLayer.HINTS)  # above the photo, remembered as its hint layer
    hints = doc.nodeByName("Color hints")
    hints.remove()
    doc.rootNode().addChildNode(hints, other)  # moved to the top, above another layer: the remembered source counts
    assert doc.activeNode() is hints
    assert KritaDocument.active().node is photo
    KritaDocument(doc, photo).add_result_layer("Colorized · Background · vibrancy 0.5", Rect(0, 0, 1, 1),
                                               bytes([1, 2, 3, 255]), None)
    result = doc.nodeByName("Colorized · Background · vibrancy 0.5")
    doc.setActiveNode(result)
    assert KritaDocument.active().node is photo  # colorize again: from the photo
    assert KritaDocument.active(SourceRole.ACTIVE_RESULT).node is result  # harmonize: the colors it holds
    KritaDocument(doc, photo).add_segment_masks("Segments · Background · 1 found", Rect(0, 0, 1, 1),
                                                [("Segment 1 (1 px)", bytes([255]))])
    doc.setActiveNode(doc.nodeByName("Segment 1 (1 px)"))  # a segment's mask, picked to select it
    assert KritaDocument.active().node is photo


def test_layer_bounds_are_clamped_to_the_canvas(krita: Krita) -> None:
    doc = open_doc(krita)
    layer = doc.createNode("partial", "paintlayer")
    doc.rootNode().addChildNode(layer, None)
    layer.setPixelData(bytes([1, 1, 1, 255]) * 6, W - 2, -1, 2, 3)
    assert KritaDocument(doc, layer).layer_bounds() == Rect(W - 2, 0, 2, 2)


def test_selection_and_hints(krita: Krita) -> None:
    doc = open_doc(krita)
    adapter = KritaDocument.active()
    assert adapter.selection_bounds() is None and adapter.read_selection(Rect(0, 0, 2, 2)) == bytes(4)
    assert adapter.read_painted(PaintedLayer.HINTS, Rect(0, 0, 2, 2)) is None
    select(doc, Rect(2, 3, 4, 2), 200)
    assert adapter.selection_bounds() == Rect(2, 3, 4, 2)
    assert adapter.read_selection(Rect(1, 3, 3, 1)) == bytes([0, 200, 200])
    assert adapter.add_painted_layer(PaintedLayer.HINTS) is True and adapter.add_painted_layer(PaintedLayer.HINTS) is False
    hints = doc.nodeByName("Color hints")
    assert doc.activeNode() is hints and doc.rootNode().childNodes().index(hints) == 1
    assert KritaDocument.active().layer_name() == "Background"  # the hint layer leads to its paint layer
    doc.annotations.clear()
    doc.setActiveNode(hints)
    doc.rootNode().childNodes()[0].remove()
    with pytest.raises(PluginError, match="holds prompts painted for another layer"):  # no paint layer left for it
        KritaDocument.active().pixel_format()
    hints.setPixelData(bytes([0, 0, 255, 255]), 5, 5, 1, 1)
    data, fmt = adapter.read_painted(PaintedLayer.HINTS, Rect(5, 5, 2, 1))
    assert data == bytes([0, 0, 255, 255, 0, 0, 0, 0]) and fmt == PixelFormat("u8", "BGRA")


def test_a_result_is_one_undo_step_with_a_transparency_mask_and_the_source_untouched(krita: Krita) -> None:
    doc = open_doc(krita)
    source = doc.activeNode()
    before = source.pixelData(0, 0, W, H)
    adapter = KritaDocument.active()
    mask = bytes([255, 128, 0, 255])
    adapter.add_result_layer("Colorized · x", Rect(2, 2, 2, 2), bytes([9, 8, 7, 255]) * 4, mask)
    top = doc.rootNode().childNodes()
    assert [n.name() for n in top] == ["Background", "Colorized · x"]
    result = top[1]
    assert result.pixelData(2, 2, 2, 2) == bytes([9, 8, 7, 255]) * 4 and result.bounds().width() == 2
    (transparency,) = result.childNodes()
    assert transparency.type() == "transparencymask"
    assert transparency.selection().pixelData(2, 2, 2, 2) == mask
    assert source.pixelData(0, 0, W, H) == before
    assert len(doc.undo_steps) == 1
    doc.undo()
    assert [n.name() for n in doc.rootNode().childNodes()] == ["Background"]


def test_krita_5_1_gets_the_group_form_of_the_mask(krita: Krita) -> None:
    doc = open_doc(krita, "U16", masks=False)
    adapter = KritaDocument.active()
    pixels = struct.pack("<4H", 1, 2, 3, 65535) * 2
    adapter.add_result_layer("Colorized", Rect(0, 0, 2, 1), pixels, bytes([255, 51]))
    group = doc.rootNode().childNodes()[1]
    assert group.type() == "grouplayer" and group.name() == "Colorized"
    content, cut = group.childNodes()
    assert content.name() == layers.PIXELS_LAYER_NAME and content.pixelData(0, 0, 2, 1) == pixels
    assert cut.name() == layers.MASK_LAYER_NAME and cut.blendingMode() == "destination-in"
    assert cut.pixelData(0, 0, 2, 1) == struct.pack("<8H", 65535, 65535, 65535, 65535, 65535, 65535, 65535, 51 * 257)
    assert len(doc.undo_steps) == 1


def test_mask_layer_alpha_in_float_depths(krita: Krita) -> None:
    doc = open_doc(krita, "F32", masks=False)
    adapter = KritaDocument.active()
    cut = layers.mask_layer(doc, adapter._working_space(), Rect(0, 0, 2, 1), bytes([0, 255]))
    assert struct.unpack("<8f", cut.pixelData(0, 0, 2, 1)) == (1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0)


def test_segments_become_a_group_of_selection_masks(krita: Krita) -> None:
    doc = open_doc(krita)
    KritaDocument.active().add_segment_masks("Segments", Rect(0, 0, 2, 1), [("Segment 1", bytes([255, 0])),
                                                                            ("Segment 2", bytes([0, 255]))])
    group = doc.rootNode().childNodes()[1]
    assert [(n.name(), n.type()) for n in group.childNodes()] == [("Segment 1", "selectionmask"),
                                                                  ("Segment 2", "selectionmask")]
    assert group.childNodes()[1].selection().pixelData(0, 0, 2, 1) == bytes([0, 255])
    assert len(doc.undo_steps) == 1


def test_selection_modes(krita: Krita) -> None:
    doc = open_doc(krita)
    adapter = KritaDocument.active()
    select(doc, Rect(0, 0, 2, 1))
    adapter.set_selection(Rect(1, 0, 2, 1), bytes([255, 255]), SelectionMode.ADD)
    assert doc.selection().pixelData(0, 0, 4, 1) == bytes([255, 255, 255, 0])
    adapter.set_selection(Rect(0, 0, 1, 1), bytes([255]), SelectionMode.SUBTRACT)
    assert doc.selection().pixelData(0, 0, 4, 1) == bytes([0, 255, 255, 0])
    adapter.set_selection(Rect(3, 0, 1, 1), bytes([255]), SelectionMode.REPLACE)
    assert doc.selection().pixelData(0, 0, 4, 1) == bytes([0, 0, 0, 255])


def test_a_closed_source_adds_nothing(krita: Krita) -> None:
    doc = open_doc(krita)
    adapter = KritaDocument.active()
    doc.activeNode().remove()
    with pytest.raises(PluginError, match="closed meanwhile"):
        adapter.add_result_layer("x", Rect(0, 0, 1, 1), bytes(4), None)
    assert doc.undo_steps == []


def test_a_hint_at_the_selection_is_krita_s_own_fill_on_the_hint_layer_and_one_undo(krita: Krita) -> None:
    doc = open_doc(krita)
    source = doc.activeNode()
    before = source.pixelData(0, 0, W, H)
    select(doc, Rect(2, 1, 3, 2))
    adapter = KritaDocument.active()
    assert adapter.paint_hint_at_selection() == "#ff8000"
    hints = doc.nodeByName("Color hints")
    assert doc.activeNode() is hints and source.pixelData(0, 0, W, H) == before
    assert hints.pixelData(2, 1, 3, 2) == bytes([0, 128, 255, 255]) * 6  # BGRA orange, only where selected
    assert hints.bounds().width() == 3 and hints.bounds().height() == 2
    doc.undo()  # the fill is an undo step of its own; the hint layer stays
    assert hints.bounds().width() == 0 and doc.nodeByName("Color hints") is hints
    assert KritaDocument.active().layer_name() == source.name()  # the hint layer still leads to the photo


def test_a_hint_is_never_filled_into_another_layer(krita: Krita, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = open_doc(krita)
    source = doc.activeNode()
    before = source.pixelData(0, 0, W, H)
    select(doc, Rect(2, 1, 3, 2))
    adapter = KritaDocument.active()
    adapter.add_painted_layer(PaintedLayer.HINTS)
    doc.setActiveNode(source)
    monkeypatch.setattr(doc, "setActiveNode", lambda node: None)  # Krita dropped the request
    with pytest.raises(PluginError, match="nothing was painted"):
        adapter.paint_hint_at_selection()
    assert source.pixelData(0, 0, W, H) == before
    krita.window = None
    with pytest.raises(PluginError, match="needs the image open in a view"):
        adapter.paint_hint_at_selection()
