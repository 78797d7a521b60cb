"""Argument types the commands share, so a bad value is refused before any work with the core's own message."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from chromaseg.core.classes import check_vibrancy


def vibrancy(text: str) -> float:
    """``--vibrancy``: 0..1, checked by the colorizer's own rule."""
    try:
        return check_vibrancy(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc) if "vibrancy" in str(exc) else f"not a number: {text!r}") from None


def add_report_options(p: argparse.ArgumentParser, unit: str) -> None:
    """``--limit`` and ``--json``, as every evaluation command takes them."""
    p.add_argument("--limit", type=int, default=None, help=f"use only the first N {unit}")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the full report as JSON")


def write_report(report: dict[str, Any], path: str | None) -> None:
    """The ``--json`` file of an evaluation command, when one was asked for."""
    if path:
        Path(path).write_text(json.dumps(report, indent=1) + "\n")
