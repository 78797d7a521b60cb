"""Guided upsampling of low-resolution chroma with the full-resolution L (the fast guided filter, He and Sun 2015).

The colorizer predicts a*, b* on a coarse grid; upsampling them plainly would bleed color across edges. The guided
filter models the chroma locally as a linear function of L, ``ab = A * L + B``: A and B are fitted on the coarse grid
(box filters, O(1) per pixel whatever the radius), then only they are upsampled and applied to the full-resolution L,
so colors follow the edges of L. Applying A and B one band of rows at a time keeps memory bounded on huge layers.
"""
from __future__ import annotations

import cv2
import numpy as np


def box_filter(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window per pixel and channel (reflected borders)."""
    k = 2 * radius + 1
    return cv2.boxFilter(x, -1, (k, k), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int,
                        eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Window-averaged linear coefficients (A, B), each (h, w, C) float32, with ``src ~ A * guide + B``.

    ``guide``: (h, w) float; ``src``: (h, w, C) float. ``eps`` regularizes flat regions (there A -> 0, B -> mean).
    """
    guide = np.ascontiguousarray(guide, dtype=np.float32)
    src = np.ascontiguousarray(src, dtype=np.float32)
    if src.ndim != 3 or src.shape[:2] != guide.shape:
        raise ValueError(f"src must be (h, w, C) over the guide's {guide.shape}; got {src.shape}")
    g = guide[..., None]
    mean_g = box_filter(guide, radius)[..., None]
    var_g = box_filter(guide * guide, radius)[..., None] - mean_g * mean_g
    mean_s = box_filter(src, radius).reshape(src.shape)
    cov = box_filter(src * g, radius).reshape(src.shape) - mean_g * mean_s
    a = cov / (var_g + np.float32(eps))
    b = mean_s - a * mean_g
    return box_filter(a, radius).reshape(src.shape), box_filter(b, radius).reshape(src.shape)


def upsample_rows(x: np.ndarray, size: tuple[int, int], start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the bilinear upsampling (half-pixel centers, as cv2.INTER_LINEAR) of an (h, w, C)
    map to ``size`` = (H, W), computed without the rest of the full-size map."""
    h, w = x.shape[:2]
    big_h, big_w = size
    ys = (np.arange(start, stop, dtype=np.float64) + 0.5) * (h / big_h) - 0.5
    ys = np.clip(ys, 0, h - 1)
    y0 = np.floor(ys).astype(np.intp)
    y1 = np.minimum(y0 + 1, h - 1)
    wy = (ys - y0).astype(np.float32).reshape(-1, *([1] * (x.ndim - 1)))
    rows = x[y0] * (1 - wy) + x[y1] * wy  # (stop - start, w, C), vertical pass
    out = cv2.resize(rows, (big_w, stop - start), interpolation=cv2.INTER_LINEAR)  # horizontal pass only
    return out.reshape(stop - start, big_w, *x.shape[2:])


def guided_upsample(guide: np.ndarray, src: np.ndarray, radius: int = 4, eps: float = 1e-3,
                    tile_rows: int = 1024) -> np.ndarray:
    """(H, W, C) float32: ``src`` (h, w, C) upsampled to the full-resolution ``guide`` (H, W) along its edges.

    The coefficients are fitted on ``guide`` reduced to (h, w) (area average), so ``radius`` is in coarse pixels.
    """
    guide = np.asarray(guide, dtype=np.float32)
    h, w = src.shape[:2]
    small = cv2.resize(guide, (w, h), interpolation=cv2.INTER_AREA)
    a, b = guided_coefficients(small, src, radius, eps)
    big_h, big_w = guide.shape
    out = np.empty((big_h, big_w, src.shape[2]), np.float32)
    for y in range(0, big_h, tile_rows):
        stop = min(y + tile_rows, big_h)
        out[y:stop] = upsample_rows(a, (big_h, big_w), y, stop) * guide[y:stop, :, None] + \
            upsample_rows(b, (big_h, big_w), y, stop)
    return out
