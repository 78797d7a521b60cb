"""Clicks painted on a prompts layer (core/segment/clicks.py): one click per connected dab, on the dab's paint
nearest its centroid; red dabs are negative clicks; a cap keeps the largest dabs."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from chromaseg.core.segment.clicks import NEGATIVE_MARGIN, clicks_from_layer


def blank(h: int = 60, w: int = 80, dtype: type = np.uint8) -> np.ndarray:
    return np.zeros((h, w, 4), dtype)


def as_dtype(layer8: np.ndarray, dtype: type) -> np.ndarray:
    if dtype == np.uint8:
        return layer8
    if dtype == np.uint16:
        return layer8.astype(np.uint16) * 257
    return layer8.astype(np.float32) / 255


def test_nothing_painted_is_no_click() -> None:
    clicks = clicks_from_layer(blank(), 256)
    assert len(clicks) == 0 and clicks.points.shape == (0, 2) and clicks.dropped == 0
    assert (clicks.positive, clicks.negative) == (0, 0)


def test_a_ring_clicks_on_its_paint_nearest_the_centroid() -> None:
    layer = blank()
    cv2.circle(layer, (40, 30), 12, (20, 200, 40, 255), 2)
    (x, y), = clicks_from_layer(layer, 256).points
    assert layer[int(y), int(x), 3] > 0  # on paint, not in the hole at the centroid (40, 30)
    assert 10 <= np.hypot(x - 40, y - 30) <= 14


def test_a_solid_dab_clicks_at_its_centroid() -> None:
    layer = blank()
    layer[10:15, 20:27] = (255, 255, 255, 255)  # centroid (23, 12)
    clicks = clicks_from_layer(layer, 256)
    assert clicks.points.tolist() == [[23.0, 12.0]] and clicks.labels.tolist() == [1]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_red_dabs_are_negative_and_every_other_color_positive(dtype: type) -> None:
    layer = blank()
    colors = [(255, 0, 0), (200, 60, 60), (160, 120, 120), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0),
              (255, 255, 0), (255, 0, 255)]
    for i, c in enumerate(colors):
        layer[4 + 6 * i: 7 + 6 * i, 10:13] = (*c, 255)
    clicks = clicks_from_layer(as_dtype(layer, dtype), 256)
    # margins R - max(G, B): 1.0, 0.55, 0.16 (under NEGATIVE_MARGIN), then none
    assert clicks.labels.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert (clicks.positive, clicks.negative) == (7, 2)
    assert clicks.points[:, 1].tolist() == [5 + 6 * i for i in range(len(colors))]


def test_the_margin_is_a_share_of_full_scale() -> None:
    layer = blank()
    margin = round(NEGATIVE_MARGIN * 255)
    layer[5:8, 5:8] = (100 + margin + 2, 100, 100, 255)
    layer[20:23, 5:8] = (100 + margin - 2, 100, 100, 255)
    assert clicks_from_layer(layer, 256).labels.tolist() == [0, 1]


def test_a_dabs_color_is_its_alpha_weighted_mean_in_straight_alpha() -> None:
    """A soft edge (low alpha) of another color does not turn a red dab positive: straight alpha, weighted."""
    layer = blank()
    layer[10:16, 10:16] = (255, 255, 255, 8)  # a faint white halo
    layer[11:15, 11:15] = (255, 0, 0, 255)  # the red dab
    clicks = clicks_from_layer(layer, 256)
    assert clicks.labels.tolist() == [0] and len(clicks) == 1


def test_pixels_touching_at_a_corner_are_one_dab() -> None:
    layer = blank()
    for i in range(6):
        layer[10 + i, 10 + i] = (0, 255, 0, 255)  # a diagonal line
    layer[30, 30] = (0, 255, 0, 255)
    layer[30, 32] = (0, 255, 0, 255)  # two pixels apart: two dabs
    assert len(clicks_from_layer(layer, 256)) == 3


def test_the_cap_keeps_the_largest_dabs_in_raster_order_and_counts_the_rest() -> None:
    layer = blank(40, 200)
    sizes = [1, 5, 2, 4, 3]
    for i, s in enumerate(sizes):
        layer[2:2 + s, 10 + 30 * i: 10 + 30 * i + s] = (0, 0, 255, 255)
    clicks = clicks_from_layer(layer, 3)
    assert clicks.dropped == 2 and len(clicks) == 3
    assert [int(x) for x, _ in clicks.points] == [10 + 30 + 2, 10 + 90 + 1, 10 + 120 + 1]  # sizes 5, 4, 3
    assert clicks_from_layer(layer, 0).dropped == 5


def test_many_dabs_on_a_large_layer() -> None:
    layer = blank(1024, 1024)
    layer[::8, ::8] = (0, 255, 0, 255)
    layer[::8, ::8][::2, ::2, 1] = 0
    layer[::8, ::8][::2, ::2, 0] = 255  # every other dab of every other row red
    clicks = clicks_from_layer(layer, 256)
    assert len(clicks) == 256 and clicks.dropped == 128 * 128 - 256
    whole = clicks_from_layer(layer, 128 * 128)
    assert (whole.negative, whole.positive) == (64 * 64, 128 * 128 - 64 * 64)
    assert whole.points[:3].tolist() == [[0, 0], [8, 0], [16, 0]]


def test_a_layer_that_is_not_rgba_is_refused() -> None:
    with pytest.raises(ValueError, match="RGBA"):
        clicks_from_layer(np.zeros((4, 4, 3), np.uint8), 256)
