"""A colorize preview: the layer and everything drawn over it (hints, selection, segments) scaled down together, so a
quick colorization of the copy shows what the full one will do.

Each input is scaled the way its meaning survives: the layer and the selection by area averaging; a label map by
nearest neighbour (labels are names, not amounts); the hint layer by area averaging of its premultiplied color and
its alpha, each painted pixel summed into the preview pixel it falls in, then unpremultiplied. So every painted dab,
even a single pixel on a large layer, leaves a painted preview pixel of its own color (its alpha is the dab's
coverage of that pixel, above 0), and the colorizer sees the hint at the preview's size.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaseg.core.color import to_unit_float


def preview_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(h, w) of the preview: scaled so the long side is ``side`` when it is longer (never enlarged), each side
    rounded to the nearest pixel and at least 1."""
    if side < 1:
        raise ValueError(f"the preview side must be at least 1 pixel; got {side}")
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass(frozen=True)
class PreviewInputs:
    """A colorization's inputs at the preview's size; ``scale`` = preview side / layer side (1 when the layer is
    already small enough, and then the inputs are the very arrays given)."""

    layer: np.ndarray
    hints: np.ndarray | None
    selection: np.ndarray | None
    segments: np.ndarray | None
    scale: float

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the preview."""
        return self.layer.shape[0], self.layer.shape[1]


def scale_inputs(layer: np.ndarray, side: int, *, hints: np.ndarray | None = None,
                 selection: np.ndarray | None = None, segments: np.ndarray | None = None) -> PreviewInputs:
    """The layer (HxW, HxWx3 or HxWx4, any dtype cv2 resizes: uint8, uint16, float32), its RGBA hint layer, its HxW
    selection and its HxW label map, all at :func:`preview_size`. The layer and the selection keep their dtypes;
    the hints come back float32 RGBA in [0, 1]; the labels keep theirs."""
    layer = np.asarray(layer)
    big_h, big_w = layer.shape[:2]
    for name, a in (("hints", hints), ("selection", selection), ("segments", segments)):
        if a is not None and np.shape(a)[:2] != (big_h, big_w):
            raise ValueError(f"the {name} must be {big_h}x{big_w}; got {np.shape(a)}")
    h, w = preview_size(big_h, big_w, side)
    if (h, w) == (big_h, big_w):
        return PreviewInputs(layer, hints, selection, segments, 1.0)
    return PreviewInputs(
        layer=_area(layer, h, w),
        hints=None if hints is None else scale_hints(hints, h, w),
        selection=None if selection is None else _area(np.asarray(selection), h, w),
        segments=None if segments is None else _nearest(np.asarray(segments), h, w),
        scale=max(h, w) / max(big_h, big_w),
    )


def scale_hints(hints: np.ndarray, h: int, w: int) -> np.ndarray:
    """(h, w, 4) float32 RGBA: an (H, W, 4) straight-alpha hint layer reduced by area averaging of premultiplied
    color and alpha, each painted pixel (alpha > 0) counted in the one preview pixel it falls in. Work follows the
    painted pixels, not the layer."""
    hints = np.asarray(hints)
    if hints.ndim != 3 or hints.shape[2] != 4:
        raise ValueError(f"a hint layer must be RGBA with shape (H, W, 4); got {hints.shape}")
    big_h, big_w = hints.shape[:2]
    ys, xs = np.nonzero(hints[..., 3] > 0)
    rgba = to_unit_float(hints[ys, xs]).astype(np.float64)
    cell = (ys * h // big_h) * w + (xs * w // big_w)
    alpha = np.bincount(cell, rgba[:, 3], h * w)
    out = np.zeros((h * w, 4), np.float32)
    hit = alpha > 0
    for c in range(3):
        out[hit, c] = np.bincount(cell, rgba[:, c] * rgba[:, 3], h * w)[hit] / alpha[hit]
    coverage = alpha * (h * w) / (big_h * big_w)  # the mean alpha over the preview pixel's share of the layer
    out[hit, 3] = np.clip(coverage[hit], np.finfo(np.float32).tiny, 1.0)  # painted stays painted
    return out.reshape(h, w, 4)


def _area(image: np.ndarray, h: int, w: int) -> np.ndarray:
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def _nearest(labels: np.ndarray, h: int, w: int) -> np.ndarray:
    """Nearest neighbour at each preview pixel's center (any integer dtype, no interpolation of label values)."""
    big_h, big_w = labels.shape
    rows = np.minimum(((np.arange(h) + 0.5) * big_h / h).astype(np.intp), big_h - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * big_w / w).astype(np.intp), big_w - 1)
    return labels[rows[:, None], cols[None, :]]
