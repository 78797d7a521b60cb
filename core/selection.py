"""Where an op may change a layer: the artist's selection as a blend weight, and the pixels it must protect.

Colorize and harmonize both confine their result to a selection and leave protected pixels (the artist's hints, a
protect mask) as they are; the weight and the mask are built here, once, so both ops and both editors agree.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def feather_weights(selection: Any, shape: tuple[int, int], feather: float) -> np.ndarray:
    """(H, W) float32 blend weight in [0, 1]: 0 outside the selection, ramping up to the selection's own value over
    ``feather`` pixels inside its edge (distance transform), so outside stays exactly unchanged. ``feather`` 0: the
    selection's own level (uint8 / 255, or bool)."""
    sel = np.asarray(selection)
    if sel.shape != shape:
        raise ValueError(f"selection must have shape {shape}; got {sel.shape}")
    if sel.dtype == bool:
        level = sel.astype(np.float32)
    elif sel.dtype == np.uint8:
        level = sel.astype(np.float32) * np.float32(1 / 255)
    else:
        raise TypeError(f"selection must be uint8 or bool; got {sel.dtype}")
    inside = (sel > 0).astype(np.uint8)
    if feather <= 0 or inside.all():
        return level
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)  # distance to the nearest unselected pixel
    return np.minimum(dist * np.float32(1 / feather), 1.0, out=dist) * level


def default_feather(shape: tuple[int, int]) -> float:
    """The feather a selection gets when none is asked for: 0.4 % of the long side, at least 1 pixel."""
    return max(1.0, 0.004 * max(shape))


def protect_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool of the pixels an op must leave as they are: any nonzero value of an HxW mask (uint8 or bool)."""
    protect = np.asarray(mask)
    if protect.shape != shape:
        raise ValueError(f"the protect mask must have shape {shape}; got {protect.shape}")
    return protect > 0 if protect.dtype != bool else protect
