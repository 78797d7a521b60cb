"""Dabs: what an artist painted on a transparent layer, one entry per connected stroke.

Both painted layers the plugins send (the hint layer, the object clicks layer) are RGBA with straight alpha, and a
pixel with alpha > 0 is painted (`core.hints.hint_mask`'s rule). Each connected painted region (8-connectivity) is one
dab: where it is (its pixel nearest to its centroid, so a ring or a C-shaped stroke is located on paint, never on the
hole in its middle), how many pixels it covers and its alpha-weighted mean color. Clicks (`core.segment.clicks`) and
the hint list (`chromaseg.bridge.daemon.handlers.hints`) read the same dabs.

The work is vectorized and follows the painted part of the layer: labelling runs on the bounding box of the paint,
per-dab sums are bincounts, no Python loop visits a pixel or a dab.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from chromaseg.core.color import to_unit_float

_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: pixels touching by a corner are one dab


@dataclass(frozen=True)
class Dabs:
    """Per dab, in raster order of each dab's first pixel: ``points`` (n, 2) float64 (x, y), ``areas`` (n,) pixel
    counts, ``colors`` (n, 3) alpha-weighted mean RGB in [0, 1]; ``dropped`` dabs were left out beyond a cap."""

    points: np.ndarray
    areas: np.ndarray
    colors: np.ndarray
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.areas)

    def largest(self, cap: int) -> Dabs:
        """At most ``cap`` dabs: the largest (ties: the earlier in raster order), still in raster order."""
        if cap < 0:
            raise ValueError(f"the cap must be >= 0; got {cap}")
        if len(self) <= cap:
            return self
        keep = np.sort(np.argsort(-self.areas, kind="stable")[:cap])
        return Dabs(self.points[keep], self.areas[keep], self.colors[keep], self.dropped + len(self) - cap)


def painted_dabs(layer: np.ndarray) -> Dabs:
    """The dabs painted on an (H, W, 4) RGBA layer (uint8, uint16 or float in [0, 1])."""
    layer = np.asarray(layer)
    if layer.ndim != 3 or layer.shape[2] != 4:
        raise ValueError(f"a painted layer must be RGBA with shape (H, W, 4); got {layer.shape}")
    painted = layer[..., 3] > 0
    rows, cols = np.flatnonzero(painted.any(axis=1)), np.flatnonzero(painted.any(axis=0))
    if rows.size == 0:
        return Dabs(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros((0, 3)))
    y0, x0 = rows[0], cols[0]
    crop = (slice(y0, rows[-1] + 1), slice(x0, cols[-1] + 1))
    labelled, n = ndimage.label(painted[crop], structure=_EIGHT)
    ys, xs = np.nonzero(labelled)
    ids = labelled[ys, xs] - 1  # 0..n-1, numbered in raster order of each dab's first pixel
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

    rgba = to_unit_float(layer[crop][ys, xs])
    alpha = rgba[:, 3].astype(np.float64)
    weight = np.bincount(ids, alpha, n)
    colors = np.stack([np.bincount(ids, rgba[:, c] * alpha, n) for c in range(3)], axis=1) / weight[:, None]
    return Dabs(points, area.astype(np.int64), colors)


def hex_color(rgb: np.ndarray) -> str:
    """"#rrggbb" of an RGB triple in [0, 1]."""
    return "#" + "".join(f"{int(round(float(np.clip(c, 0, 1)) * 255)):02x}" for c in rgb)
