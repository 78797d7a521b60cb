"""Where weights live: the shipped colorizer in the package's assets, third-party weights in the weights directory.

The project's own colorizer ships inside the package (it works out of the box); third-party weights (the DeepLab
semantic encoder) are never committed and are looked up in a weights directory that the installer fills: the
``CHROMASEG_WEIGHTS`` environment variable, else ``~/.cache/chromaseg/weights``.
"""
from __future__ import annotations

import os
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
COLORIZER_ASSET = "colorizer.pt"
DEEPLAB_FOLDER = "deeplabv3-mnv2"
DEEPLAB_STEM = "deeplabv3"


def weights_dir() -> Path:
    """The weights directory: $CHROMASEG_WEIGHTS, else ~/.cache/chromaseg/weights (it may not exist)."""
    env = os.environ.get("CHROMASEG_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "chromaseg" / "weights"


def shipped_asset(name: str) -> Path:
    """Path of a file shipped in chromaseg.core.assets (raises when the package lacks it)."""
    path = ASSETS / name
    if not path.is_file():
        raise FileNotFoundError(f"chromaseg ships no {name} (looked in {ASSETS})")
    return path


def deeplab_ir(folder: str | os.PathLike | None = None) -> tuple[Path, Path] | None:
    """(xml, bin) of the DeepLabv3-MobileNetV2 OpenVINO IR, from ``folder`` (or its ``deeplabv3-mnv2`` subfolder),
    default the weights directory; None when absent."""
    base = Path(folder) if folder is not None else weights_dir()
    for candidate in (base / DEEPLAB_FOLDER, base):
        xml, bin_ = candidate / f"{DEEPLAB_STEM}.xml", candidate / f"{DEEPLAB_STEM}.bin"
        if xml.is_file() and bin_.is_file():
            return xml, bin_
    return None
