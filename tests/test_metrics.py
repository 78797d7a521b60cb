"""Tests of chromaseg.core.metrics: hand-computed values, published reference data, reference libraries (used here
only as references: scikit-image for PSNR/SSIM, colour-science for CIEDE2000), property tests and dtype invariance."""
from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chromaseg.core.classes import ab_to_class
from chromaseg.core.color import lab_to_srgb, srgb_to_lab
from chromaseg.core.metrics import ciede2000, cnr, colorfulness, mean_ciede2000, psnr, ssim

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # colour-science warns that matplotlib is missing
    import colour

from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA = Path(__file__).parent / "data"
PROPS = settings(max_examples=60, deadline=None)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _photo_like(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Float64 image in [0, 1]: smooth gradients plus noise, so SSIM sees structure, not just noise."""
    rng = _rng(seed)
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(6 * xx + 3 * yy)
    if len(shape) == 3:
        base = base[..., None] * np.linspace(0.6, 1.0, shape[2])
    return np.clip(base + 0.1 * rng.standard_normal(shape), 0.0, 1.0)


def _dtype_copies(u8: np.ndarray) -> list[np.ndarray]:
    """The same picture as uint8, uint16 (v * 257 is exactly v / 255 of full scale), float32 and float64."""
    return [u8, u8.astype(np.uint16) * np.uint16(257), (u8 / 255.0).astype(np.float32), u8 / 255.0]


# --- PSNR ----------------------------------------------------------------------------------------------------------


def test_psnr_hand_values() -> None:
    gt = np.zeros((4, 4, 3))
    assert psnr(gt + 0.1, gt) == pytest.approx(20.0, abs=1e-5)  # MSE 0.01
    # One of 12 uint8 values off by the full range: MSE = 1/12 on the [0, 1] scale.
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert psnr(a, b) == pytest.approx(10 * math.log10(12), abs=1e-9)
    # data_range is the peak on the [0, 1] scale.
    assert psnr(a, b, data_range=0.5) == pytest.approx(10 * math.log10(12) - 20 * math.log10(2), abs=1e-9)


def test_psnr_identical_is_inf() -> None:
    img = (_photo_like((16, 16, 3), 1) * 255).astype(np.uint8)
    assert psnr(img, img) == math.inf
    assert psnr(img / 255.0, img / 255.0) == math.inf


def test_psnr_matches_skimage() -> None:
    a, b = _photo_like((32, 24, 3), 2), _photo_like((32, 24, 3), 3)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-4)


def test_psnr_dtype_invariance() -> None:
    rng = _rng(4)
    a8 = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    b8 = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    values = [psnr(a, b) for a, b in zip(_dtype_copies(a8), _dtype_copies(b8))]
    assert values == pytest.approx([values[0]] * 4, abs=1e-4)
    assert psnr(a8, b8 / 255.0) == pytest.approx(values[0], abs=1e-4)  # mixed dtypes are fine


# --- SSIM ----------------------------------------------------------------------------------------------------------


def test_ssim_constant_images_hand_value() -> None:
    # Constant images: zero variances and covariance, so SSIM = (2 x y + C1) / (x^2 + y^2 + C1) everywhere.
    c1 = 0.01**2
    x, y = 0.5, 0.25
    expected = (2 * x * y + c1) / (x * x + y * y + c1)
    assert ssim(np.full((12, 13, 3), x), np.full((12, 13, 3), y)) == pytest.approx(expected, abs=1e-12)


def test_ssim_identical_is_one() -> None:
    img = _photo_like((20, 20, 3), 5)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "shape,seeds",
    [((11, 11, 3), (6, 7)), ((40, 33, 3), (8, 9)), ((64, 48), (10, 11)), ((25, 70, 4), (12, 13))],
)
def test_ssim_matches_skimage(shape: tuple[int, ...], seeds: tuple[int, int]) -> None:
    a, b = _photo_like(shape, seeds[0]), _photo_like(shape, seeds[1])
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        channel_axis=-1 if len(shape) == 3 else None,
    )
    assert ssim(a, b) == pytest.approx(ref, abs=1e-4)


def test_ssim_dtype_invariance() -> None:
    a8 = (_photo_like((24, 24, 3), 14) * 255).round().astype(np.uint8)
    b8 = (_photo_like((24, 24, 3), 15) * 255).round().astype(np.uint8)
    values = [ssim(a, b) for a, b in zip(_dtype_copies(a8), _dtype_copies(b8))]
    assert values == pytest.approx([values[0]] * 4, abs=1e-6)


@PROPS
@given(hnp.arrays(np.uint8, (12, 14, 3)), hnp.arrays(np.uint8, (12, 14, 3)))
def test_ssim_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    s = ssim(a, b)
    assert s == pytest.approx(ssim(b, a), abs=1e-12)
    assert -1.0 - 1e-12 <= s <= 1.0 + 1e-12


def test_ssim_rejects_small_or_bad_images() -> None:
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((10, 20, 3)), np.zeros((10, 20, 3)))
    with pytest.raises(ValueError, match="HxW"):
        ssim(np.zeros((2, 12, 12, 3)), np.zeros((2, 12, 12, 3)))


# --- CIEDE2000 -----------------------------------------------------------------------------------------------------


def _sharma_rows() -> list[dict[str, float]]:
    with open(DATA / "ciede2000_sharma.csv", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(lines)]


SHARMA = _sharma_rows()


def _pair(row: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([row["L1"], row["a1"], row["b1"]]), np.array([row["L2"], row["a2"], row["b2"]]))


def test_sharma_table_is_complete() -> None:
    assert [int(r["pair"]) for r in SHARMA] == list(range(1, 35))


@pytest.mark.parametrize("row", SHARMA, ids=lambda r: f"pair{int(r['pair'])}")
def test_ciede2000_sharma_table(row: dict[str, float]) -> None:
    lab1, lab2 = _pair(row)
    published = row["dE00"]
    ref = float(colour.delta_E(lab1, lab2, method="CIE 2000"))
    # The transcribed table and the reference library must agree to the table's 4 decimals...
    assert abs(ref - published) <= 5e-5 + 1e-12
    # ...and so must ours, in both orders (pairs 7 and 8 are one pair swapped).
    assert abs(float(ciede2000(lab1, lab2)) - published) <= 5e-5 + 1e-12
    assert abs(float(ciede2000(lab2, lab1)) - published) <= 5e-5 + 1e-12
    assert float(ciede2000(lab1, lab2)) == pytest.approx(ref, abs=1e-10)


def test_ciede2000_vectorized_shapes_and_broadcasting() -> None:
    lab1 = np.array([[r["L1"], r["a1"], r["b1"]] for r in SHARMA])
    lab2 = np.array([[r["L2"], r["a2"], r["b2"]] for r in SHARMA])
    published = np.array([r["dE00"] for r in SHARMA])
    flat = ciede2000(lab1, lab2)
    assert flat.shape == (34,) and flat.dtype == np.float64
    np.testing.assert_allclose(flat, published, atol=5e-5 + 1e-12, rtol=0)
    np.testing.assert_array_equal(ciede2000(lab1.reshape(2, 17, 3), lab2.reshape(2, 17, 3)), flat.reshape(2, 17))
    # One reference color against many (pairs 17-24 share lab1 = (50, 2.5, 0)).
    one = ciede2000(lab1[16], lab2[16:24])
    np.testing.assert_allclose(one, published[16:24], atol=5e-5 + 1e-12, rtol=0)
    assert float(ciede2000((50, 2, 3), (50, 2, 3))) == 0.0  # plain tuples / integer Lab


def test_ciede2000_lightness_only_hand_value() -> None:
    # Achromatic pair: only the lightness term is left. L-bar = 55, S_L = 1 + 0.015 * 25 / sqrt(20 + 25).
    s_l = 1 + 0.015 * 25 / math.sqrt(45)
    assert float(ciede2000((50, 0, 0), (60, 0, 0))) == pytest.approx(10 / s_l, abs=1e-12)
    assert float(ciede2000((50, 0, 0), (60, 0, 0), kL=2)) == pytest.approx(5 / s_l, abs=1e-12)
    # At L-bar = 50, S_L = 1: black-to-white is exactly 100.
    assert float(ciede2000((0, 0, 0), (100, 0, 0))) == pytest.approx(100.0, abs=1e-12)


def test_ciede2000_parametric_factors_match_colour_textiles() -> None:
    lab1 = np.array([[r["L1"], r["a1"], r["b1"]] for r in SHARMA])
    lab2 = np.array([[r["L2"], r["a2"], r["b2"]] for r in SHARMA])
    ref = colour.delta_E(lab1, lab2, method="CIE 2000", textiles=True)  # kL = 2, kC = kH = 1
    np.testing.assert_allclose(ciede2000(lab1, lab2, kL=2), ref, atol=1e-10)


_LAB = st.tuples(
    st.floats(0, 100, allow_nan=False), st.floats(-128, 127, allow_nan=False), st.floats(-128, 127, allow_nan=False)
)


@PROPS
@given(st.lists(st.tuples(_LAB, _LAB), min_size=1, max_size=20))
def test_ciede2000_properties(pairs: list) -> None:
    lab1 = np.array([p[0] for p in pairs])
    lab2 = np.array([p[1] for p in pairs])
    d12 = ciede2000(lab1, lab2)
    assert np.all(np.isfinite(d12)) and np.all(d12 >= 0)
    np.testing.assert_allclose(d12, ciede2000(lab2, lab1), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ciede2000(lab1, lab1), 0.0)
    np.testing.assert_allclose(d12, colour.delta_E(lab1, lab2, method="CIE 2000"), rtol=1e-9, atol=1e-9)


def test_ciede2000_input_errors() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        ciede2000(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="broadcast"):
        ciede2000(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(TypeError, match="Lab"):
        ciede2000(np.zeros((4, 3), bool), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="kC"):
        ciede2000(np.zeros(3), np.zeros(3), kC=0)


# --- mean CIEDE2000 -----------------------------------------------------------------------------------------------


def test_mean_ciede2000_values() -> None:
    img = (_photo_like((16, 16, 3), 16) * 255).astype(np.uint8)
    assert mean_ciede2000(img, img) == 0.0
    black = np.zeros((2, 2, 3), np.uint8)
    white = np.full((2, 2, 3), 255, np.uint8)
    assert mean_ciede2000(black, white) == pytest.approx(100.0, abs=1e-3)  # L 0 vs 100, a* b* ~ 0
    # Half the pixels differ by black-to-white, the rest not at all.
    half = black.copy()
    half[0] = 255
    assert mean_ciede2000(black, half) == pytest.approx(50.0, abs=1e-3)


def test_mean_ciede2000_matches_colour() -> None:
    a, b = _photo_like((10, 12, 3), 17), _photo_like((10, 12, 3), 18)
    ref = np.mean(colour.delta_E(srgb_to_lab(a).astype(np.float64), srgb_to_lab(b).astype(np.float64),
                                 method="CIE 2000"))
    assert mean_ciede2000(a, b) == pytest.approx(float(ref), abs=1e-9)


def test_mean_ciede2000_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    import chromaseg.core.metrics as metrics

    a, b = _photo_like((10, 12, 3), 22), _photo_like((10, 12, 3), 23)
    whole = mean_ciede2000(a, b)
    monkeypatch.setattr(metrics, "_DE_CHUNK", 7)  # 120 pixels: 17 full chunks and a ragged one
    assert mean_ciede2000(a, b) == pytest.approx(whole, rel=1e-12)


def test_mean_ciede2000_dtype_invariance() -> None:
    rng = _rng(19)
    a8 = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    b8 = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    values = [mean_ciede2000(a, b) for a, b in zip(_dtype_copies(a8), _dtype_copies(b8))]
    assert values == pytest.approx([values[0]] * 4, abs=1e-3)


# --- colorfulness -------------------------------------------------------------------------------------------------


def test_colorfulness_gray_is_zero() -> None:
    ramp = np.arange(256, dtype=np.uint8)
    gray = np.stack([ramp, ramp, ramp], axis=-1).reshape(16, 16, 3)
    assert colorfulness(gray) == 0.0
    assert colorfulness(gray / 255.0) == 0.0
    assert colorfulness(np.full((3, 3, 3), 0.7)) == 0.0


def test_colorfulness_hand_values() -> None:
    # One red pixel: rg = 255, yb = 127.5, no spread -> 0.3 * sqrt(255^2 + 127.5^2) = 0.3 * 127.5 * sqrt(5).
    red = np.array([[[255, 0, 0]]], np.uint8)
    assert colorfulness(red) == pytest.approx(0.3 * 127.5 * math.sqrt(5), abs=1e-9)
    # Red and blue: rg = (255, 0), yb = (127.5, -255): means 127.5 and -63.75, stds 127.5 and 191.25.
    red_blue = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    expected = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, -63.75)
    assert colorfulness(red_blue) == pytest.approx(expected, abs=1e-9)
    # Green and yellow in float: rg = (-255, 0), yb = (127.5, 255) -> stds 127.5, 63.75; means -127.5, 191.25.
    green_yellow = np.array([[0, 1, 0], [1, 1, 0]], np.float64)
    expected = math.hypot(127.5, 63.75) + 0.3 * math.hypot(-127.5, 191.25)
    assert colorfulness(green_yellow) == pytest.approx(expected, abs=1e-4)


@PROPS
@given(
    hnp.arrays(np.float64, (5, 7, 3), elements=st.floats(0, 1, allow_nan=False, width=32)),
    st.floats(0.05, 1.0),
)
def test_colorfulness_scales_linearly(img: np.ndarray, s: float) -> None:
    # M is positively homogeneous: scaling all values scales both the std and the mean terms by s.
    m = colorfulness(img)
    assert m >= 0
    assert colorfulness(img * s) == pytest.approx(s * m, rel=1e-5, abs=1e-3)
    # Order and layout of pixels do not matter.
    assert colorfulness(img.reshape(-1, 3)[::-1]) == pytest.approx(m, rel=1e-5, abs=1e-3)


def test_colorfulness_dtype_invariance() -> None:
    u8 = _rng(20).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    values = [colorfulness(x) for x in _dtype_copies(u8)]
    assert values == pytest.approx([values[0]] * 4, abs=1e-3)


# --- CNR -----------------------------------------------------------------------------------------------------------


def _image_of_ab(ab: list[tuple[float, float]], reps: int = 3, light: float = 60.0) -> np.ndarray:
    """Float sRGB image (len(ab) * reps pixels, one row) whose colors are the given a*, b* at lightness ``light``."""
    lab = np.array([(light, a, b) for a, b in ab for _ in range(reps)], np.float32)
    return lab_to_srgb(lab)[None]


# Bin centers (Eq. 10-11 centers are 5 away from every bin edge), all in the sRGB gamut at L* = 60.
_CENTERS = [(5.0, 5.0), (-15.0, 25.0), (25.0, -15.0), (-25.0, -25.0), (35.0, 45.0), (15.0, 15.0)]


def test_constructed_image_classes_round_trip() -> None:
    img = _image_of_ab(_CENTERS)
    lab = srgb_to_lab(img)
    want = ab_to_class(np.array([a for a, _ in _CENTERS]), np.array([b for _, b in _CENTERS]))
    assert len(set(want.tolist())) == len(_CENTERS)
    np.testing.assert_array_equal(np.unique(ab_to_class(lab[..., 1], lab[..., 2])), np.unique(want))


def test_cnr_identical_is_one() -> None:
    img = (_photo_like((16, 16, 3), 21) * 255).astype(np.uint8)
    assert cnr(img, img) == 1.0


def test_cnr_exact_counts() -> None:
    gt = _image_of_ab(_CENTERS[:5] * 4, reps=1)  # 5 classes, 20 pixels
    # Prediction uses 3 of the 5 colors (same pixel count): 3 / 5.
    pred = _image_of_ab([_CENTERS[0]] * 8 + [_CENTERS[1]] * 8 + [_CENTERS[2]] * 4, reps=1)
    assert pred.shape == gt.shape
    assert cnr(pred, gt) == pytest.approx(3 / 5)
    assert cnr(gt, pred) == pytest.approx(5 / 3)
    # Six distinct colors against five: 6 / 5 (more colors than the truth scores above 1).
    pred6 = _image_of_ab(_CENTERS * 3 + _CENTERS[:2], reps=1)
    assert cnr(pred6, gt) == pytest.approx(6 / 5)
    # Same colors at other lightnesses are the same classes: the CNR counts chroma only.
    assert cnr(_image_of_ab(_CENTERS[:5] * 4, reps=1, light=45.0), gt) == 1.0


def test_cnr_gray_prediction() -> None:
    gt = _image_of_ab(_CENTERS, reps=43)[:, :256]  # 6 classes
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    gray = np.stack([ramp, ramp, ramp], axis=-1)[None]
    # Every gray level is a* = b* = 0 (float noise aside): one class out of six.
    assert cnr(gray, gt) == pytest.approx(1 / 6)
    assert cnr(gt, gray) == pytest.approx(6.0)
    g8 = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)[None]
    assert cnr(g8, g8) == 1.0
    assert cnr(g8, (gt * 255).round().astype(np.uint8)) == pytest.approx(1 / 6)


def test_cnr_dtype_invariance() -> None:
    gt8 = (_image_of_ab(_CENTERS[:5] * 4, reps=1) * 255).round().astype(np.uint8)
    pred8 = (_image_of_ab(_CENTERS[1:4] * 6 + _CENTERS[1:3], reps=1) * 255).round().astype(np.uint8)
    values = [cnr(p, g) for p, g in zip(_dtype_copies(pred8), _dtype_copies(gt8))]
    assert values == [3 / 5] * 4


# --- validation shared by the image metrics -----------------------------------------------------------------------


@pytest.mark.parametrize("metric", [psnr, ssim, mean_ciede2000, cnr])
def test_pair_metrics_reject_shape_mismatch(metric) -> None:
    with pytest.raises(ValueError, match="same shape"):
        metric(np.zeros((16, 16, 3)), np.zeros((16, 17, 3)))


@pytest.mark.parametrize("metric", [psnr, ssim, mean_ciede2000, cnr])
@pytest.mark.parametrize("dtype", [np.int32, np.int8, bool, np.complex64])
def test_pair_metrics_reject_bad_dtype(metric, dtype) -> None:
    good = np.zeros((16, 16, 3))
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        metric(np.zeros((16, 16, 3), dtype), good)
    with pytest.raises(TypeError, match="gt must be"):
        metric(good, np.zeros((16, 16, 3), dtype))


@pytest.mark.parametrize("metric", [mean_ciede2000, cnr])
def test_rgb_metrics_reject_non_rgb(metric) -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        metric(np.zeros((16, 16, 4)), np.zeros((16, 16, 4)))


def test_colorfulness_input_errors() -> None:
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        colorfulness(np.zeros((4, 4, 3), np.int64))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        colorfulness(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="empty"):
        colorfulness(np.zeros((0, 3)))
