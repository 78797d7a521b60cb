"""Fixtures for the plugin tests: a real daemon subprocess (started by the bridge tests' own helpers)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bridge"))  # bridge_helpers: one copy, reused

from bridge_helpers import Daemon, start_daemon  # noqa: E402


@pytest.fixture(scope="session")
def plugin_daemon(tmp_path_factory: pytest.TempPathFactory, tiny_colorizer_checkpoint: Path) -> Iterator[Daemon]:
    """One daemon on loopback TCP with a tiny colorizer and the no-weights segmenter, shared by the plugin tests."""
    d = start_daemon(tmp_path_factory.mktemp("plugin-daemon"), "tcp://127.0.0.1:0", "--colorizer",
                     str(tiny_colorizer_checkpoint))
    yield d
    assert d.stop() == 0
