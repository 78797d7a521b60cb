"""DeepLab's class probabilities of the gray layer: the prior that lets the no-weights segmenter follow an object.

Classical cues (L, texture, edges) cannot tell a person's dark coat from the dark wall behind it on a gray photo;
DeepLab (PASCAL VOC: people, animals, vehicles, furniture, plants, bottles, screens) can. Its pass costs seconds on a
CPU, so like SAM's embedding it runs once per image (cached by content) and every later prompt reuses it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from chromaseg.core.segment.cache import content_key

if TYPE_CHECKING:
    from torch import nn

PRIOR_SIDE = 448  # long side DeepLab sees: its logits come out at 1/8 of this
BACKGROUND = 0
CLASS_COVER = 0.5  # share of a segment's pixels one class must cover (by the prior's argmax) to name the segment


def find_deeplab() -> nn.Module | None:
    """DeepLab from the shipped colorizer checkpoint's encoder, else from the weights directory, else None (then
    the fallback runs purely classically: a missing or broken file must never cost the user the selection tool)."""
    try:
        from chromaseg.core.model import load_checkpoint
        from chromaseg.core.weights import COLORIZER_ASSET, shipped_asset

        encoder = getattr(load_checkpoint(shipped_asset(COLORIZER_ASSET)), "encoder", None)
        if encoder is not None:
            return encoder.deeplab
    except Exception:  # noqa: BLE001 - no usable shipped checkpoint: the weights directory may still hold the IR
        pass
    try:
        from chromaseg.core.semantic import load_deeplab

        return load_deeplab()
    except Exception:  # noqa: BLE001 - a damaged IR degrades to the classical method
        return None


@dataclass(frozen=True)
class Prior:
    """Class probabilities (21, h, w) of one image at 1/8 of the working size, float32."""

    probs: np.ndarray

    def class_map(self, c: int, size: tuple[int, int]) -> np.ndarray:
        """P(class c) resampled (bilinear) to ``size`` = (height, width) of the whole image or of a view of it."""
        import cv2

        return cv2.resize(self.probs[c], (size[1], size[0]), interpolation=cv2.INTER_LINEAR)

    def segment_classes(self, labels: np.ndarray) -> list[str | None]:
        """The PASCAL VOC class name of each segment of an (H, W) label map (0..n-1, -1 = none), in label order: the
        object class that is the prior's most likely one on at least ``CLASS_COVER`` of the segment's pixels, else
        None (mostly background, or no class that clear). The argmax map is resized (nearest) to the label map and
        counted per segment and class in one bincount."""
        import cv2

        from chromaseg.core.semantic import VOC_CLASSES

        n = int(labels.max()) + 1 if labels.size else 0
        if n <= 0:
            return []
        classes = len(self.probs)
        best = self.probs.argmax(axis=0).astype(np.uint8)
        best = cv2.resize(best, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_NEAREST)
        inside = labels >= 0
        counts = np.bincount(labels[inside].astype(np.int64) * classes + best[inside],
                             minlength=n * classes).reshape(n, classes)
        total = counts.sum(axis=1)
        counts[:, BACKGROUND] = 0
        top = counts.argmax(axis=1)
        named = (counts[np.arange(n), top] >= CLASS_COVER * total) & (total > 0)
        return [VOC_CLASSES[c] if ok else None for c, ok in zip(top.tolist(), named.tolist())]


class PriorCache:
    """DeepLab passes keyed by image content (an LRU of ``size`` images): set the image once, prompt it many times."""

    def __init__(self, deeplab: nn.Module, size: int = 8) -> None:
        self.deeplab = deeplab
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, Prior] = OrderedDict()

    def get(self, rgb8: np.ndarray) -> Prior:
        key = content_key(rgb8, "deeplab")
        item = self._items.get(key)
        if item is not None:
            self.hits += 1
            self._items.move_to_end(key)
            return item
        self.misses += 1
        item = compute_prior(self.deeplab, rgb8)
        self._items[key] = item
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return item


def compute_prior(deeplab: nn.Module, rgb8: np.ndarray) -> Prior:
    """One DeepLab pass over the gray version of ``rgb8`` (the layer is gray; a color layer is made gray too, so
    the prior never depends on color the artist's layer does not have)."""
    import cv2
    import torch

    gray = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, PRIOR_SIDE / max(h, w))
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(gray).float()[None, None].expand(1, 3, -1, -1)
    with torch.no_grad():
        logits = deeplab(x.contiguous(memory_format=torch.channels_last))
    return Prior(torch.softmax(logits[0].float(), dim=0).numpy())
