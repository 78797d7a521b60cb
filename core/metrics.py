"""Evaluation metrics for colorization: fidelity (PSNR, SSIM, CIEDE2000), colorfulness and the CNR (Eq. 18).

Fidelity metrics compare a result with its ground truth; colorfulness (Hasler and Suesstrunk 2003) and the CNR reward
vivid, varied color and so are only meaningful beside the fidelity ones (see shared/docs/method.md, CNR section).

Images are sRGB as uint8, uint16 or float in [0, 1], shape (..., 3) (PSNR and SSIM also take a single channel).
Every metric works on the [0, 1] scale (through ``to_unit_float``), so the same picture stored as uint8, uint16 or
float scores the same. Everything is vectorized NumPy; SSIM and CIEDE2000 compute in float64.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chromaseg.core.classes import GRID_CLASSES, ab_to_class
from chromaseg.core.color import srgb_to_lab, to_unit_float

__all__ = ["psnr", "ssim", "ciede2000", "mean_ciede2000", "colorfulness", "cnr"]

# Wang et al. 2004 (IEEE TIP 13(4)) settings: 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03.
SSIM_WIN = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03

# CIEDE2000's 25^7, the pivot of the chroma-dependent terms G and R_C.
_POW25_7 = 25.0**7

# Pixels per chunk in mean_ciede2000.
_DE_CHUNK = 1 << 16

# --- validation ---------------------------------------------------------------------------------------------------


def _check_image_dtype(image: np.ndarray, name: str) -> None:
    """Reject what ``to_unit_float`` cannot interpret (bool, signed ints, complex, object) with the argument's name."""
    if image.dtype not in (np.uint8, np.uint16) and image.dtype.kind != "f":
        raise TypeError(f"{name} must be uint8, uint16 or float in [0, 1]; got {image.dtype}")


def _as_image(image: Any, name: str, rgb: bool) -> np.ndarray:
    """Array view of an image argument, dtype-checked and non-empty; ``rgb`` requires a last axis of 3."""
    image = np.asarray(image)
    _check_image_dtype(image, name)
    if rgb and (image.ndim == 0 or image.shape[-1] != 3):
        raise ValueError(f"{name} must have shape (..., 3) (RGB); got {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    return image


def _image_pair(pred: Any, gt: Any, rgb: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (prediction, ground truth) pair: same shape, supported dtypes (they may differ from each other)."""
    pred = _as_image(pred, "pred", rgb)
    gt = _as_image(gt, "gt", rgb)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape; got {pred.shape} and {gt.shape}")
    return pred, gt


# --- PSNR / SSIM ---------------------------------------------------------------------------------------------------


def psnr(pred: Any, gt: Any, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB, on the [0, 1] scale so uint8, uint16 and float copies of an image agree.

    ``data_range`` is the peak on that [0, 1] scale (default 1.0). Identical images give ``inf``.
    """
    pred, gt = _image_pair(pred, gt, rgb=False)
    peak = 1.0 if data_range is None else float(data_range)
    if not peak > 0:
        raise ValueError(f"data_range must be positive; got {data_range}")
    diff = to_unit_float(pred).astype(np.float64) - to_unit_float(gt).astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak * peak / mse))


def _gaussian_taps(size: int = SSIM_WIN, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalized 1-D Gaussian; its outer product is Wang et al.'s 2-D window (it is separable)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation over the first two axes: only windows that fit inside the image are kept.

    This is the reference implementation's ``filter2(w, x, 'valid')``, and equals any padded filter whose border is
    cropped afterwards. Shift-and-add over the taps: a few passes over the image, no per-window temporaries.
    """
    n = taps.size
    rows = x.shape[0] - n + 1
    acc = taps[0] * x[:rows]
    for k in range(1, n):
        acc += taps[k] * x[k : k + rows]
    cols = x.shape[1] - n + 1
    out = taps[0] * acc[:, :cols]
    for k in range(1, n):
        out += taps[k] * acc[:, k : k + cols]
    return out


def _ssim_channel(x: np.ndarray, y: np.ndarray, taps: np.ndarray) -> float:
    """Mean SSIM of one 2-D channel pair (float64, [0, 1] scale, data range 1)."""
    c1 = (SSIM_K1 * 1.0) ** 2
    c2 = (SSIM_K2 * 1.0) ** 2
    mu_x = _filter_valid(x, taps)
    mu_y = _filter_valid(y, taps)
    # Population (1/N-weighted) moments, as in the paper; the Gaussian weights sum to 1.
    var_x = _filter_valid(x * x, taps) - mu_x * mu_x
    var_y = _filter_valid(y * y, taps) - mu_y * mu_y
    cov = _filter_valid(x * y, taps) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return float(np.mean(num / den))


def ssim(pred: Any, gt: Any) -> float:
    """Structural similarity (Wang et al. 2004), mean over channels: 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    K2 = 0.03, data range 1 on the [0, 1] scale.

    Images are HxW or HxWxC, at least 11x11. Only windows that fit inside the image are scored (no padding), which
    matches the reference code and skimage's ``structural_similarity`` with ``gaussian_weights=True``.
    """
    pred, gt = _image_pair(pred, gt, rgb=False)
    if pred.ndim not in (2, 3):
        raise ValueError(f"ssim takes HxW or HxWxC images; got shape {pred.shape}")
    if pred.shape[0] < SSIM_WIN or pred.shape[1] < SSIM_WIN:
        raise ValueError(f"ssim needs images of at least {SSIM_WIN}x{SSIM_WIN}; got {pred.shape[:2]}")
    x = to_unit_float(pred).astype(np.float64)
    y = to_unit_float(gt).astype(np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    taps = _gaussian_taps()
    # One channel at a time bounds the float64 temporaries (a 4096x4096 layer needs ~1 GB per channel, not 3).
    return float(np.mean([_ssim_channel(x[..., c], y[..., c], taps) for c in range(x.shape[-1])]))


# --- CIEDE2000 -----------------------------------------------------------------------------------------------------


def _as_lab(lab: Any, name: str) -> np.ndarray:
    """Lab argument as float64 (..., 3); integer Lab is accepted, bool/complex/object are not."""
    lab = np.asarray(lab)
    if lab.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real (integer or float) Lab array; got {lab.dtype}")
    if lab.ndim == 0 or lab.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3) (L*, a*, b*); got {lab.shape}")
    return lab.astype(np.float64, copy=False)


def ciede2000(lab1: Any, lab2: Any, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> np.ndarray:
    """CIEDE2000 color difference (CIE 142-2001) of each pair of Lab colors, as a float64 array of shape (...).

    The perceptual fidelity measure: unlike a plain ab distance it weights hue, chroma and lightness differences the
    way observers see them. ``lab1`` and ``lab2`` are (..., 3) and broadcast against each other; kL, kC, kH are the
    parametric weights (1 for reference conditions). Follows Sharma, Wu and Dalal 2005, Eq. 1-22, hue in degrees.
    """
    for k, v in (("kL", kL), ("kC", kC), ("kH", kH)):
        if not v > 0:
            raise ValueError(f"{k} must be positive; got {v}")
    lab1 = _as_lab(lab1, "lab1")
    lab2 = _as_lab(lab2, "lab2")
    try:
        np.broadcast_shapes(lab1.shape, lab2.shape)
    except ValueError:
        raise ValueError(f"lab1 and lab2 shapes do not broadcast: {lab1.shape} and {lab2.shape}") from None
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    # a* is stretched for low-chroma colors (G) so that near-neutral hues are spaced like the data says.
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(c_mean7 / (c_mean7 + _POW25_7)))
    a1p = (1.0 + g) * a1
    a2p = (1.0 + g) * a2
    c1p = np.hypot(a1p, b1)
    c2p = np.hypot(a2p, b2)
    # Hue in [0, 360); atan2(0, 0) = 0 gives the paper's h' = 0 for achromatic colors.
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0

    chroma_prod = c1p * c2p
    achromatic = chroma_prod == 0.0
    dh = h2p - h1p
    # The shorter way round the hue circle; no hue difference when either color has no hue.
    dhp = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dhp = np.where(achromatic, 0.0, dhp)
    dLp = L2 - L1
    dCp = c2p - c1p
    dHp = 2.0 * np.sqrt(chroma_prod) * np.sin(np.radians(dhp) / 2.0)

    Lp_mean = (L1 + L2) / 2.0
    Cp_mean = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    # Mean hue, again the short way round; for an achromatic color the sum (the other color's hue), per the paper.
    hp_mean = np.where(
        np.abs(dh) <= 180.0,
        hsum / 2.0,
        np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0),
    )
    hp_mean = np.where(achromatic, hsum, hp_mean)

    t = (
        1.0
        - 0.17 * np.cos(np.radians(hp_mean - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * hp_mean))
        + 0.32 * np.cos(np.radians(3.0 * hp_mean + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * hp_mean - 63.0))
    )
    d_theta = 30.0 * np.exp(-(((hp_mean - 275.0) / 25.0) ** 2))
    cp_mean7 = Cp_mean**7
    r_c = 2.0 * np.sqrt(cp_mean7 / (cp_mean7 + _POW25_7))
    l50 = (Lp_mean - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * Cp_mean
    s_h = 1.0 + 0.015 * Cp_mean * t
    # The rotation term fixes the blue region, where chroma and hue differences interact.
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c

    tl = dLp / (kL * s_l)
    tc = dCp / (kC * s_c)
    th = dHp / (kH * s_h)
    # |R_T| < 2 keeps the form non-negative; the clamp only absorbs rounding for near-identical colors.
    return np.sqrt(np.maximum(tl * tl + tc * tc + th * th + r_t * tc * th, 0.0))


def mean_ciede2000(pred_rgb: Any, gt_rgb: Any) -> float:
    """Mean CIEDE2000 between two sRGB images (through ``srgb_to_lab``): the average perceived color error."""
    pred_rgb, gt_rgb = _image_pair(pred_rgb, gt_rgb, rgb=True)
    lab1 = srgb_to_lab(pred_rgb).reshape(-1, 3)
    lab2 = srgb_to_lab(gt_rgb).reshape(-1, 3)
    # ciede2000 makes ~30 float64 temporaries per pixel: chunking keeps a 4096x4096 layer at tens of MB, not GBs.
    total = 0.0
    for start in range(0, lab1.shape[0], _DE_CHUNK):
        total += float(ciede2000(lab1[start : start + _DE_CHUNK], lab2[start : start + _DE_CHUNK]).sum())
    return total / lab1.shape[0]


# --- colorfulness and CNR -----------------------------------------------------------------------------------------


def colorfulness(rgb: Any) -> float:
    """Hasler and Suesstrunk 2003 colorfulness M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2).

    Opponent channels rg = R - G and yb = (R + G) / 2 - B on the 0..255 scale (the paper's), population std over all
    pixels. A gray image scores 0; the metric is linear in the RGB values (scaling the image by s scales M by s).
    """
    rgb = _as_image(rgb, "rgb", rgb=True)
    x = to_unit_float(rgb).reshape(-1, 3).astype(np.float64) * 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = np.hypot(rg.std(), yb.std())
    center = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * center)


def _grid_classes_present(rgb: np.ndarray) -> int:
    """How many of the 400 Eq. 9 grid classes occur among an sRGB image's pixels."""
    lab = srgb_to_lab(rgb).reshape(-1, 3)  # neutral pixels get exactly a* = b* = 0, hence one class
    counts = np.bincount(ab_to_class(lab[:, 1], lab[:, 2]), minlength=GRID_CLASSES)
    return int(np.count_nonzero(counts))


def cnr(pred_rgb: Any, gt_rgb: Any) -> float:
    """Chromatic Number Ratio (Eq. 18): distinct 400-grid ab classes (Eq. 9) in pred over those in gt.

    1 means as many distinct colors as the truth, above 1 more. It rewards noise, so report it only beside the
    fidelity metrics.
    """
    pred_rgb, gt_rgb = _image_pair(pred_rgb, gt_rgb, rgb=True)
    return _grid_classes_present(pred_rgb) / _grid_classes_present(gt_rgb)
