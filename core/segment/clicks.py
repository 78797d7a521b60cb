"""Clicks painted on a layer: an artist's dots on a transparent layer become the points of a segment prompt.

The prompts layer is RGBA with straight (not premultiplied) alpha, like the hint layer: a pixel with alpha > 0 is
painted. Each connected painted dab (8-connectivity) is one click, at the dab's pixel nearest to its centroid (so a
ring or a C-shaped stroke still clicks on paint, never on the hole in its middle). A red dab says "not this": its
alpha-weighted mean color has R above both G and B by more than ``NEGATIVE_MARGIN`` of full scale, and it is a
negative click (label 0); a dab of any other color is a positive click (label 1). A dab is judged as a whole, so two
strokes of different colors that touch are one dab: keep them apart.

The work is vectorized and follows the painted part of the layer: labelling runs on the bounding box of the paint,
per-dab sums are bincounts, no Python loop visits a pixel or a dab.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from chromaseg.core.color import to_unit_float

NEGATIVE_MARGIN = 0.2  # share of full scale by which R must exceed both G and B for a dab to be a negative click
_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: pixels touching by a corner are one dab


@dataclass(frozen=True)
class Clicks:
    """Points (n, 2) float64 as (x, y) pixel coordinates, labels (n,) int64 (1 = object, 0 = not), in raster
    order of the dabs' first pixels, and how many dabs were left out beyond the cap."""

    points: np.ndarray
    labels: np.ndarray
    dropped: int = 0

    @property
    def positive(self) -> int:
        return int(np.count_nonzero(self.labels == 1))

    @property
    def negative(self) -> int:
        return int(np.count_nonzero(self.labels == 0))

    def __len__(self) -> int:
        return len(self.labels)


def clicks_from_layer(layer: np.ndarray, max_clicks: int) -> Clicks:
    """The clicks painted on an (H, W, 4) RGBA layer (uint8, uint16 or float in [0, 1]). At most ``max_clicks``:
    beyond it the largest dabs are kept (ties: the earlier in raster order) and ``dropped`` says how many were not."""
    layer = np.asarray(layer)
    if layer.ndim != 3 or layer.shape[2] != 4:
        raise ValueError(f"a prompts layer must be RGBA with shape (H, W, 4); got {layer.shape}")
    if max_clicks < 0:
        raise ValueError(f"max_clicks must be >= 0; got {max_clicks}")
    painted = layer[..., 3] > 0  # the hint layer's rule (core.hints.hint_mask)
    rows, cols = np.flatnonzero(painted.any(axis=1)), np.flatnonzero(painted.any(axis=0))
    if rows.size == 0:
        return Clicks(np.zeros((0, 2)), np.zeros(0, np.int64))
    y0, x0 = rows[0], cols[0]
    crop = (slice(y0, rows[-1] + 1), slice(x0, cols[-1] + 1))
    dabs, n = ndimage.label(painted[crop], structure=_EIGHT)
    ys, xs = np.nonzero(dabs)
    ids = dabs[ys, xs] - 1  # 0..n-1, numbered in raster order of each dab's first pixel
    area = np.bincount(ids, minlength=n)

    # the pixel of each dab nearest to its centroid (first in raster order on a tie)
    cy = np.bincount(ids, ys, n) / area
    cx = np.bincount(ids, xs, n) / area
    dist = (ys - cy[ids]) ** 2 + (xs - cx[ids]) ** 2
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, ids, dist)
    at_min = np.flatnonzero(dist == nearest[ids])  # raster order, so the first of each dab comes first
    _, first = np.unique(ids[at_min], return_index=True)
    pick = at_min[first]
    points = np.stack([xs[pick] + x0, ys[pick] + y0], axis=1).astype(np.float64)

    # each dab's alpha-weighted mean color decides its label
    rgba = to_unit_float(layer[crop][ys, xs])
    alpha = rgba[:, 3].astype(np.float64)
    weight = np.bincount(ids, alpha, n)
    mean = np.stack([np.bincount(ids, rgba[:, c] * alpha, n) for c in range(3)], axis=1) / weight[:, None]
    red = mean[:, 0] - np.maximum(mean[:, 1], mean[:, 2]) > NEGATIVE_MARGIN
    labels = np.where(red, 0, 1).astype(np.int64)

    if n > max_clicks:
        keep = np.sort(np.argsort(-area, kind="stable")[:max_clicks])
        return Clicks(points[keep], labels[keep], n - max_clicks)
    return Clicks(points, labels)
