"""Clicks painted on a layer: an artist's dots on a transparent layer become the points of a segment prompt.

The prompts layer is RGBA with straight (not premultiplied) alpha, like the hint layer: a pixel with alpha > 0 is
painted. Each connected painted dab (8-connectivity) is one click, at the dab's pixel nearest to its centroid (so a
ring or a C-shaped stroke still clicks on paint, never on the hole in its middle). A red dab says "not this": its
alpha-weighted mean color has R above both G and B by more than ``NEGATIVE_MARGIN`` of full scale, and it is a
negative click (label 0); a dab of any other color is a positive click (label 1). A dab is judged as a whole, so two
strokes of different colors that touch are one dab: keep them apart.

The dabs are `core.dabs.painted_dabs`'s, shared with the hint list.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chromaseg.core.dabs import painted_dabs

NEGATIVE_MARGIN = 0.2  # share of full scale by which R must exceed both G and B for a dab to be a negative click


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
    if max_clicks < 0:
        raise ValueError(f"max_clicks must be >= 0; got {max_clicks}")
    try:
        dabs = painted_dabs(layer).largest(max_clicks)
    except ValueError as exc:
        raise ValueError(str(exc).replace("a painted layer", "a prompts layer")) from None
    red = dabs.colors[:, 0] - np.maximum(dabs.colors[:, 1], dabs.colors[:, 2]) > NEGATIVE_MARGIN
    return Clicks(dabs.points, np.where(red, 0, 1).astype(np.int64), dabs.dropped)
