import struct

import pytest

from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.pixels import (
    PixelFormat,
    alpha_mask,
    any_set,
    from_wire,
    label_masks,
    rgba_from_mask,
    swap_red_blue,
    to_wire,
)


def test_bgra_u8_round_trip_swaps_red_and_blue() -> None:
    fmt = PixelFormat("u8", "BGRA")
    bgra = bytes([1, 2, 3, 4, 5, 6, 7, 8])
    wire = to_wire(bgra, fmt)
    assert bytes(wire) == bytes([3, 2, 1, 4, 7, 6, 5, 8])
    assert bytes(from_wire(wire, fmt)) == bgra
    assert fmt.wire_dtype == "u8" and fmt.pixel_bytes == 4


def test_bgra_u16_swaps_whole_little_endian_channels() -> None:
    fmt = PixelFormat("u16", "BGRA")
    bgra = struct.pack("<8H", 0x0102, 0x0304, 0x0506, 0xFFFF, 1, 2, 3, 0)
    wire = to_wire(bgra, fmt)
    assert struct.unpack("<8H", wire) == (0x0506, 0x0304, 0x0102, 0xFFFF, 3, 2, 1, 0)
    assert bytes(from_wire(memoryview(wire), fmt)) == bgra


def test_rgba_formats_pass_through_and_half_floats_widen_to_f32() -> None:
    assert bytes(to_wire(memoryview(b"abcd"), PixelFormat("u8", "RGBA"))) == b"abcd"
    fmt = PixelFormat("f16", "RGBA")
    half = struct.pack("<8e", 0.5, 0.25, 1.0, 0.0, 0.125, 0.75, 0.0, 1.0)
    wire = to_wire(half, fmt)
    assert fmt.wire_dtype == "f32"
    assert struct.unpack("<8f", wire) == (0.5, 0.25, 1.0, 0.0, 0.125, 0.75, 0.0, 1.0)
    assert from_wire(wire, fmt) == half
    f32 = struct.pack("<4f", 0.1, 0.2, 0.3, 1.0)
    assert bytes(from_wire(to_wire(f32, PixelFormat("f32")), PixelFormat("f32"))) == f32


def test_swap_is_its_own_inverse() -> None:
    data = bytes(range(64))
    for itemsize in (1, 2, 4):
        assert bytes(swap_red_blue(swap_red_blue(data, itemsize), itemsize)) == data


def test_unknown_depth_is_an_artist_readable_refusal() -> None:
    with pytest.raises(PluginError, match="not supported"):
        PixelFormat("u32")


def test_alpha_mask_over_one_to_four_byte_channels() -> None:
    assert alpha_mask(bytes([9, 9, 9, 0, 9, 9, 9, 1, 0, 0, 0, 255]), 1) == bytes([0, 255, 255])
    u16 = struct.pack("<12H", 1, 1, 1, 0, 1, 1, 1, 0x0100, 1, 1, 1, 1)
    assert alpha_mask(u16, 2) == bytes([0, 255, 255])
    f32 = struct.pack("<8f", 1, 1, 1, 0.0, 0, 0, 0, 1e-6)
    assert alpha_mask(f32, 4) == bytes([0, 255])
    assert not any_set(bytes(5)) and any_set(bytes([0, 0, 3]))


def test_label_masks_from_an_i32_label_map() -> None:
    labels = struct.pack("<6i", 0, 1, 1, 3, 0, 3)
    masks = label_masks(labels, 3)
    assert masks == [(1, bytes([0, 255, 255, 0, 0, 0])), (3, bytes([0, 0, 0, 255, 0, 255]))]
    with pytest.raises(PluginError, match="above 255"):
        label_masks(struct.pack("<2i", 1, 256), 3)
    with pytest.raises(ValueError):
        label_masks(labels, 300)


def test_rgba_from_mask_is_one_color_with_the_mask_as_alpha_in_every_depth_and_order() -> None:
    mask = bytes([0, 51, 255])
    assert rgba_from_mask(mask, (1.0, 0.5, 0.0), PixelFormat("u8", "RGBA")) == bytes(
        [255, 128, 0, 0, 255, 128, 0, 51, 255, 128, 0, 255])
    assert rgba_from_mask(mask, (1.0, 0.5, 0.0), PixelFormat("u8", "BGRA"))[:4] == bytes([0, 128, 255, 0])
    assert struct.unpack("<4H", rgba_from_mask(mask, (1.0, 1.0, 1.0), PixelFormat("u16", "BGRA"))[8:16]) == (
        65535, 65535, 65535, 51 * 257)
    assert struct.unpack("<8f", rgba_from_mask(mask[1:], (1.0, 1.0, 1.0), PixelFormat("f32"))) == pytest.approx(
        (1.0, 1.0, 1.0, 0.2, 1.0, 1.0, 1.0, 1.0))
    assert struct.unpack("<4e", rgba_from_mask(mask[2:], (0.25, 0.5, 1.0), PixelFormat("f16"))) == (0.25, 0.5, 1.0, 1.0)
