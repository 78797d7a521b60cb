"""The in-memory gimpfu backend behaves like GIMP where the plug-in relies on it: pixel regions, shadow buffers,
undo groups, selection bounds and combination, masks, layer groups."""
from __future__ import annotations

import pytest
from gimp_test_images import add_layer, select_rect

from chromaseg.plugins.gimp.gimpfu import (
    ADD_MASK_SELECTION,
    CHANNEL_OP_ADD,
    CHANNEL_OP_SUBTRACT,
    LAYER_MODE_NORMAL,
    RGBA_IMAGE,
    gimp,
    pdb,
)
from memory import MemChannel, MemImage


def test_pixel_region_reads_and_writes_rectangles(backend) -> None:
    image = MemImage(4, 3)
    layer = add_layer(image, "L", bytes(range(48)))
    rgn = layer.get_pixel_rgn(1, 1, 3, 2, True, False)
    assert rgn[1:3, 1:2] == bytes(range(20, 28))
    rgn[2:4, 2:3] = b"\x01" * 8
    assert layer.get_pixel_rgn(0, 2, 4, 1, False)[0:4, 2:3] == bytes(range(32, 40)) + b"\x01" * 8
    with pytest.raises(IndexError, match="outside the region"):
        rgn[0:2, 1:2]
    with pytest.raises(ValueError, match="need 8 bytes"):
        rgn[1:2, 1:3] = b"\x00" * 4
    with pytest.raises(ValueError, match="read-only"):
        layer.get_pixel_rgn(0, 0, 4, 3, False)[0:1, 0:1] = b"\x00" * 4


def test_shadow_writes_land_on_merge_shadow_as_one_undo_step(backend) -> None:
    image = MemImage(2, 2)
    layer = add_layer(image, "L", b"\x10" * 16)
    steps = image.undo_steps
    rgn = layer.get_pixel_rgn(0, 0, 2, 2, True, True)
    rgn[0:2, 0:2] = b"\x20" * 16
    assert layer.get_pixel_rgn(0, 0, 2, 2, False)[:, :] == b"\x10" * 16  # not yet merged
    assert rgn[0:1, 0:1] == b"\x20" * 4  # the shadow reads back its own writes
    layer.merge_shadow(True)
    assert layer.get_pixel_rgn(0, 0, 2, 2, False)[:, :] == b"\x20" * 16
    assert image.undo_steps == steps + 1


def test_merge_shadow_commits_only_the_selected_pixels(backend) -> None:
    image = MemImage(3, 2)
    layer = add_layer(image, "L", b"\x10" * 24)
    select_rect(image, 1, 0, 1, 2)
    layer.get_pixel_rgn(0, 0, 3, 2, True, True)[:, :] = b"\x20" * 24
    layer.merge_shadow(True)
    assert layer.get_pixel_rgn(0, 0, 3, 2, False)[:, :] == (b"\x10" * 4 + b"\x20" * 4 + b"\x10" * 4) * 2


def test_undo_groups_nest_and_count_as_one_step(backend) -> None:
    image = MemImage(2, 2)
    pdb.gimp_image_undo_group_start(image)
    add_layer(image, "A", bytes(16))
    pdb.gimp_image_undo_group_start(image)
    add_layer(image, "B", bytes(16))
    pdb.gimp_image_undo_group_end(image)
    assert image.undo_group_open
    pdb.gimp_image_undo_group_end(image)
    assert image.undo_steps == 1 and len(image.undo[0]) == 4
    with pytest.raises(RuntimeError):
        pdb.gimp_image_undo_group_end(image)


def test_selection_bounds_and_combination(backend) -> None:
    image = MemImage(10, 8)
    assert pdb.gimp_selection_bounds(image) == (False, 0, 0, 10, 8)
    select_rect(image, 2, 3, 4, 2)
    assert pdb.gimp_selection_bounds(image) == (True, 2, 3, 6, 5)
    other = MemChannel(image, "o", 10, 8)
    other.data[0] = 255
    pdb.gimp_image_select_item(image, CHANNEL_OP_ADD, other)
    assert pdb.gimp_selection_bounds(image) == (True, 0, 0, 6, 5)
    pdb.gimp_image_select_item(image, CHANNEL_OP_SUBTRACT, other)
    assert pdb.gimp_selection_bounds(image) == (True, 2, 3, 6, 5)


def test_selection_mask_groups_and_lookup(backend) -> None:
    image = MemImage(6, 4)
    add_layer(image, "Photo", bytes(96))
    select_rect(image, 1, 1, 2, 2)
    layer = gimp.Layer(image, "R", 4, 3, RGBA_IMAGE, 100.0, LAYER_MODE_NORMAL)
    pdb.gimp_image_insert_layer(image, layer, None, 0)
    layer.set_offsets(1, 0)
    mask = layer.create_mask(ADD_MASK_SELECTION)
    layer.add_mask(mask)
    assert layer.mask.get_pixel_rgn(0, 0, 4, 3, False)[:, :] == bytes([0] * 4 + [255, 255, 0, 0] * 2)
    group = gimp.GroupLayer(image, "G")
    pdb.gimp_image_insert_layer(image, group, None, 0)
    child = gimp.Layer(image, "child", 2, 2, RGBA_IMAGE, 100.0, LAYER_MODE_NORMAL)
    pdb.gimp_image_insert_layer(image, child, group, 0)
    assert [x.name for x in image.layers] == ["G", "R", "Photo"] and child.parent is group
    assert pdb.gimp_image_get_layer_by_name(image, "child") is child
    assert pdb.gimp_image_get_layer_by_name(image, "nope") is None
    with pytest.raises(ValueError, match="not a layer group"):
        pdb.gimp_image_insert_layer(image, gimp.Layer(image, "x", 1, 1, RGBA_IMAGE, 100, LAYER_MODE_NORMAL), layer, 0)


def test_messages_and_progress_are_recorded(backend) -> None:
    gimp.message("hello")
    gimp.progress_init("Working")
    gimp.progress_update(0.5)
    gimp.progress_end()
    assert backend.messages == ["hello"]
    assert backend.progress == [("init", "Working"), ("update", 0.5), ("end", "")]
