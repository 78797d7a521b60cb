"""One hint on an object of a real photo recolors that object and not its neighbours (the shipped colorizer).

COCO photos with their true object masks (../shared/data/objects, read at run time). Each photo is made gray at the
evaluation's size; one 6x6 hint goes on the object's interior-most pixel, in a color opposite to what the colorizer
predicts there (a correction an artist would make). The change it causes is measured inside the object and in the
rest of the photo beyond a margin around the object (the true mask's edge is not the segments' edge to the pixel).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab
from chromaseg.core.colorize import Colorizer
from chromaseg.core.evaluate import gray_of, load_eval_image
from chromaseg.core.segment import Segmenter
from chromaseg.core.segment.objects_eval import interior_point, read_objects

PHOTOS = 12  # objects covering 8-50 % of their photo, in the table's order
MARGIN = 15  # pixels around the object that count neither as inside nor as neighbours
HINT_CHROMA = 45.0  # the hint's chroma, opposite in hue to the prediction


@pytest.fixture(scope="module")
def objects(shared_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(gray uint8 RGB photo at the evaluation's size, true object mask) of the first PHOTOS mid-sized objects."""
    folder = shared_dir / "data" / "objects"
    out = []
    for case in read_objects(folder):
        rgb = load_eval_image(folder / f"{case.image}.jpg")
        with Image.open(case.mask_path) as im:
            mask = np.asarray(im.convert("L").resize(rgb.shape[1::-1], Image.NEAREST)) > 127
        if 0.08 <= mask.mean() <= 0.5:
            out.append((from_unit_float(gray_of(rgb), np.uint8), mask))
        if len(out) == PHOTOS:
            break
    return out


def _opposite_hint(gray: np.ndarray, predicted_lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """An RGBA hint layer: a 6x6 dab at the object's interior-most pixel, opposite in hue to the prediction there."""
    x, y = interior_point(mask)
    ys, xs = slice(max(y - 3, 0), y + 3), slice(max(x - 3, 0), x + 3)
    ab = predicted_lab[ys, xs, 1:].reshape(-1, 2).mean(0)
    norm = float(np.linalg.norm(ab))
    target = -ab / norm * HINT_CHROMA if norm > 3 else np.array([0.0, -HINT_CHROMA])
    lab = np.array([[srgb_to_lab(gray[ys, xs])[..., 0].mean(), *target]], np.float32)
    layer = np.zeros((*gray.shape[:2], 4), np.uint8)
    layer[ys, xs, :3] = from_unit_float(lab_to_srgb(lab)[0], np.uint8)
    layer[ys, xs, 3] = 255
    return layer


def test_one_hint_recolors_its_object_and_not_its_neighbours(objects: list[tuple[np.ndarray, np.ndarray]]) -> None:
    colorizer = Colorizer.load()
    segmenter = Segmenter.default()
    inside, outside = [], []
    for gray, mask in objects:
        before = srgb_to_lab(colorizer.colorize(gray))
        after = srgb_to_lab(colorizer.colorize(gray, hints=_opposite_hint(gray, before, mask), confine_hints=True,
                                               segmenter=segmenter))
        change = np.linalg.norm(after[..., 1:] - before[..., 1:], axis=-1)
        far = ~cv2.dilate(mask.astype(np.uint8), np.ones((2 * MARGIN + 1,) * 2, np.uint8)).astype(bool)
        inside.append(float(np.median(change[mask])))
        outside.append(float(np.median(change[far])))
    assert len(inside) == PHOTOS
    inside_m, outside_m = float(np.median(inside)), float(np.median(outside))
    assert inside_m >= 0.4 * HINT_CHROMA, f"the hinted objects barely changed: {np.round(inside, 1)}"
    assert outside_m <= 0.2 * inside_m, (f"the neighbours changed too: inside {np.round(inside, 1)}, "
                                         f"outside {np.round(outside, 1)}")
