"""Shared fixtures: where ../shared lives (tests read training photos from it at run time, never from the repo)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bridge"))  # bridge_helpers, for every suite

from bridge_helpers import Daemon, assert_no_internal, start_daemon  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the tests read real photos and models from ../shared beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def train_photos(shared_dir: Path) -> list[Path]:
    """A fixed, small sample of real training photos."""
    from chromaseg.core.classes import list_images

    return list_images(shared_dir / "data" / "train")[::400][:20]


@pytest.fixture(scope="session")
def tiny_colorizer_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init tiny colorizer saved as a real checkpoint: exercises loading and inference, not quality."""
    import numpy as np
    import torch

    from chromaseg.core.classes import GRID_CLASSES, ClassTable
    from chromaseg.core.model import build_colorizer, save_checkpoint

    counts = np.zeros(GRID_CLASSES, np.int64)
    counts[::7] = 100
    torch.manual_seed(0)
    net = build_colorizer("ccc-mobile-tiny", table=ClassTable.from_counts(counts, 1e-3)).eval()
    path = tmp_path_factory.mktemp("colorizer") / "tiny.pt"
    save_checkpoint(net, path)
    return path


@pytest.fixture(scope="session")
def vivid_colorizer():
    """A small random colorizer whose class centers span vivid colors (so gamut fitting is exercised)."""
    import torch

    from chromaseg.core.classes import GRID_CLASSES, ClassTable
    from chromaseg.core.model import build_colorizer

    counts = np.zeros(GRID_CLASSES, np.int64)
    counts[::7] = 100
    table = ClassTable.from_counts(counts, 1e-3)
    torch.manual_seed(0)
    net = build_colorizer("ccc-mobile-tiny", table=table).eval()
    with torch.no_grad():
        net.head.bias.normal_(0, 3)  # confident, varied predictions
    return net


TINY_ARCH = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1], "image_size": 256,
             "window_size": 4, "prompt_embed_dim": 32}


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights dir holding a saved random-init tiny ViT SAM and a registry entry with the file's real sha256."""
    import torch

    from chromaseg.core.segment.registry import ModelEntry, WeightFile
    from chromaseg.core.segment.sam_backend import build_sam

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    model = build_sam(ModelEntry("tiny", "sam", (WeightFile("tiny.pt"),), "vit_b", TINY_ARCH))
    torch.save(model.state_dict(), root / "tiny.pt")
    sha = hashlib.sha256((root / "tiny.pt").read_bytes()).hexdigest()
    entry = {"name": "tiny-vit_b", "kind": "sam", "model_type": "vit_b", "arch": TINY_ARCH,
             "files": [{"path": "tiny.pt", "sha256": sha}]}
    (root / "registry.json").write_text(json.dumps({"entries": [entry]}))
    return root


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory, tiny_colorizer_checkpoint: Path) -> Iterator[Daemon]:
    """One daemon on loopback TCP with a tiny colorizer checkpoint and the no-weights segmenter, shared by the op,
    plugin and real-GIMP tests (the GIMP chroot shares the host's network)."""
    d = start_daemon(tmp_path_factory.mktemp("daemon"), "tcp://127.0.0.1:0", "--colorizer",
                     str(tiny_colorizer_checkpoint))
    yield d
    assert d.stop() == 0
    assert_no_internal(d)
