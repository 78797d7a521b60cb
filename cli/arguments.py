"""Argument types the commands share, so a bad value is refused before any work with the core's own message."""
from __future__ import annotations

import argparse

from chromaseg.core.classes import check_vibrancy


def vibrancy(text: str) -> float:
    """``--vibrancy``: 0..1, checked by the colorizer's own rule."""
    try:
        return check_vibrancy(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc) if "vibrancy" in str(exc) else f"not a number: {text!r}") from None
