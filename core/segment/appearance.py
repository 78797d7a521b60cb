"""Which superpixels inside a box or a selection look like the background just outside it.

A box or a selection says where the object is and, as much, where it is not: the pixels just outside it are
background. On a textured background the superpixels inside a tight prompt are not only the object's, since the
background also breaks into pieces small enough to lie wholly inside it (and the sky between a giraffe's legs is
inside its box). Those pieces give themselves away by their lightness and texture: the ring of known background
explains them better than the rest of the candidate object does. Gray layers have no colour, so L and local contrast
are the appearance. The same two models then settle the pixels along the object's edge, which superpixels of a
smoothed image leave a pixel off.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

L_BINS = 32
TEXTURE_BINS = 6  # log2(1 + local std of L): 0, 1, 3, 7, 15, 31+ grey levels
SMOOTH = (1.0, 0.5)  # histogram smoothing (bins of L, bins of texture): few samples must not leave holes
ROUNDS = 2  # re-estimate the object's appearance from what survived, as GrabCut's iterations do
MARGIN = 1.0  # mean log-likelihood ratio (nats per pixel) by which the background must win to drop a superpixel


def appearance_codes(gray8: np.ndarray) -> np.ndarray:
    """Per pixel, the bin of (L, local contrast) in an ``L_BINS`` x ``TEXTURE_BINS`` histogram."""
    g = gray8.astype(np.float32)
    mean = cv2.blur(g, (5, 5))
    std = np.sqrt(np.maximum(cv2.blur(g * g, (5, 5)) - mean * mean, 0))
    texture = np.minimum(np.log2(1 + std).astype(np.int64), TEXTURE_BINS - 1)
    return (gray8.astype(np.int64) * L_BINS // 256) * TEXTURE_BINS + texture


def _log_density(codes: np.ndarray) -> np.ndarray:
    hist = np.bincount(codes, minlength=L_BINS * TEXTURE_BINS).reshape(L_BINS, TEXTURE_BINS).astype(np.float64)
    hist = ndimage.gaussian_filter(hist, SMOOTH, mode="nearest") + 1e-3
    return np.log(hist / hist.sum()).ravel()


def drop_background_like(codes: np.ndarray, segments: np.ndarray, candidate: np.ndarray,
                         background: np.ndarray) -> np.ndarray:
    """``candidate`` without the superpixels that the ``background`` pixels' appearance explains better (by
    ``MARGIN``) than the candidate's own; unchanged when there is no background to learn from or nothing would
    remain."""
    if not background.any() or not candidate.any():
        return candidate
    bg = _log_density(codes[background])
    ids, pix = segments[candidate], codes[candidate]
    counts = np.maximum(np.bincount(ids, minlength=segments.max() + 1), 1)
    keep = candidate
    for _ in range(ROUNDS):
        ratio = _log_density(codes[keep]) - bg
        score = np.bincount(ids, weights=ratio[pix], minlength=len(counts)) / counts
        kept = candidate & (score >= -MARGIN)[segments]
        if not kept.any():
            break
        keep = kept
    return keep


def snap_edges(codes: np.ndarray, fg: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``fg`` with the pixels along its edge (one on each side, within ``inside``) given to whichever of the
    object's and the rest's lightness explains them better. Superpixels come from a smoothed image, so their edges
    sit a pixel off the object's; texture is left out here because the local-contrast window straddles the edge,
    which makes the pixels on both sides of it look alike."""
    if fg.all() or not fg.any():
        return fg
    light = codes // TEXTURE_BINS * TEXTURE_BINS  # texture bin 0: the same histogram on L alone
    ratio = _log_density(light[fg]) - _log_density(light[~fg])
    edge = ndimage.binary_dilation(fg) & ~ndimage.binary_erosion(fg, border_value=1) & inside
    out = fg.copy()
    out[edge] = ratio[light[edge]] > 0
    return out
