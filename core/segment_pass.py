"""The segment pass of the three-stage pipeline (seed 000): segments -> colorize each -> combine.

The full-image prediction sees a large layer reduced to the model's resolution, so a small object gets a few dozen
network pixels. For each large-enough segment the network runs again on the segment's bounding box plus a context
margin (the object's surroundings still inform its color), at a higher effective resolution, and that chroma is fused
back through the segment's mask with a feathered edge, so no seam appears where segments meet.

A crop refines the full pass's colors; it never replaces them. It sees less of the picture, and on its own it can
decide differently (the sample's flag, cropped, came out with green stripes where the full pass had red), so its
chroma is taken in proportion to its agreement with the full pass, exp(-d^2 / (2 AGREEMENT^2)) for a difference of
d in a*, b*: a crop moves a pixel's a*, b* by at most AGREEMENT * exp(-1/2) (about 6 units) from the full pass.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import cv2
import numpy as np
from scipy import ndimage

MARGIN = 0.25  # context margin on each side, as a fraction of the segment's box
MIN_MARGIN = 8  # pixels
MIN_AREA_FRACTION = 0.002  # segments smaller than this share of the layer are left to the full pass
MIN_GAIN = 1.5  # a crop runs only if it gets at least this much more resolution than the full pass gave it
MAX_CROPS = 16  # bounds the pass's cost: the largest segments first
FEATHER_FRACTION = 0.05  # feather width, as a fraction of the crop's short side
AGREEMENT = 10.0  # a*, b* units: a crop's chroma this far from the full pass's is taken at exp(-1/2) weight


@dataclass(frozen=True)
class Crop:
    """One segment's region: its label and the crop (box plus margin) as half-open pixel bounds."""

    label: int
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def plan_crops(labels: np.ndarray, resolution: int, max_crops: int = MAX_CROPS) -> list[Crop]:
    """The segments worth a second look, largest first: big enough, and whose crop the network would see at least
    ``MIN_GAIN`` times sharper than in the full pass (a layer already at model resolution gains nothing)."""
    h, w = labels.shape
    full_scale = min(1.0, resolution / max(h, w))
    valid = labels >= 0
    if not valid.any():
        return []
    if int(labels.max()) >= labels.size:  # sparse label values: the per-label tables below would outgrow the image
        values, inverse = np.unique(np.where(valid, labels, -1), return_inverse=True)
        segment_values = values[1:] if values[0] < 0 else values
        dense = inverse.reshape(labels.shape).astype(np.int32) - int(values[0] < 0)
        return [replace(c, label=int(segment_values[c.label])) for c in plan_crops(dense, resolution, max_crops)]
    counts = np.bincount(labels[valid].ravel())
    min_area = MIN_AREA_FRACTION * h * w
    crops = []
    for label, box in enumerate(ndimage.find_objects(np.where(valid, labels + 1, 0))):
        if box is None or counts[label] < min_area:
            continue
        ys, xs = box
        my = max(MIN_MARGIN, round(MARGIN * (ys.stop - ys.start)))
        mx = max(MIN_MARGIN, round(MARGIN * (xs.stop - xs.start)))
        crop = Crop(label, max(0, ys.start - my), min(h, ys.stop + my), max(0, xs.start - mx), min(w, xs.stop + mx))
        crop_scale = min(1.0, resolution / max(crop.y1 - crop.y0, crop.x1 - crop.x0))
        if crop_scale >= MIN_GAIN * full_scale:
            crops.append(crop)
    crops.sort(key=lambda c: -counts[c.label])
    return crops[:max_crops]


def feathered_mask(mask: np.ndarray, feather: float) -> np.ndarray:
    """(h, w) float32 weight: 1 deep inside ``mask``, ramping to 0 at its edge over ``feather`` pixels."""
    inside = mask.astype(np.uint8)
    if feather <= 0:
        return inside.astype(np.float32)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return np.minimum(dist * np.float32(1 / feather), 1.0, out=dist)


def refine_segments(ab: np.ndarray, labels: np.ndarray, predict_region: Callable[[Crop], np.ndarray],
                    resolution: int, progress: Callable[[int, int], None] | None = None) -> list[Crop]:
    """Fuse per-segment predictions into ``ab`` (H, W, 2) in place; returns the crops that ran.

    ``predict_region(crop)`` returns the crop's (h, w, 2) chroma predicted from the crop alone. Pixels outside every
    refined segment keep the full pass's chroma exactly; inside, the crop's chroma weighs by its agreement with it.
    """
    crops = plan_crops(labels, resolution)
    for i, crop in enumerate(crops):
        if progress is not None:
            progress(i, len(crops))
        ys, xs = crop.slices
        region_ab = predict_region(crop)
        feather = max(1.0, FEATHER_FRACTION * min(crop.y1 - crop.y0, crop.x1 - crop.x0))
        target = ab[ys, xs]
        change = region_ab - target
        agreement = np.exp(np.sum(change * change, axis=-1) * np.float32(-0.5 / AGREEMENT ** 2))
        weight = (feathered_mask(labels[ys, xs] == crop.label, feather) * agreement)[..., None]
        target += weight * change
    if progress is not None:
        progress(len(crops), len(crops))
    return crops


def confine_to_hinted_segments(hinted_ab: np.ndarray, free_ab: np.ndarray, labels: np.ndarray,
                               hint_mask: np.ndarray) -> np.ndarray:
    """"Fill this segment with this color": a hint colors only the segment it was painted in. Pixels of segments
    holding a hint take the hinted prediction, all others the prediction made without hints."""
    hinted_labels = np.unique(labels[hint_mask & (labels >= 0)])
    inside = np.isin(labels, hinted_labels) | hint_mask
    return np.where(inside[..., None], hinted_ab, free_ab)
