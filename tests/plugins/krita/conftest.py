"""The fake `krita` and PyQt5 modules stand in for Krita's while the plugin's Krita modules are imported and
tested."""
from __future__ import annotations

import sys
from typing import Iterator

import fake_krita
import fake_qt
import pytest

sys.modules.setdefault("krita", fake_krita)
fake_qt.install()


@pytest.fixture
def krita() -> Iterator[fake_krita.Krita]:
    """A fresh fake Krita instance for the test."""
    yield fake_krita.Krita.reset()
