"""Fixtures for the GIMP plug-in's unit tests: the in-memory gimpfu backend and test images built with gimpfu calls
(the daemon is tests/plugins/conftest.py's `daemon`)."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from chromaseg.plugins.gimp import gimpfu, procedures  # noqa: F401  (procedures registers the plug-in)
from memory import MemImage, MemLayer, MemoryBackend
from gimp_test_images import add_layer, gray_ramp


@pytest.fixture
def backend() -> Iterator[MemoryBackend]:
    b = MemoryBackend()
    gimpfu.use_backend(b)
    yield b
    gimpfu.use_backend(None)


@pytest.fixture
def photo(backend: MemoryBackend) -> Callable[..., tuple[MemImage, MemLayer]]:
    """An image with one gray 'Photo' layer; its undo history is cleared so a test counts only its action's steps."""

    def make(w: int = 48, h: int = 40, bits: int = 8, base_type: int = gimpfu.RGB) -> tuple[MemImage, MemLayer]:
        image = MemImage(w, h, base_type, bits)
        layer = add_layer(image, "Photo", gray_ramp(w, h, bits))
        image.undo.clear()
        return image, layer

    return make
