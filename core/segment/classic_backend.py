"""The no-weights backend: Felzenszwalb segments of L for automatic segments, GrabCut for prompts.

It must work on any user's machine before SAM weights are installed, and stay interactive on a 2-core CPU, so both
methods run on a downscaled copy (the labels / mask are scaled back with nearest neighbour).
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

from chromaseg.core.segment.images import lightness, to_rgb8
from chromaseg.core.segment.labels import cap_labels

AUTO_SIDE = 512  # long side the automatic segmentation runs at
PROMPT_SIDE = 256  # long side of the GrabCut crop
GRABCUT_ITERS = 3


def _resize(image: np.ndarray, scale: float, interpolation: int) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


class ClassicBackend:
    name = "classic"

    def auto(self, image: np.ndarray, max_segments: int = 64, min_area: int | None = None) -> np.ndarray:
        rgb = to_rgb8(image)
        h, w = rgb.shape[:2]
        scale = min(1.0, AUTO_SIDE / max(h, w))
        small = _resize(rgb, scale, cv2.INTER_AREA) if scale < 1 else rgb
        light = lightness(small)
        # scale/min_size relative to the working size keep the segment granularity independent of the input size
        n_pixels = light.size
        labels = felzenszwalb(light, scale=400, sigma=0.8, min_size=max(20, n_pixels // 2000))
        small_min_area = 0 if min_area is None else int(min_area * scale * scale)
        labels = cap_labels(labels, max_segments, small_min_area)
        if scale < 1:
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        return labels.astype(np.int32, copy=False)

    def prompt(self, image: np.ndarray, points: np.ndarray | None, labels: np.ndarray | None,
               box: tuple[int, int, int, int] | None, mask: np.ndarray | None) -> np.ndarray:
        rgb = to_rgb8(image)
        h, w = rgb.shape[:2]
        if box is None and mask is None:
            box = _points_box(points[labels > 0] if labels is not None else points, h, w)
        if box is not None:
            # outside the box is sure background: the mask of a box prompt never leaves the box
            init = np.full((h, w), cv2.GC_BGD, np.uint8)
            x0, y0, x1, y1 = box
            init[y0:y1, x0:x1] = cv2.GC_PR_FGD
            if mask is not None:
                init[(init == cv2.GC_PR_FGD) & ~mask] = cv2.GC_PR_BGD
            bx = box
        else:
            # "refine selection to object": the selection is probable foreground, the rest probable background
            init = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
            init[mask] = cv2.GC_PR_FGD
            bx = _bbox(mask)
        x0, y0, x1, y1 = bx
        # crop with a margin of background around the region so GrabCut has both colour models
        m = max(8, round(0.1 * max(x1 - x0, y1 - y0)))
        cx0, cy0, cx1, cy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
        crop, crop_init = rgb[cy0:cy1, cx0:cx1], init[cy0:cy1, cx0:cx1].copy()
        scale = min(1.0, PROMPT_SIDE / max(crop.shape[:2]))
        if scale < 1:
            crop = _resize(crop, scale, cv2.INTER_AREA)
            crop_init = _resize(crop_init, scale, cv2.INTER_NEAREST)
        if points is not None:
            for (px, py), lab in zip(points, labels if labels is not None else np.ones(len(points))):
                centre = (int(round((px - cx0) * scale)), int(round((py - cy0) * scale)))
                cv2.circle(crop_init, centre, 3, int(cv2.GC_FGD if lab > 0 else cv2.GC_BGD), -1)
        _ensure_both_models(crop_init)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(crop, crop_init, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
        fg = ((crop_init == cv2.GC_FGD) | (crop_init == cv2.GC_PR_FGD)).astype(np.uint8)
        if scale < 1:
            fg = cv2.resize(fg, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_NEAREST)
        out = np.zeros((h, w), bool)
        out[cy0:cy1, cx0:cx1] = fg.astype(bool)
        return out & (init != cv2.GC_BGD)


def _points_box(pos: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    """A region around the positive points for a points-only prompt (GrabCut needs a region, not seeds alone)."""
    if len(pos) == 0:
        raise ValueError("a points-only prompt needs at least one positive point")
    pad = max(32, round(0.15 * max(h, w)))
    x0, y0 = pos.min(axis=0) - pad
    x1, y1 = pos.max(axis=0) + pad + 1
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("the selection mask is empty")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _ensure_both_models(init: np.ndarray) -> None:
    """GrabCut needs background and foreground samples; a region that fills the crop gets a background rim."""
    if not ((init == cv2.GC_BGD) | (init == cv2.GC_PR_BGD)).any():
        init[[0, -1], :] = cv2.GC_PR_BGD
        init[:, [0, -1]] = cv2.GC_PR_BGD
    if not ((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)).any():
        raise ValueError("the prompt selects no pixels")
