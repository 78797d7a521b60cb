"""The console script: subcommands are listed and `chromaseg demo` writes its images."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from chromaseg.cli.main import main


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "chromaseg.cli.main", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "demo" in out


def test_demo_writes_its_images(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path) in printed and "max error 0/255" in printed
    original = np.asarray(Image.open(tmp_path / "original.png"))
    for name in ("gray.png", "roundtrip.png", "harmonized.png"):
        image = np.asarray(Image.open(tmp_path / name))
        assert image.shape == original.shape
    gray = np.asarray(Image.open(tmp_path / "gray.png")).astype(int)
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1  # L only: neutral
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "harmonized.png")), original)
