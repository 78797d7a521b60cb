"""The three-stage pipeline (seed 000): segments -> per-segment crops fused with feathered edges -> harmonization,
and hints confined to their segment."""
from __future__ import annotations

import numpy as np
import pytest

from chromaseg.core.colorize import HintPixels, colorize, segment_labels
from chromaseg.core.segment_pass import (AGREEMENT, Crop, confine_to_hinted_segments, feathered_mask, plan_crops,
                                         refine_segments)


def _photo(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    gray = 128 + 100 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    return np.repeat(gray[..., None], 3, -1).astype(np.uint8)


def _labels(h: int, w: int) -> np.ndarray:
    """Background 0, a mid-size square 1, a tiny square 2."""
    labels = np.zeros((h, w), np.int32)
    labels[100:200, 150:260] = 1
    labels[10:14, 10:14] = 2
    return labels


class _RecordingSegmenter:
    backend = "test"

    def __init__(self, labels: np.ndarray) -> None:
        self.labels, self.calls = labels, 0

    def auto(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.labels


def test_plan_crops_picks_segments_that_gain_resolution() -> None:
    labels = _labels(600, 800)
    crops = plan_crops(labels, resolution=192)
    assert [c.label for c in crops] == [1]  # the background spans the layer (no gain), the tiny one is too small
    (crop,) = crops
    assert (crop.y0, crop.x0) < (100, 150) and (crop.y1, crop.x1) > (200, 260)  # box plus a context margin
    assert plan_crops(labels, resolution=800) == []  # the full pass already saw every pixel


def test_refine_fuses_through_a_feathered_mask_and_leaves_the_rest_exact() -> None:
    labels = _labels(600, 800)
    ab = (38 + np.random.default_rng(0).uniform(-1, 1, (600, 800, 2))).astype(np.float32)
    before = ab.copy()
    ran = refine_segments(ab, labels, lambda crop: np.full((crop.y1 - crop.y0, crop.x1 - crop.x0, 2), 40, np.float32),
                          resolution=192)
    assert [c.label for c in ran] == [1]
    outside = labels != 1
    np.testing.assert_array_equal(ab[outside], before[outside])
    inside = ab[140:160, 195:215]  # deep inside, a crop that agrees: (nearly) its prediction
    assert np.abs(inside - 40).max() < 0.15 * np.abs(before[140:160, 195:215] - 40).max()
    moved, wanted = np.abs(ab[100, 200] - before[100, 200]), np.abs(40 - before[100, 200])
    assert np.all(moved > 0) and np.all(moved < wanted)  # on the segment's edge: a blend, not a seam


def test_a_crop_that_disagrees_with_the_full_pass_cannot_recolor_the_segment() -> None:
    """The sample's flag: red in the full pass, green from its crop alone; the segment stays red."""
    labels = _labels(600, 800)
    ab = np.zeros((600, 800, 2), np.float32)
    ab[..., 0] = 30  # red
    before = ab.copy()
    refine_segments(ab, labels, lambda crop: np.full((crop.y1 - crop.y0, crop.x1 - crop.x0, 2), [-30, 0],
                                                      np.float32), resolution=192)
    assert np.abs(ab - before).max() < 1e-3
    # Whatever the disagreement, a crop moves a pixel by at most AGREEMENT * exp(-1/2).
    for offset in (5.0, AGREEMENT, 2 * AGREEMENT, 60.0):
        ab = before.copy()
        refine_segments(ab, labels, lambda crop: np.full((crop.y1 - crop.y0, crop.x1 - crop.x0, 2), [30 + offset, 0],
                                                          np.float32), resolution=192)
        assert np.abs(ab - before).max() <= AGREEMENT * np.exp(-0.5) + 1e-4


def test_feathered_mask_ramps_inside_the_edge() -> None:
    mask = np.zeros((50, 50), bool)
    mask[10:40, 10:40] = True
    weight = feathered_mask(mask, feather=5)
    assert weight[~mask].max() == 0 and weight[25, 25] == 1
    assert 0 < weight[10, 25] < weight[12, 25] < weight[25, 25]


def test_confined_hints_color_only_their_segment() -> None:
    labels = _labels(300, 400)
    hint_mask = np.zeros(labels.shape, bool)
    hint_mask[150, 200] = True  # inside segment 1
    hinted, free = np.full((300, 400, 2), 30, np.float32), np.zeros((300, 400, 2), np.float32)
    out = confine_to_hinted_segments(hinted, free, labels, hint_mask)
    np.testing.assert_array_equal(out[labels == 1], 30)
    np.testing.assert_array_equal(out[labels != 1], 0)


def test_segment_labels_from_overlapping_masks_smaller_wins() -> None:
    big = np.ones((20, 20), bool)
    small = np.zeros((20, 20), bool)
    small[5:10, 5:10] = True
    labels = segment_labels([big, small], (20, 20))
    assert labels[7, 7] == 1 and labels[0, 0] == 0
    with pytest.raises(ValueError, match="label map"):
        segment_labels(np.zeros((5, 5), np.int32), (20, 20))


def test_hint_pixels_crop_keeps_the_hints_inside() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2, 3] = mask[7, 8] = True
    hints = HintPixels(mask, np.array([[1, 2], [3, 4]], np.float32))
    sub = hints.crop(slice(5, 10), slice(5, 10))
    assert sub.mask.sum() == 1 and sub.mask[2, 3]
    np.testing.assert_array_equal(sub.ab, [[3, 4]])


def test_pipeline_segments_automatically_when_none_are_given(vivid_colorizer) -> None:
    img = _photo(300, 400)
    seg = _RecordingSegmenter(_labels(300, 400))
    stages = []
    auto = colorize(img, harmonize=True, segment_pass=True, segmenter=seg, model=vivid_colorizer, resolution=64,
                    progress=lambda stage, done, total: stages.append(stage))
    assert seg.calls == 1
    given = colorize(img, harmonize=True, segment_pass=True, segments=seg.labels, model=vivid_colorizer, resolution=64)
    np.testing.assert_array_equal(auto, given)
    assert {"colorize", "segment", "segment pass", "harmonize"} <= set(stages)


def test_segment_pass_changes_only_refined_segments(vivid_colorizer) -> None:
    img, labels = _photo(300, 400), _labels(300, 400)
    plain = colorize(img, segments=labels, model=vivid_colorizer, resolution=64)
    refined = colorize(img, segments=labels, segment_pass=True, model=vivid_colorizer, resolution=64)
    np.testing.assert_array_equal(refined[labels != 1], plain[labels != 1])
    assert not np.array_equal(refined[labels == 1], plain[labels == 1])


def test_confine_hints_keeps_other_segments_as_without_hints(vivid_colorizer) -> None:
    img, labels = _photo(300, 400), _labels(300, 400)
    hints = np.zeros((300, 400, 4), np.uint8)
    hints[140:150, 190:200] = (220, 30, 30, 255)  # red, inside segment 1
    free = colorize(img, model=vivid_colorizer, resolution=64)
    confined = colorize(img, hints=hints, segments=labels, confine_hints=True, model=vivid_colorizer, resolution=64)
    unconfined = colorize(img, hints=hints, model=vivid_colorizer, resolution=64)
    np.testing.assert_array_equal(confined[labels != 1], free[labels != 1])
    np.testing.assert_array_equal(confined[labels == 1], unconfined[labels == 1])
