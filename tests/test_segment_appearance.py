"""A box or a selection as the prompt of the no-weights segmenter: the pixels outside it are known background, whose
appearance drops the background pieces inside it and settles the object's edge to the pixel; a prompt with too few
pixels around it to tell an object apart is refused (the daemon answers bad_params)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from chromaseg.core.segment import Segmenter
from chromaseg.core.segment.appearance import appearance_codes, drop_background_like, snap_edges
from chromaseg.core.segment.classic_backend import ClassicBackend, _click_box
from chromaseg.core.segment.objects_eval import box_mask, iou


def textured_scene(seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A bright noisy ellipse over dark blotchy texture: (gray image, the ellipse, a box 4 px around it)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (120, 160)).astype(np.float32), (0, 0), 2)
    image = 60 + 40 * noise / noise.std()
    obj = np.zeros((120, 160), np.uint8)
    cv2.ellipse(obj, (80, 60), (int(rng.integers(20, 40)), int(rng.integers(15, 35))), 0, 0, 360, 1, -1)
    obj = obj.astype(bool)
    image[obj] = 190 + 15 * rng.normal(0, 1, obj.sum())
    ys, xs = np.nonzero(obj)
    return image.clip(0, 255).astype(np.uint8), obj, (xs.min() - 4, ys.min() - 4, xs.max() + 5, ys.max() + 5)


@pytest.fixture(scope="module")
def seg() -> Segmenter:
    return Segmenter(ClassicBackend(None), "test")


def test_box_and_selection_find_the_object_on_texture(seg: Segmenter) -> None:
    by_box, by_selection = [], []
    for seed in range(8):
        image, obj, box = textured_scene(seed)
        by_box.append(iou(seg.prompt(image, box=box), obj))
        by_selection.append(iou(seg.prompt(image, mask=box_mask(obj.shape, box)), obj))
    assert by_box == by_selection  # a rectangular selection is the same prompt as its box
    assert np.mean(by_box) > 0.95 and min(by_box) > 0.8


def test_a_lasso_selection_bounds_the_object(seg: Segmenter) -> None:
    image, obj, (x0, y0, x1, y1) = textured_scene(0)
    lasso = np.zeros(obj.shape, np.uint8)
    cv2.ellipse(lasso, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2 + 6, (y1 - y0) // 2 + 6), 0, 0, 360, 1, -1)
    lasso = lasso.astype(bool)
    mask = seg.prompt(image, mask=lasso)
    assert not (mask & ~lasso).any() and iou(mask, obj) > 0.9
    with pytest.raises(ValueError, match="outside the box"):
        seg.prompt(image, mask=lasso, box=(0, 0, 5, 5))


def test_background_pieces_inside_the_prompt_are_dropped() -> None:
    gray = np.full((40, 60), 60, np.uint8)
    gray[10:30, 20:40] = 200
    segments = np.zeros(gray.shape, np.int64)
    segments[10:30, 20:40] = 1  # the object
    segments[3:7, 22:38] = 2  # a piece of the background inside the prompt, apart from the object
    inside = box_mask(gray.shape, (15, 2, 45, 35))
    candidate = inside & (segments > 0)
    kept = drop_background_like(appearance_codes(gray), segments, candidate, ~inside)
    assert (kept == (segments == 1)).all()
    assert drop_background_like(appearance_codes(gray), segments, candidate, np.zeros_like(inside)) is candidate


def test_edges_settle_on_the_object() -> None:
    gray = np.full((40, 60), 60, np.uint8)
    gray[10:30, 20:40] = 200
    truth = box_mask(gray.shape, (20, 10, 40, 30))
    off = box_mask(gray.shape, (19, 9, 41, 31))  # a superpixel edge a pixel out
    inside = box_mask(gray.shape, (15, 5, 45, 35))
    assert (snap_edges(appearance_codes(gray), off, inside) == truth).all()


def test_a_scene_wide_class_does_not_bound_a_click() -> None:
    h, w = 100, 200
    everywhere = np.ones((h, w), np.float32)
    assert _click_box(everywhere, np.array([[100.0, 50.0]]), h, w) == _click_box(None, np.array([[100.0, 50.0]]), h, w)
    local = np.zeros((h, w), np.float32)
    local[20:60, 50:120] = 1
    assert _click_box(local, np.array([[100.0, 50.0]]), h, w) == (50, 20, 120, 60)


def test_a_layer_too_small_to_segment_is_refused(seg: Segmenter) -> None:
    with pytest.raises(ValueError, match="too few"):
        seg.prompt(np.full((3, 40), 128, np.uint8), box=(0, 0, 40, 3))
    assert seg.prompt(np.full((4, 40), 128, np.uint8), box=(0, 0, 40, 4)).any()
