"""Fixtures for `chromaseg batch`: a small mixed collection, the command with the tiny colorizer, one torch thread."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from batch_helpers import H, W, Run, pixels, write
from PIL import Image

from chromaseg.cli.main import main


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The in-process runs on one thread, as each Ray actor is (OMP_NUM_THREADS=1): on this shared 2-core machine
    two spinning OpenMP threads make a 20x28 image take seconds instead of milliseconds."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def batch(tiny_colorizer_checkpoint: Path, capsys: pytest.CaptureFixture) -> Callable[..., Run]:
    """Run `chromaseg batch ARGS --model tiny`: its status, stdout and stderr lines (progress bars left out)."""
    def run(*args: str | Path) -> Run:
        status = main(["batch", *map(str, args), "--model", str(tiny_colorizer_checkpoint)])
        captured = capsys.readouterr()
        err = [line.strip() for line in captured.err.replace("\r", "\n").splitlines()
               if line.strip() and not line.startswith("colorizing:")]
        return Run(status, captured.out, err)
    return run


@pytest.fixture
def collection(tmp_path: Path) -> dict[str, tuple[str, int]]:
    """A folder of 20 images (8/16-bit, gray/RGB/RGBA, JPEG, a.jpg + a.png, one corrupt) plus one image's hint
    layer; returns {file name: (dtype, channels of its result)} for the 19 good ones."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    kinds = [(3, np.uint8), (1, np.uint8), (4, np.uint8), (3, np.uint16), (1, np.uint16), (4, np.uint16)]
    expected: dict[str, tuple[str, int]] = {}
    for i in range(15):
        channels, dtype = kinds[i % len(kinds)]
        name = f"{'sub/' if i % 4 == 0 else ''}p{i:02d}.png"
        write(folder / name, pixels(channels, dtype, i))
        expected[name] = (np.dtype(dtype).name, 4 if channels == 4 else 3)
    Image.fromarray(pixels(3, np.uint8, 20)).save(folder / "scan.jpg")
    Image.fromarray(pixels(1, np.uint8, 21)).save(folder / "a.jpg")
    write(folder / "a.png", pixels(3, np.uint16, 22))
    Image.fromarray(pixels(3, np.uint8, 23)).save(folder / "old.tif")
    expected.update({"scan.jpg": ("uint8", 3), "a.jpg": ("uint8", 3), "a.png": ("uint16", 3), "old.tif": ("uint8", 3)})
    hints = np.zeros((H, W, 4), np.uint8)
    hints[5:9, 5:9] = (255, 0, 0, 255)
    Image.fromarray(hints).save(folder / "p01.hints.png")
    (folder / "broken.png").write_bytes((folder / "p01.png").read_bytes()[:-60])
    return expected
