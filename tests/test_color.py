"""sRGB <-> Lab against published values, a reference library, and properties (NumPy and torch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab, to_unit_float

# Published sRGB (D65) -> CIELAB values (Lindbloom's calculator; the IEC 61966-2-1 matrix).
REFERENCE = [
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
    ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
    ((128, 128, 128), (53.5850, 0.0, 0.0)),
    ((255, 255, 0), (97.1393, -21.5537, 94.4780)),
]


@pytest.mark.parametrize("rgb, lab", REFERENCE)
def test_published_values(rgb, lab):
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb, np.uint8)), lab, atol=2e-3)
    np.testing.assert_allclose(srgb_to_lab(torch.tensor(rgb, dtype=torch.uint8)).numpy(), lab, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_agrees_with_colour_science(dtype):
    colour = pytest.importorskip("colour")
    rng = np.random.default_rng(1)
    unit = rng.random((4000, 3))
    if dtype in (np.uint8, np.uint16):
        x = np.rint(unit * np.iinfo(dtype).max).astype(dtype)
    else:
        x = unit.astype(dtype)
    reference = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(to_unit_float(x).astype(np.float64)))
    assert np.abs(srgb_to_lab(x) - reference).max() < 0.05
    tensor = torch.from_numpy(x.astype(np.int32)).to(torch.uint16) if dtype == np.uint16 else torch.from_numpy(x)
    assert np.abs(srgb_to_lab(tensor).numpy() - reference).max() < 0.05


def test_every_uint8_color_round_trips_within_one_code():
    levels = np.arange(0, 256, 5, dtype=np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    back = lab_to_srgb(srgb_to_lab(cube))
    assert np.abs(back * 255 - cube).max() < 1.0
    np.testing.assert_array_equal(from_unit_float(back, np.uint8), cube)


def test_uint16_round_trip_within_1_over_255():
    x = np.random.default_rng(2).integers(0, 65536, (5000, 3), dtype=np.uint16)
    back = lab_to_srgb(srgb_to_lab(x))
    assert np.abs(back - x / 65535.0).max() < 1 / 255


def test_neutral_colors_have_exactly_zero_chroma():
    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    assert not srgb_to_lab(gray)[:, 1:].any()
    assert not srgb_to_lab(torch.from_numpy(gray))[:, 1:].any()
    assert not srgb_to_lab(np.repeat(np.linspace(0, 1, 999, dtype=np.float32)[:, None], 3, axis=1))[:, 1:].any()


def test_out_of_gamut_lab_is_clipped_in_linear_rgb():
    lab = np.array([[50.0, 150.0, 0.0], [50.0, -150.0, 90.0], [120.0, 0.0, 0.0], [-10.0, 0.0, 0.0]], np.float32)
    rgb = lab_to_srgb(lab)
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    np.testing.assert_allclose(rgb[2], [1, 1, 1], atol=1e-6)  # L > 100 clips to white
    np.testing.assert_allclose(rgb[3], [0, 0, 0], atol=1e-6)  # L < 0 clips to black
    # Clipping happens before the transfer curve: the same result as clipping linear light by hand.
    colour = pytest.importorskip("colour")
    lin = colour.XYZ_to_sRGB(colour.Lab_to_XYZ(lab[:2].astype(np.float64)), apply_cctf_encoding=False)
    expected = colour.cctf_encoding(np.clip(lin, 0, 1), function="sRGB")
    np.testing.assert_allclose(rgb[:2], expected, atol=2e-3)


def test_torch_matches_numpy_and_has_finite_gradients():
    x = torch.rand(64, 3, dtype=torch.float32)
    x[0] = 0.0  # the dark, linear branch
    x.requires_grad_(True)
    lab = srgb_to_lab(x)
    np.testing.assert_allclose(lab.detach().numpy(), srgb_to_lab(x.detach().numpy()), atol=1e-3)
    back = lab_to_srgb(lab)
    np.testing.assert_allclose(back.detach().numpy(), lab_to_srgb(lab.detach().numpy()), atol=1e-5)
    back.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_shapes_are_kept():
    x = np.zeros((2, 3, 5, 3), np.uint8)
    assert srgb_to_lab(x).shape == x.shape and srgb_to_lab(x).dtype == np.float32
    assert lab_to_srgb(srgb_to_lab(x)).shape == x.shape
    big = np.random.default_rng(3).integers(0, 256, (300, 200, 3), dtype=np.uint8)  # several threaded chunks
    np.testing.assert_allclose(srgb_to_lab(big)[123, 45], srgb_to_lab(big[123, 45]), atol=1e-3)


@pytest.mark.parametrize("bad", [np.zeros((4, 3), np.int32), np.zeros((4, 3), bool)])
def test_bad_dtype_is_a_clear_error(bad):
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        srgb_to_lab(bad)


def test_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        srgb_to_lab(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        lab_to_srgb(np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError):
        lab_to_srgb(np.zeros((4, 3), np.uint8))


def test_unit_float_conversions():
    np.testing.assert_array_equal(from_unit_float(to_unit_float(np.arange(256, dtype=np.uint8)), np.uint8),
                                  np.arange(256))
    x16 = np.arange(0, 65536, 97, dtype=np.uint16)
    np.testing.assert_array_equal(from_unit_float(to_unit_float(x16), np.uint16), x16)
    assert from_unit_float(np.array([-0.5, 1.5], np.float32), np.float32).tolist() == [0.0, 1.0]
    with pytest.raises(TypeError):
        to_unit_float(np.zeros(3, np.int64))


unit_rgb = arrays(np.float32, st.tuples(st.integers(1, 40), st.just(3)),
                  elements=st.floats(0, 1, width=32))


@settings(max_examples=60, deadline=None)
@given(unit_rgb)
def test_round_trip_property(rgb):
    back = lab_to_srgb(srgb_to_lab(rgb))
    assert np.abs(back - rgb).max() < 1 / 255


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.just(3)),
              elements=st.floats(-200, 200, width=32)))
def test_any_lab_maps_into_the_unit_cube(lab):
    rgb = lab_to_srgb(lab)
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


@settings(max_examples=40, deadline=None)
@given(unit_rgb)
def test_lab_ranges(rgb):
    lab = srgb_to_lab(rgb)
    assert (lab[:, 0] >= -1e-3).all() and (lab[:, 0] <= 100 + 1e-3).all()
    assert np.abs(lab[:, 1:]).max() < 128
