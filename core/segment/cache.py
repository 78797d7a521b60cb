"""A bounded LRU cache of SAM image embeddings keyed by image content, so repeated prompts skip the encoder.

An interactive session prompts the same layer many times; the encoder is 1-60 s on a CPU, a prompt 0.1 s. The key is a
hash of the pixels (plus shape and dtype), so the editor needs no ids and an edited layer can never hit a stale entry.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np


def content_key(image: np.ndarray, salt: str = "") -> str:
    """blake2b of the pixels, shape and dtype (and ``salt``, e.g. the model, so two models never share an entry)."""
    image = np.ascontiguousarray(image)
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{salt}|{image.shape}|{image.dtype.str}|".encode())
    h.update(memoryview(image).cast("B"))
    return h.hexdigest()


@dataclass
class Embedding:
    """What SamPredictor keeps after ``set_image``: the features and the two sizes its prompt transform needs."""

    features: Any  # torch.Tensor (1, C, h, w)
    original_size: tuple[int, int]
    input_size: tuple[int, int]

    @property
    def nbytes(self) -> int:
        return int(self.features.element_size() * self.features.nelement())


class EmbeddingCache:
    """LRU over a byte budget; ``hits`` / ``misses`` count lookups (the daemon's ``info`` can report them)."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, Embedding] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Embedding | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return item

    def put(self, key: str, item: Embedding) -> None:
        if item.nbytes > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._items[key] = item
        self._bytes += item.nbytes
        while self._bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= evicted.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
