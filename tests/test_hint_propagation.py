"""Edge-aware propagation of the hints' residuals: hints reach their whole region, stop at edges, fade with distance."""
from __future__ import annotations

import numpy as np

from chromaseg.core.color import srgb_to_lab
from chromaseg.core.colorize import colorize
from chromaseg.core.hint_propagation import edge_laplacian, propagate_residuals


def two_regions(h: int = 40, w: int = 80) -> np.ndarray:
    """L of a dark left half and a light right half."""
    l = np.full((h, w), 30.0, np.float32)
    l[:, w // 2:] = 80.0
    return l


def one_hint(shape: tuple[int, int], y: int, x: int, ab: tuple[float, float],
             size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A square hint patch of ``size`` cells with its top-left corner at (y, x)."""
    mask = np.zeros(shape, bool)
    mask[y:y + size, x:x + size] = True
    hint_ab = np.zeros((2, *shape), np.float32)
    hint_ab[:, mask] = np.asarray(ab, np.float32)[:, None]
    return mask, hint_ab


def test_laplacian_rows_sum_to_zero_and_edges_weigh_little() -> None:
    lap = edge_laplacian(two_regions(4, 6))
    assert np.allclose(np.asarray(lap.sum(axis=1)).ravel(), 0)
    assert lap[0, 1] < -0.99  # same lightness: weight 1
    assert -1e-6 < lap[2, 3] <= 0  # across a 50-unit step: almost nothing


def test_without_hints_the_prediction_is_returned_unchanged() -> None:
    ab = np.random.default_rng(0).normal(0, 20, (10, 12, 2)).astype(np.float32)
    out = propagate_residuals(np.full((10, 12), 50.0), ab, np.zeros((10, 12), bool), np.zeros((2, 10, 12)))
    assert np.array_equal(out, ab)


def test_a_hint_corrects_its_region_and_stops_at_the_edge() -> None:
    l = two_regions()
    prediction = np.zeros((*l.shape, 2), np.float32)
    mask, hint_ab = one_hint(l.shape, 18, 5, (40.0, -20.0), size=3)
    out = propagate_residuals(l, prediction, mask, hint_ab)
    assert np.allclose(out[mask], (40, -20))  # the hinted cells take the hint
    left, right = out[:, :40], out[:, 40:]
    # The whole dark region moves most of the way; the decay hedges far from a lone hint.
    assert (left[..., 0] > 0.7 * 40).all() and (left[..., 1] < 0.7 * -20).all()
    assert np.abs(right).max() < 1  # the light region keeps the prediction


def test_the_residual_is_added_to_the_prediction_not_the_hint_copied() -> None:
    l = np.full((30, 30), 50.0, np.float32)
    yy, xx = np.mgrid[0:30, 0:30]
    prediction = np.stack([xx * 0.2, yy * -0.2], -1).astype(np.float32)  # a smooth gradient the network predicted
    mask = np.zeros(l.shape, bool)
    mask[14:17, 14:17] = True
    hint_ab = np.moveaxis(prediction + np.float32([10, 0]), -1, 0)  # 10 more a* than predicted, on the patch
    out = propagate_residuals(l, prediction, mask, hint_ab)
    shift = out - prediction
    assert np.allclose(shift[mask, 0], 10) and np.abs(shift[..., 1]).max() < 1e-3
    assert (shift[..., 0] > 5).all()  # every pixel moves toward the hint's correction ...
    assert np.allclose(np.diff(out[..., 0], axis=1).mean(), 0.2, atol=0.01)  # ... and keeps the predicted gradient


def test_a_predicted_color_edge_stops_a_correction_where_lightness_has_none() -> None:
    l = np.full((40, 80), 50.0, np.float32)  # one even gray: only the prediction tells two objects apart
    prediction = np.zeros((*l.shape, 2), np.float32)
    prediction[:, 40:, 0] = 20.0
    mask, hint_ab = one_hint(l.shape, 18, 5, (40.0, -20.0), size=3)
    out = propagate_residuals(l, prediction, mask, hint_ab)
    shift = out - prediction
    assert (shift[:, :40, 0] > 0.7 * 40).all()  # the hinted object takes the correction ...
    assert np.abs(shift[:, 40:]).max() < 1  # ... the other keeps its own color
    lightness_only = propagate_residuals(l, prediction, mask, hint_ab, color_sigma=None) - prediction
    assert (lightness_only[:, 40:, 0] > 10).all()  # without the color term it would have leaked


def test_the_correction_fades_with_distance_when_the_decay_is_strong() -> None:
    l = np.full((5, 200), 50.0, np.float32)
    mask, hint_ab = one_hint(l.shape, 2, 0, (30.0, 0.0))
    out = propagate_residuals(l, np.zeros((*l.shape, 2), np.float32), mask, hint_ab, decay=1e-2)
    a = out[2, :, 0]
    assert np.all(np.diff(a) <= 1e-6) and a[-1] < 1 < a[10]


def test_colorize_spreads_a_hint_over_its_flat_region(vivid_colorizer) -> None:
    img = np.full((48, 96), 70, np.uint8)
    img[:, 48:] = 200  # two flat regions
    hints = np.zeros((48, 96, 4), np.uint8)
    hints[20:24, 4:8] = (40, 90, 200, 255)  # blue at the left edge of the dark region
    want = srgb_to_lab(np.array([[40, 90, 200]], np.uint8))[0, 1:]
    with_hint = srgb_to_lab(colorize(img, hints=hints, model=vivid_colorizer))[..., 1:]
    without = srgb_to_lab(colorize(img, model=vivid_colorizer))[..., 1:]
    far = (slice(4, 44), slice(30, 44))  # same region, far from the hint
    assert np.abs(with_hint[far] - want).mean() < 0.3 * np.abs(without[far] - want).mean()
    other = (slice(None), slice(60, None))
    assert np.abs(with_hint[other] - without[other]).mean() < 3


def test_hints_correct_the_mean_of_the_hinted_and_automatic_predictions(vivid_colorizer, monkeypatch) -> None:
    import chromaseg.core.colorize as pipeline

    calls: list[bool] = []
    real = pipeline.predict_ab

    def counting(model, l_small, hint_ab, hint_mask, decoding):
        calls.append(hint_mask is not None)
        return real(model, l_small, hint_ab, hint_mask, decoding)

    monkeypatch.setattr(pipeline, "predict_ab", counting)
    img = np.full((48, 96), 120, np.uint8)
    hints = np.zeros((48, 96, 4), np.uint8)
    hints[20:24, 4:8] = (40, 90, 200, 255)
    colorizer = pipeline.Colorizer.of(vivid_colorizer)
    colorizer.colorize(img)
    assert calls == [False]  # automatic: one pass
    calls.clear()
    mean = colorizer.colorize(img, hints=hints)
    assert sorted(calls) == [False, True]  # hinted: with and without the hints
    calls.clear()
    monkeypatch.setattr(colorizer, "hinted_share", 1.0)
    hinted_only = colorizer.colorize(img, hints=hints)
    assert calls == [True] and not np.array_equal(mean, hinted_only)


def test_the_prior_the_hints_correct_is_the_weighted_mean(monkeypatch) -> None:
    """Flat predictions, no spreading: what comes out is exactly share * hinted + (1 - share) * automatic."""
    import chromaseg.core.colorize as pipeline

    def flat(model, l_small, hint_ab, hint_mask, decoding):
        return np.full((*l_small.shape, 2), (40.0, 0.0) if hint_mask is not None else (0.0, -20.0), np.float32)

    monkeypatch.setattr(pipeline, "predict_ab", flat)
    monkeypatch.setattr(pipeline, "propagate_residuals", lambda l, ab, mask, hint_ab: ab)
    l = np.full((24, 32), 50.0, np.float32)
    mask = np.zeros(l.shape, bool)
    mask[4:8, 4:8] = True
    hints = pipeline.HintPixels(mask, np.zeros((int(mask.sum()), 2), np.float32))
    for share, want in ((1.0, (40.0, 0.0)), (0.5, (20.0, -10.0)), (0.25, (10.0, -15.0))):
        ab = pipeline.predict_chroma(None, l, hints, 64, None, hinted_share=share)
        assert np.allclose(ab, want, atol=1e-4), share
