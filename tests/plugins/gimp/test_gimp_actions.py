"""Every action of the GIMP plug-in, run through the gimpfu shim's in-memory backend against a real daemon."""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from gimp_test_images import add_layer, gray_ramp, select_rect

from chromaseg.plugins.common import naming
from chromaseg.plugins.gimp import procedures
from chromaseg.plugins.gimp.document import SEGMENT_OPACITY, GimpDocument
from chromaseg.plugins.gimp.gimpfu import GRAY, INDEXED, LAYER_MODE_LCH_COLOR, LAYER_MODE_NORMAL, RGB
from chromaseg.plugins.gimp.registry import ProcedureError

P = "python-fu-chromaseg-"


def _pixels(layer) -> bytes:
    return layer.get_pixel_rgn(0, 0, layer.width, layer.height, False)[:, :]


def _chroma(rgba: bytes, bpp: int = 4) -> int:
    """Sum over pixels of max-min RGB (0 for gray): how colored a u8 RGBA buffer is."""
    return sum(max(rgba[i : i + 3]) - min(rgba[i : i + 3]) for i in range(0, len(rgba), bpp))


def _paint_hints(image, name: str = naming.HINT_LAYER_NAME):
    """A hint layer with one red square (alpha 255) and transparent elsewhere."""
    data = bytearray(image.width * image.height * 4)
    for y in range(5, 12):
        for x in range(5, 12):
            data[(y * image.width + x) * 4 : (y * image.width + x) * 4 + 4] = bytes([220, 30, 30, 255])
    return add_layer(image, name, bytes(data))


def test_colorize_layer_adds_a_colored_layer_above_the_untouched_source(backend, photo, daemon) -> None:
    image, source = photo()
    before = _pixels(source)
    backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint)
    result = image.layers[0]
    assert [x.name for x in image.layers] == [result.name, "Photo"]
    assert result.name.startswith("Colorized · Photo · vibrancy model")
    assert (result.width, result.height, result.offsets) == (48, 40, (0, 0))
    assert result.mode == LAYER_MODE_LCH_COLOR and result.mask is None
    assert _chroma(_pixels(result)) > 0 and _pixels(source) == before
    assert image.undo_steps == 1 and not image.undo_group_open
    kinds = [k for k, _ in backend.progress]
    assert kinds[0] == "init" and kinds[-1] == "end" and ("update" in kinds or "pulse" in kinds)


def test_colorize_selection_masks_the_result_with_the_selection(backend, photo, daemon) -> None:
    image, source = photo(64, 48)
    before = _pixels(source)
    select_rect(image, 20, 16, 12, 10)
    image.undo.clear()
    backend.run(P + "colorize-selection", image, source, endpoint=daemon.endpoint, layer_mode=0, feather=2.0)
    result = image.layers[0]
    x, y = result.offsets
    # the selection plus context (at least 16 px each side), clamped to the layer
    assert (x, y, result.width, result.height) == (4, 0, 44, 42)
    assert result.mode == LAYER_MODE_NORMAL and "selection, feather 2" in result.name
    mask = result.mask.get_pixel_rgn(0, 0, result.width, result.height, False)[:, :]
    expected = bytearray(result.width * result.height)
    for row in range(16 - y, 26 - y):
        expected[row * result.width + 20 - x : row * result.width + 32 - x] = b"\xff" * 12
    assert mask == bytes(expected)
    assert _pixels(source) == before and image.undo_steps == 1


def test_colorize_uses_the_named_hint_layer(backend, photo, daemon) -> None:
    image, source = photo()
    _paint_hints(image, "My hints")
    backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint, hint_layer="My hints",
                confine_hints=True)
    names = [x.name for x in image.layers]
    assert names[0] == "My hints" and names[2] == "Photo"  # the result goes right above the source
    assert "hints confined" in names[1]


def test_colorize_without_the_named_hint_layer_runs_without_hints(backend, photo, daemon) -> None:
    image, source = photo()
    _paint_hints(image, "Other layer")
    backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint, harmonize=True)
    result = image.layers[1]
    assert "hints" not in result.name and "harmonized" in result.name


def test_colorize_a_16_bit_grayscale_image_converts_it_to_rgb_in_the_same_undo_step(backend, photo,
                                                                                     daemon) -> None:
    image, source = photo(32, 24, bits=16, base_type=GRAY)
    before = _pixels(source)
    backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint)
    assert image.base_type == RGB and image.undo_steps == 1
    assert image.undo[0][0] == "convert to RGB"
    assert backend.messages == ["The gray image was converted to RGB so the colors show (the same undo returns it "
                                "to gray)."]
    assert image.layers[0].bpp == 8 and len(_pixels(image.layers[0])) == 32 * 24 * 8
    assert _pixels(source) == before


def test_select_object_replaces_the_selection_with_the_object(backend, photo, daemon) -> None:
    image, source = photo(64, 48)
    # a bright disc on a dark background: the object the rough box should be refined to
    data = bytearray()
    for y in range(48):
        for x in range(64):
            v = 230 if (x - 30) ** 2 + (y - 22) ** 2 < 100 else 20
            data += bytes([v, v, v, 255])
    source.get_pixel_rgn(0, 0, 64, 48)[:, :] = bytes(data)
    select_rect(image, 16, 8, 28, 28)
    image.undo.clear()
    backend.run(P + "select-object", image, source, endpoint=daemon.endpoint)
    non_empty, x1, y1, x2, y2 = backend.pdb.gimp_selection_bounds(image)
    assert non_empty and (x1, y1, x2, y2) != (16, 8, 44, 36)
    assert image.selection.data[22 * 64 + 30] == 255 and image.selection.data[0] == 0
    assert image.channels == [] and image.undo_steps == 1


def test_auto_segment_into_a_layer_group_of_masks(backend, photo, daemon) -> None:
    image, source = photo()
    backend.run(P + "auto-segment", image, source, endpoint=daemon.endpoint, max_segments=8)
    group = image.layers[0]
    assert group.children and group.name.startswith("Segments · Photo · ") and image.layers[1] is source
    assert all(c.name.startswith("Segment ") for c in group.children) and len(group.children) <= 8
    assert all(c.opacity == SEGMENT_OPACITY < 100 for c in group.children)  # tints over the photo, not hiding it
    # the masks (alpha) tile the layer: every pixel belongs to at most one segment
    alphas = [_pixels(c)[3::4] for c in group.children]
    assert all(sum(1 for a in column if a) <= 1 for column in zip(*alphas))
    assert image.undo_steps == 1


def test_auto_segment_into_channels(backend, photo, daemon) -> None:
    image, source = photo()
    backend.run(P + "auto-segment", image, source, endpoint=daemon.endpoint, output=1)
    assert image.channels and all(" · Segment " in c.name for c in image.channels)
    assert [x.name for x in image.layers] == ["Photo"] and image.undo_steps == 1


def test_select_segment_makes_a_segment_layer_or_channel_the_selection(backend, photo, daemon) -> None:
    image, source = photo()
    backend.run(P + "auto-segment", image, source, endpoint=daemon.endpoint, max_segments=8)
    segment = image.layers[0].children[-1]
    image.undo.clear()
    backend.run(P + "select-segment", image, segment)  # no endpoint: the daemon is not needed
    assert bytes(image.selection.data) == _pixels(segment)[3::4]  # the segment layer's alpha, as it lies on the canvas
    assert image.channels == [] and image.undo_steps == 1
    backend.run(P + "auto-segment", image, source, endpoint=daemon.endpoint, output=1)
    channel = image.channels[0]
    image.undo.clear()
    message = backend.run(P + "select-segment", image, channel)
    assert message == f"Selected {channel.name.split(' · ')[-1]!r}." and ("init", message) in backend.progress
    assert image.selection.data == channel.data and image.undo_steps == 1
    assert [c.name for c in image.channels][0] == channel.name


def test_select_segment_refuses_unless_a_segment_is_active(backend, photo) -> None:
    image, source = photo()
    select_rect(image, 4, 4, 10, 10)
    before, undo = bytes(image.selection.data), image.undo_steps
    with pytest.raises(ProcedureError, match="^Select Segment: make a segment of an Auto-Segment group active first"):
        backend.run(P + "select-segment", image, source)
    assert bytes(image.selection.data) == before and image.undo_steps == undo


def test_harmonize_adds_a_layer_and_keeps_painted_colors(backend, photo, daemon) -> None:
    image, source = photo()
    colored = bytearray(gray_ramp(48, 40))
    colored[0::4] = bytes((v + 40) % 256 for v in colored[0::4])
    source.get_pixel_rgn(0, 0, 48, 40)[:, :] = bytes(colored)
    _paint_hints(image)
    image.undo.clear()
    backend.run(P + "harmonize", image, source, endpoint=daemon.endpoint)
    assert [x.name for x in image.layers] == [naming.HINT_LAYER_NAME, "Harmonized · Photo · hints kept", "Photo"]
    result = image.layers[1]
    assert result.mode == LAYER_MODE_NORMAL and _pixels(source) == bytes(colored) and image.undo_steps == 1


def test_the_active_hint_layer_leads_to_its_photo_and_results_stack_newest_on_top(backend, photo, daemon) -> None:
    image, source = photo()
    other = add_layer(image, "Sketch", gray_ramp(48, 40))  # above the photo: the hint layer must not take it
    backend.run(P + "add-hint-layer", image, source)
    hints = image.layers[1]
    assert hints.name == naming.HINT_LAYER_NAME and image.layers[0] is other
    hints.get_pixel_rgn(0, 0, 4, 4)[:, :] = bytes([220, 30, 30, 255]) * 16
    backend.run(P + "colorize-layer", image, hints, endpoint=daemon.endpoint, vibrancy=0.2, model_vibrancy=False)
    first = image.layers[2]
    assert first.name == "Colorized · Photo · vibrancy 0.2 · hints"  # the photo, with its hints
    backend.run(P + "colorize-layer", image, first, endpoint=daemon.endpoint, vibrancy=0.9, model_vibrancy=False)
    assert [x.name for x in image.layers] == [
        "Sketch", naming.HINT_LAYER_NAME, "Colorized · Photo · vibrancy 0.9 · hints",
        "Colorized · Photo · vibrancy 0.2 · hints", "Photo"]
    backend.run(P + "harmonize", image, image.layers[2], endpoint=daemon.endpoint)  # harmonize: the colors it holds
    assert image.layers[2].name.startswith("Harmonized · Colorized · Photo · vibrancy 0.9")


def test_add_hint_layer_once(backend, photo) -> None:
    image, source = photo()
    backend.run(P + "add-hint-layer", image, source)
    backend.run(P + "add-hint-layer", image, source)
    assert [x.name for x in image.layers] == [naming.HINT_LAYER_NAME, "Photo"] and image.undo_steps == 1


def test_failures_leave_the_image_as_it_was_with_a_clear_message(backend, photo, daemon, monkeypatch) -> None:
    image, source = photo()
    with pytest.raises(ProcedureError, match="needs a selection"):
        backend.run(P + "colorize-selection", image, source, endpoint=daemon.endpoint)
    with pytest.raises(ProcedureError, match="Select object needs a prompt"):
        backend.run(P + "select-object", image, source, endpoint=daemon.endpoint)
    # a published colorizer this daemon has not installed: the fetch command, never another model's result
    with pytest.raises(ProcedureError, match=r"run `chromaseg weights fetch siggraph17`"):
        backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint, colorizer="siggraph17")
    with pytest.raises(ProcedureError, match="colorizer must be a colorizer name"):
        backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint, colorizer="../my file")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(procedures, "base_settings", replace(procedures.base_settings, autostart=False))
    with pytest.raises(ProcedureError, match="daemon is not running"):
        backend.run(P + "colorize-layer", image, source, endpoint=free)
    monkeypatch.setattr(procedures, "base_settings", replace(procedures.base_settings, autostart=True,
                                                             daemon_command="false"))
    with pytest.raises(ProcedureError, match="exited at start"):
        backend.run(P + "auto-segment", image, source, endpoint=free)
    image.base_type = INDEXED
    with pytest.raises(ProcedureError, match="Indexed images"):
        backend.run(P + "colorize-layer", image, source, endpoint=daemon.endpoint)
    assert [x.name for x in image.layers] == ["Photo"] and image.undo_steps == 0 and image.channels == []


def test_hint_at_selection_fills_the_foreground_on_the_hint_layer_in_one_undo_step(backend, photo) -> None:
    image, source = photo(base_type=GRAY)
    with pytest.raises(ProcedureError, match="select where the color goes"):
        backend.run(P + "hint-at-selection", image, source)
    select_rect(image, 4, 5, 3, 2)
    image.undo.clear()
    before = bytes(source.data)
    message = backend.run(P + "hint-at-selection", image, source)
    assert message.startswith("Painted a #ff8000 hint over the selection on 'Color hints'")
    hints = image.layers[0]
    assert hints.name == naming.HINT_LAYER_NAME and image.base_type == RGB
    painted = [i for i in range(image.width * image.height) if hints.data[4 * i + 3]]
    assert painted == [y * image.width + x for y in (5, 6) for x in (4, 5, 6)]
    assert hints.data[4 * painted[0] : 4 * painted[0] + 4] == bytes([255, 128, 0, 255])
    assert image.undo_steps == 1 and bytes(source.data) == before  # layer, conversion and fill: one undo
    backend.run(P + "hint-at-selection", image, source)  # a second hint goes on the same layer
    assert [x.name for x in image.layers] == [naming.HINT_LAYER_NAME, "Photo"] and image.undo_steps == 2


def test_the_clicks_layer_leads_back_to_its_photo(backend, photo) -> None:
    image, source = photo()
    assert backend.run(P + "add-clicks-layer", image, source).startswith("Added 'Object clicks'")
    clicks = image.layers[0]
    assert clicks.name == naming.CLICKS_LAYER_NAME and image.undo_steps == 1
    assert GimpDocument(image, clicks).layer_name() == "Photo"


def test_preview_opens_a_new_image_with_before_and_after_and_leaves_the_artists_alone(backend, photo,
                                                                                     daemon) -> None:
    image, source = photo(96, 64)
    before = _pixels(source)
    message = backend.run(P + "preview", image, source, endpoint=daemon.endpoint, preview_size=64)
    assert message == ("Preview 64x43 of 'Photo' opened as a new image (hide its 'After' layer to see before); your "
                       "image is unchanged, Colorize layer colorizes it at full size.")
    assert ("init", message) in backend.progress and backend.progress[-1] == ("end", "")
    (shown,) = backend.images
    assert (shown.width, shown.height, shown.base_type, shown.bits) == (64, 43, RGB, 8)
    assert [layer.name for layer in shown.layers] == ["After", "Before"]  # After on top, both visible
    after, low = shown.layers
    assert all(layer.visible and (layer.width, layer.height, layer.offsets) == (64, 43, (0, 0))
               for layer in shown.layers)
    assert _chroma(_pixels(after)) > 0 and _chroma(_pixels(low)) == 0
    # Before is the photo scaled down, nearest: preview pixel (x, y) is the photo's pixel at its center
    x, y = 10, 7
    sx, sy = (2 * x + 1) * 96 // 128, (2 * y + 1) * 64 // 86
    assert _pixels(low)[4 * (y * 64 + x) : 4 * (y * 64 + x) + 4] == before[4 * (sy * 96 + sx) : 4 * (sy * 96 + sx) + 4]
    assert not shown.dirty and backend.displays == []  # a script's run: no window, and closing it asks nothing
    # the artist's image: no new layer, no undo step, the same pixels
    assert [x.name for x in image.layers] == ["Photo"] and image.undo_steps == 0 and _pixels(source) == before


def test_preview_of_a_selection_from_the_dialog_shows_the_new_image(backend, photo, daemon) -> None:
    image, source = photo(64, 48)
    select_rect(image, 20, 16, 12, 10)
    image.undo.clear()
    backend.interactive = True
    message = backend.run(P + "preview", image, source, endpoint=daemon.endpoint, preview_size=32)
    assert "of the selection of 'Photo'" in message and "Colorize selection colorizes it" in message
    (shown,) = backend.images
    assert backend.displays == [shown] and (shown.width, shown.height) == (32, 31)  # the 44x42 region sent
    assert [x.name for x in image.layers] == ["Photo"] and image.undo_steps == 0
    with pytest.raises(ValueError, match="'preview_size': 16 is outside"):  # refused before anything is read
        backend.run(P + "preview", image, source, endpoint=daemon.endpoint, preview_size=16)
    assert len(backend.images) == 1
