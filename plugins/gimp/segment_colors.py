"""Distinct colors for segment masks: golden-ratio steps around the hue circle, so neighbors in the list differ."""
from __future__ import annotations

import colorsys

_GOLDEN = 0.618033988749895


def segment_color(index: int) -> tuple[float, float, float]:
    """RGB in [0, 1] for the `index`-th segment (stable: the same index always gets the same color)."""
    return colorsys.hsv_to_rgb((index * _GOLDEN) % 1.0, 0.75, 0.95)
