"""The console script: subcommands are listed and `chromaseg demo` writes its images."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from chromaseg.cli.main import main
from chromaseg.core.color import srgb_to_lab
from chromaseg.core.segment_pass import AGREEMENT


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "chromaseg.cli.main", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "demo" in out


def test_demo_writes_its_images(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(tmp_path / "no-weights"))  # hermetic: the fallback segmenter
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path) in printed and "PSNR" in printed and "segmenter: classic" in printed
    original = np.asarray(Image.open(tmp_path / "original.png"))
    for name in ("gray.png", "colorized.png", "colorized-pipeline.png", "colorized-10-hints.png"):
        image = np.asarray(Image.open(tmp_path / name))
        assert image.shape == original.shape
    gray = np.asarray(Image.open(tmp_path / "gray.png")).astype(int)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1  # L only: neutral
    colorized = np.asarray(Image.open(tmp_path / "colorized.png")).astype(int)
    assert np.abs(colorized[..., 0] - colorized[..., 2]).mean() > 3  # the colorizer added color
    # The pipeline adds no color the plain result lacks: its segment pass moves a*, b* by at most
    # AGREEMENT * exp(-1/2) (plus the 8-bit rounding of both images).
    plain, pipeline = (srgb_to_lab(np.asarray(Image.open(tmp_path / n))) for n in ("colorized.png",
                                                                                  "colorized-pipeline.png"))
    assert np.abs(pipeline[..., 1:] - plain[..., 1:]).max() <= AGREEMENT * np.exp(-0.5) + 1.5
    strip = np.asarray(Image.open(tmp_path / "strip.png"))
    assert strip.shape == (original.shape[0], 5 * original.shape[1], 3)