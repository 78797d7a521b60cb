"""Shared fixtures: where ../shared lives (tests read training photos from it at run time, never from the repo)."""
from __future__ import annotations

from pathlib import Path

import pytest

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
