"""Layer pixels in every form the editors send (HxW or HxWx3/x4; uint8, uint16 or float) to what the backends eat."""
from __future__ import annotations

import numpy as np

from chromaseg.core.color import from_unit_float, srgb_to_lab, to_unit_float


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as an array, rejected early when its shape cannot be a layer."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image
    if image.ndim == 2:
        return image
    raise ValueError(f"images must be HxW or HxWx3/x4; got shape {image.shape}")


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 sRGB: what SAM and the fallback take (gray is replicated, alpha dropped)."""
    image = check_image(image)
    if image.ndim == 3:
        image = image[..., :3]
    rgb = image if image.dtype == np.uint8 else from_unit_float(to_unit_float(image), np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return np.ascontiguousarray(rgb)


def lightness(rgb8: np.ndarray) -> np.ndarray:
    """CIE L* scaled to [0, 1]: the classical fallback segments what the colorizer sees, the gray layer."""
    return srgb_to_lab(rgb8)[..., 0] / np.float32(100.0)


def box_mask(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of the box (x0, y0, x1, y1) as a bool mask of ``shape``."""
    out = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = True
    return out
