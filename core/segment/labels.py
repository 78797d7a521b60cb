"""Capping a label map to at most ``max_segments`` labels (seed 000's guard against over-segmentation).

Both backends over-segment (Felzenszwalb into hundreds of regions, SAM into overlapping masks); harmonization over
hundreds of slivers would pull nothing together, so the largest regions stay and the rest join their nearest survivor.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def cap_labels(labels: np.ndarray, max_segments: int, min_area: int = 0) -> np.ndarray:
    """Keep the ``max_segments`` largest labels of area >= ``min_area`` (0..n-1, by decreasing area); pixels of dropped
    labels take the label of the nearest kept pixel, so coverage is unchanged. Negative input labels stay -1."""
    if max_segments < 1:
        raise ValueError("max_segments must be >= 1")
    valid = labels >= 0
    if not valid.any():
        return np.full(labels.shape, -1, np.int32)
    _, inverse, counts = np.unique(labels[valid], return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    kept = order[:max_segments]
    kept = kept[counts[kept] >= min_area] if min_area else kept
    if kept.size == 0:
        kept = order[:1]
    remap = np.full(counts.size, -1, np.int32)
    remap[kept] = np.arange(kept.size, dtype=np.int32)
    out = np.full(labels.shape, -1, np.int32)
    out[valid] = remap[inverse.ravel()]
    orphans = valid & (out < 0)
    if orphans.any():
        _, (iy, ix) = ndimage.distance_transform_edt(out < 0, return_indices=True)
        out[orphans] = out[iy[orphans], ix[orphans]]
    return out
