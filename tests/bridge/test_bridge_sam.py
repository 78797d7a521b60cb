"""With a SAM checkpoint installed (a saved random-init tiny ViT and its registry entry), the daemon's segment,
colorize and harmonize ops run on SAM, and info says so."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from bridge_helpers import Daemon, photo, start_daemon

from chromaseg.bridge.client import Frame


@pytest.fixture(scope="module")
def sam_daemon(tmp_path_factory: pytest.TempPathFactory, tiny_sam_dir: Path,
               tiny_colorizer_checkpoint: Path) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("sam-daemon"), "tcp://127.0.0.1:0", "--colorizer",
                     str(tiny_colorizer_checkpoint), env={"CHROMASEG_WEIGHTS": str(tiny_sam_dir)})
    yield d
    d.stop()


def _array(frame: Frame) -> np.ndarray:
    return np.frombuffer(frame.data, {"u8": np.uint8, "i32": "<i4"}[frame.dtype]).reshape(frame.shape)


def test_info_names_the_sam_backend(sam_daemon: Daemon) -> None:
    with sam_daemon.client() as c:
        seg = c.info()["segmenter"]
    assert seg["backend"] == "sam:tiny-vit_b" and "tiny-vit_b" in seg["reason"]


def test_segment_prompts_run_on_sam_and_hit_its_cache(sam_daemon: Daemon) -> None:
    layer = photo(96, 128, 3)
    with sam_daemon.client() as c:
        boxed = c.request("segment", {"box": [20, 10, 90, 70]}, {"layer": Frame.from_array(layer)})
        clicked = c.request("segment", {"points": [[50, 40]], "labels": [1]}, {"layer": Frame.from_array(layer)})
    assert boxed.result["backend"] == clicked.result["backend"] == "sam:tiny-vit_b"
    mask = _array(boxed.frames["mask"])
    outside = mask.copy()
    outside[10:70, 20:90] = 0
    assert mask.shape == (96, 128) and not outside.any()  # a box prompt's mask lies inside the box


def test_colorize_and_harmonize_segment_with_sam(sam_daemon: Daemon) -> None:
    layer = photo(96, 128, 3)
    with sam_daemon.client() as c:
        colored = c.request("colorize", {"harmonize": True, "resolution": 32}, {"layer": Frame.from_array(layer)})
        harmonized = c.request("harmonize", {"min_pixels": 10}, {"layer": Frame.from_array(layer)})
    assert colored.result["segmenter"] == harmonized.result["segmenter"] == "sam:tiny-vit_b"
    assert _array(colored.frames["layer"]).shape == layer.shape
