"""The no-weights backend: superpixels of L bounded by the prompt (a box, a selection or the neighbourhood of a
click), cut by DeepLab's class prior where its classes apply and, for a box or a selection, by the appearance of the
background just outside it; Felzenszwalb (objects merged by the prior) for automatic segments.

It must work on any user's machine before SAM weights are installed, on the artist's gray layer, and stay
interactive on a 2-core CPU: the semantic pass runs once per image (cached by content) and the per-prompt work runs
on a downscaled crop. Without DeepLab it is purely classical. GrabCut was measured and dropped: on gray photos its
colour models cannot tell object from background and it often returns nothing or the whole prompt.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import felzenszwalb

from chromaseg.core.segment.appearance import appearance_codes, drop_background_like, snap_edges
from chromaseg.core.segment.images import box_mask, lightness, to_rgb8
from chromaseg.core.segment.labels import cap_labels
from chromaseg.core.segment.prior import BACKGROUND, Prior, PriorCache

if TYPE_CHECKING:
    from torch import nn

AUTO_SIDE = 512  # long side the automatic segmentation runs at
PROMPT_SIDE = 256  # long side of the crop a prompt works on
MIN_SIDE = 4  # fewer pixels across the crop leave no object to tell from its surroundings
CLICK_CLASS_MIN = 0.3  # P(class) at a click for the click to designate that class's object
BOX_CLASS_MIN = 0.15  # mean P(class) over a box for the box to hold that class's object
PRIOR_FG = 0.5  # P(class) above which a pixel is likely the object
CLICK_PAD = 0.12  # a click without a class looks this far (share of the long side) around itself
CLICK_CUT = 0.2  # a clicked object of a prior class ends where P(class) falls below this
BOX_CUT = 0.05  # likewise inside a box (lower: the box already bounds it)
BOX_MARGIN = 0.15  # context around a box, so superpixels that run on past it can be seen to
SEGMENT_SCALE = 60  # Felzenszwalb scale of the box prompt's superpixels (at PROMPT_SIDE)
SCENE = 0.9  # share of the image a prior object's box may cover and still bound a click
CONTAINED = 0.8  # share of a superpixel inside the box or selection for it to be part of the object


def _resize(image: np.ndarray, scale: float, interpolation: int) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


class ClassicBackend:
    name = "classic"

    def __init__(self, deeplab: nn.Module | None = None) -> None:
        self.priors = PriorCache(deeplab) if deeplab is not None else None
        self._rgb: np.ndarray | None = None  # the image set, as 8-bit RGB
        self._prior: Prior | None = None

    def set_image(self, image: np.ndarray) -> None:
        """Keep ``image`` and its DeepLab prior (cached by content) for the prompts that follow."""
        self._rgb = to_rgb8(image)
        self._prior = self.prior(self._rgb)

    def prior(self, rgb8: np.ndarray) -> Prior | None:
        """The image's cached DeepLab prior, or None without DeepLab."""
        return self.priors.get(rgb8) if self.priors is not None else None

    def segment_classes(self, image: np.ndarray, labels: np.ndarray) -> list[str | None]:
        """Each segment's VOC class by the image's prior (cached: ``auto`` on the same image computed it), all None
        without DeepLab."""
        prior = self.prior(to_rgb8(image))
        if prior is None:
            return [None] * (int(labels.max()) + 1 if labels.size else 0)
        return prior.segment_classes(labels)

    def auto(self, image: np.ndarray, max_segments: int = 64, min_area: int | None = None) -> np.ndarray:
        rgb = to_rgb8(image)
        h, w = rgb.shape[:2]
        scale = min(1.0, AUTO_SIDE / max(h, w))
        small = _resize(rgb, scale, cv2.INTER_AREA) if scale < 1 else rgb
        light = lightness(small)
        # scale/min_size relative to the working size keep the segment granularity independent of the input size
        n_pixels = light.size
        labels = felzenszwalb(light, scale=400, sigma=0.8, min_size=max(20, n_pixels // 2000))
        prior = self.prior(rgb)
        if prior is not None:
            labels = _merge_objects(labels, prior, n_pixels // 500)
        small_min_area = 0 if min_area is None else int(min_area * scale * scale)
        labels = cap_labels(labels, max_segments, small_min_area)
        if scale < 1:
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        return labels.astype(np.int32, copy=False)

    def prompt(self, points: np.ndarray | None, labels: np.ndarray | None,
               box: tuple[int, int, int, int] | None, mask: np.ndarray | None) -> np.ndarray:
        if self._rgb is None:
            raise ValueError("no image to prompt on: call set_image first")
        rgb, prior = self._rgb, self._prior
        h, w = rgb.shape[:2]
        pts = np.zeros((0, 2)) if points is None else points
        lab = np.ones(len(pts)) if labels is None else labels
        pos, neg = pts[lab > 0], pts[lab <= 0]
        if box is None and mask is None:
            if len(pos) == 0:
                raise ValueError("a points-only prompt needs at least one positive point")
            p_obj = None if prior is None else _click_class(prior, (h, w), pos[0])
            allowed = None if p_obj is None else p_obj >= CLICK_CUT
            near = box_mask((h, w), _click_box(p_obj, pos, h, w))
            return _components_at(_contained_segments(rgb, near, pos, neg, allowed, outside_known=False), pos)
        region = _prompt_region((h, w), box, mask)
        p_obj = None if prior is None else _region_class(prior, region)
        allowed = None if p_obj is None else p_obj >= BOX_CUT
        return _contained_segments(rgb, region, pos, neg, allowed, outside_known=True)


def _prompt_region(size: tuple[int, int], box: tuple[int, int, int, int] | None,
                   selection: np.ndarray | None) -> np.ndarray:
    """Where the object is: the box, the selection, or both. A selection used as the prompt is a box of any shape
    (a rectangle or a rough lasso around the object): the object is inside it and the pixels outside are
    background."""
    region = box_mask(size, box) if box is not None else np.ones(size, bool)
    if selection is not None:
        region &= selection
    if not region.any():
        raise ValueError("the selection lies outside the box")
    return region


def _click_box(p_obj: np.ndarray | None, pos: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    """Where the object under a click can be: the extent of the prior's object at the click, or without a class a
    square of ``CLICK_PAD`` of the long side around the clicks. A prior object that spans nearly the whole image
    (DeepLab's "dining table" under a plate of food) bounds nothing: every superpixel would be "contained"."""
    if p_obj is not None:
        x, y = (min(n - 1, int(v)) for n, v in zip((w, h), pos[0]))
        if p_obj[y, x] >= PRIOR_FG:
            x0, y0, x1, y1 = _bbox(_components_at(p_obj >= PRIOR_FG, pos[:1]))
            if (x1 - x0) * (y1 - y0) <= SCENE * h * w:
                return x0, y0, x1, y1
    pad = max(16, round(CLICK_PAD * max(h, w)))
    x0, y0 = pos.min(axis=0) - pad
    x1, y1 = pos.max(axis=0) + pad + 1
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def _contained_segments(rgb8: np.ndarray, region: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                        allowed: np.ndarray | None, outside_known: bool) -> np.ndarray:
    """The object in a tight region: superpixels of L (Felzenszwalb) that lie almost wholly inside it, within
    ``allowed`` (the class prior). Background runs on past a tight region's edges and the object does not, which
    separates them on a gray photo where colour models cannot. When the pixels outside are known background (a box
    or a selection, not the square around a click), the contained superpixels that look like them are dropped too;
    then the edge is settled to the pixel by lightness (``snap_edges``). A positive click adds the superpixel under it, a negative one removes it. When nothing is contained the region
    itself is the answer (never an empty selection)."""
    h, w = rgb8.shape[:2]
    x0, y0, x1, y1 = _bbox(region)
    m = max(8, round(BOX_MARGIN * max(x1 - x0, y1 - y0)))
    cx0, cy0, cx1, cy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    if min(cx1 - cx0, cy1 - cy0) < MIN_SIDE:
        raise ValueError(f"{cx1 - cx0}x{cy1 - cy0} pixels around the prompt are too few to tell an object apart")
    gray = cv2.cvtColor(rgb8[cy0:cy1, cx0:cx1], cv2.COLOR_RGB2GRAY)
    scale = min(1.0, PROMPT_SIDE / max(gray.shape))
    small = _resize(gray, scale, cv2.INTER_AREA) if scale < 1 else gray
    inside = _resize(region[cy0:cy1, cx0:cx1].astype(np.uint8), scale, cv2.INTER_NEAREST).astype(bool)
    segments = felzenszwalb(small, scale=SEGMENT_SCALE, sigma=0.8, min_size=max(10, small.size // 1500))
    n = segments.max() + 1
    share = np.bincount(segments[inside], minlength=n) / np.maximum(np.bincount(segments.ravel(), minlength=n), 1)
    fg = (share >= CONTAINED)[segments] & inside
    if allowed is not None:
        fg &= _resize(allowed[cy0:cy1, cx0:cx1].astype(np.uint8), scale, cv2.INTER_NEAREST).astype(bool)
    codes = appearance_codes(small)
    if outside_known:
        fg = drop_background_like(codes, segments, fg, ~inside)
    if not fg.any():
        fg = inside.copy()
    fg = snap_edges(codes, fg, inside)
    for points, add in ((pos, True), (neg, False)):
        for px, py in points:
            iy = min(small.shape[0] - 1, max(0, int((py - cy0) * scale)))
            ix = min(small.shape[1] - 1, max(0, int((px - cx0) * scale)))
            under = (segments == segments[iy, ix]) & inside
            fg = fg | under if add else fg & ~under
    out = np.zeros((h, w), bool)
    out[cy0:cy1, cx0:cx1] = cv2.resize(fg.astype(np.uint8), (cx1 - cx0, cy1 - cy0),
                                       interpolation=cv2.INTER_NEAREST).astype(bool)
    return out & region


def _region_class(prior: Prior, region: np.ndarray) -> np.ndarray | None:
    """P(the class that fills the region most) over the image, or None when no class fills it enough: clicks added
    to a box or a selection only add or subtract, they do not change what it holds."""
    ph, pw = prior.probs.shape[1:]
    weight = cv2.resize(region.astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA).ravel()
    scores = prior.probs.reshape(len(prior.probs), -1) @ weight / max(float(weight.sum()), 1e-9)
    return _class_map(prior, scores, BOX_CLASS_MIN, region.shape)


def _click_class(prior: Prior, size: tuple[int, int], click: np.ndarray) -> np.ndarray | None:
    """P(the class under the click) over the image, or None when no class is likely enough there."""
    ph, pw = prior.probs.shape[1:]
    x, y = click
    scores = prior.probs[:, min(ph - 1, int(y * ph / size[0])), min(pw - 1, int(x * pw / size[1]))]
    return _class_map(prior, scores, CLICK_CLASS_MIN, size)


def _class_map(prior: Prior, scores: np.ndarray, threshold: float, size: tuple[int, int]) -> np.ndarray | None:
    """P(the best-scoring object class) at ``size``, or None when its score is under ``threshold``."""
    scores = scores.copy()
    scores[BACKGROUND] = 0
    c = int(scores.argmax())
    return prior.class_map(c, size) if scores[c] >= threshold else None


def _components_at(fg: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The connected parts of ``fg`` under the positive clicks: a click selects the object under it, not every
    similar-looking region nearby."""
    comp, n = ndimage.label(fg)
    h, w = fg.shape
    keep = {comp[min(h - 1, int(y)), min(w - 1, int(x))] for x, y in pos} - {0}
    return np.isin(comp, list(keep)) if keep else fg


def _merge_objects(labels: np.ndarray, prior: Prior, min_area: int) -> np.ndarray:
    """Felzenszwalb labels with every confident DeepLab object (a connected region of one non-background class,
    at least ``min_area`` pixels) made one segment: a person is one segment, not a dozen."""
    cls = cv2.resize(prior.probs.argmax(axis=0).astype(np.uint8), labels.shape[::-1],
                     interpolation=cv2.INTER_NEAREST)
    out = labels.astype(np.int64)
    next_label = out.max() + 1
    for c in np.unique(cls):
        if c == BACKGROUND:
            continue
        comp, n = ndimage.label(cls == c)
        for i in range(1, n + 1):
            region = comp == i
            if region.sum() >= min_area:
                out[region] = next_label
                next_label += 1
    return out


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
