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
# cosine similarity to the features at a click for a cell to look like the same object: both DeepLab's backbone
# (what the image shows, also for objects outside VOC's classes) and its ASPP features (what VOC class it is) must agree
LIKE_BACKBONE = 0.4
LIKE_ASPP = 0.85


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
    """Class probabilities (21, h, w) of one image at 1/8 of the working size, float32, and, when the network
    exposes them, its backbone (320) and ASPP (256) features at the same cells, each cell's vector of unit length
    (float16), the semantic affinity a click uses to tell how far its object reaches."""

    probs: np.ndarray
    backbone: np.ndarray | None = None
    aspp: np.ndarray | None = None

    def resembles(self, points: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
        """Where, at ``size`` = (height, width), the image looks like it does under any of ``points`` ((x, y)
        pixels of that size) by DeepLab's features (bilinear over the cells), or None without features. DeepLab
        learned what belongs together in a scene: its features hold across an object's light and dark parts,
        which its gray values do not, and change where the object ends."""
        if self.backbone is None or self.aspp is None:
            return None
        import cv2

        ph, pw = self.probs.shape[1:]
        like = np.zeros(size, bool)
        for x, y in points:
            fy, fx = min(ph - 1, int(y * ph / size[0])), min(pw - 1, int(x * pw / size[1]))
            here = np.ones(size, bool)
            for f, threshold in ((self.backbone, LIKE_BACKBONE), (self.aspp, LIKE_ASPP)):
                sim = np.tensordot(f[:, fy, fx].astype(np.float32), f.astype(np.float32), axes=1)
                here &= cv2.resize(sim, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) >= threshold
            like |= here
        return like

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
    the prior never depends on color the artist's layer does not have). The backbone's and the ASPP's outputs are
    caught on the way (forward hooks, so any network with DeepLab's ``blocks`` and ``projection`` gives them; one
    without gives the class probabilities alone)."""
    import cv2
    import torch

    gray = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    scale = min(1.0, PRIOR_SIDE / max(h, w))
    if scale < 1:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(gray).float()[None, None].expand(1, 3, -1, -1)
    caught: dict[str, torch.Tensor] = {}
    hooks = [module.register_forward_hook(lambda m, i, out, name=name: caught.__setitem__(name, out))
             for name in ("blocks", "projection") if isinstance(module := getattr(deeplab, name, None), torch.nn.Module)]
    try:
        with torch.no_grad():
            logits = deeplab(x.contiguous(memory_format=torch.channels_last))
    finally:
        for hook in hooks:
            hook.remove()
    probs = torch.softmax(logits[0].float(), dim=0).numpy()
    features = [_unit(caught[name][0], probs.shape[1:], relu=name == "projection")
                for name in ("blocks", "projection") if name in caught]
    if len(features) != 2 or any(f is None for f in features):
        return Prior(probs)
    return Prior(probs, features[0], features[1])


def _unit(features: torch.Tensor, size: tuple[int, ...], relu: bool) -> np.ndarray | None:
    """(C, h, w) features (after the ReLU the ASPP applies when ``relu``) with each cell's vector of unit length,
    float16; None when they are not on the logits' grid."""
    import torch

    if tuple(features.shape[1:]) != tuple(size):
        return None
    f = torch.relu(features.float()) if relu else features.float()
    return (f / f.norm(dim=0, keepdim=True).clamp_min(1e-6)).numpy().astype(np.float16)
