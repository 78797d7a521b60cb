"""Segments for the colorizer: SAM when its weights are installed, a classical fallback when they are not.

``Segmenter.default()`` picks the best backend available and records which one and why (the daemon's ``info`` shows
it), so a user without weights gets working segments and a user with them gets SAM, with the same API.

Predictor-style lifecycle, like segment-anything's SamPredictor: ``set_image`` once (SAM's embedding, DeepLab's
prior), then any number of ``prompt(points=..., box=..., mask=...)`` on it without touching the image again.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from chromaseg.core.segment import prior as semantic_prior
from chromaseg.core.segment.cache import EmbeddingCache
from chromaseg.core.segment.classic_backend import ClassicBackend
from chromaseg.core.segment.images import check_image
from chromaseg.core.segment.registry import ModelEntry, check, entries, weights_dir

__all__ = ["Segmenter", "EmbeddingCache"]

# On a CPU the encoder dominates (MobileSAM about 2 s, ViT-B about 17 s, ViT-H over a minute): smallest first.
CPU_PREFERENCE = ("vit_t", "vit_b", "vit_l", "vit_h")
GPU_PREFERENCE = ("vit_h", "vit_l", "vit_b", "vit_t")


class Segmenter:
    """Automatic segments and prompted masks from one backend ("sam:<entry>" or "classic")."""

    def __init__(self, impl: object, reason: str) -> None:
        self._impl = impl
        self.reason = reason
        self._image: np.ndarray | None = None  # the image prompts answer about (set_image)

    @property
    def backend(self) -> str:
        return self._impl.name

    @property
    def cache(self) -> EmbeddingCache | None:
        """The SAM embedding cache (hit/miss counters); None for the classical backend."""
        return getattr(self._impl, "cache", None)

    @property
    def priors(self) -> semantic_prior.PriorCache | None:
        """The classical backend's DeepLab prior cache (hit/miss counters); None without DeepLab or with SAM."""
        return getattr(self._impl, "priors", None)

    @classmethod
    def classic(cls, reason: str = "requested", semantic: bool = True) -> Segmenter:
        """The no-weights backend, with DeepLab's class prior when ``semantic`` and a DeepLab is found."""
        deeplab = semantic_prior.find_deeplab() if semantic else None
        prior = "DeepLab class prior" if deeplab is not None else "no DeepLab prior"
        return cls(ClassicBackend(deeplab), f"{reason}; {prior}")

    def set_image(self, image: np.ndarray) -> None:
        """Make ``image`` the one prompts answer about and compute what they all reuse (SAM's embedding or DeepLab's
        prior; both backends also keep it by content, so going back to an earlier image is quick)."""
        image = check_image(image)
        self._impl.set_image(image)
        self._image = image

    def holds(self, image: np.ndarray) -> bool:
        """Whether ``image`` is the one set (same shape, dtype and pixels): then prompts need no ``set_image``."""
        held = self._image
        return held is not None and held.shape == image.shape and held.dtype == image.dtype and \
            bool(np.array_equal(held, image))

    @classmethod
    def from_entry(cls, entry: ModelEntry, root: str | os.PathLike | None = None, device: str | None = None,
                   cache: EmbeddingCache | None = None) -> Segmenter:
        """SAM from a registry entry whose files are installed in ``root`` (raises when they are not)."""
        import torch

        from chromaseg.core.segment.sam_backend import SamBackend, load_sam
        from chromaseg.core.segment.tv_ops import ensure_torchvision

        root = Path(root) if root is not None else weights_dir()
        problems = {p: why for p, why in check(entry, root).items() if why}
        if problems:
            raise FileNotFoundError(f"{entry.name}: " + "; ".join(f"{p}: {w}" for p, w in problems.items()))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        ops = ensure_torchvision()
        path = root / entry.files[0].path
        model = load_sam(entry, path, device)
        impl = SamBackend(model, entry.model_type, f"sam:{entry.name}", cache)
        return cls(impl, f"{entry.name} ({entry.model_type}) from {path} on {device}; torchvision ops: {ops}")

    @classmethod
    def default(cls, root: str | os.PathLike | None = None, device: str | None = None) -> Segmenter:
        """The best installed SAM (smallest encoder first on a CPU, largest on a GPU), else the classical fallback."""
        import torch

        root = Path(root) if root is not None else weights_dir()
        gpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")) != "cpu"
        order = GPU_PREFERENCE if gpu else CPU_PREFERENCE
        sams = sorted((e for e in entries(root).values() if e.kind == "sam" and e.model_type in order),
                      key=lambda e: (order.index(e.model_type), e.name))
        notes = []
        for entry in sams:
            problems = [f"{p}: {why}" for p, why in check(entry, root).items() if why]
            if problems:
                if not all(p.endswith(": missing") for p in problems):
                    notes.append(f"{entry.name} not used ({'; '.join(problems)})")
                continue
            try:
                return cls.from_entry(entry, root, device)
            except Exception as exc:  # a broken install must degrade to the fallback, and say so
                notes.append(f"{entry.name} failed to load ({type(exc).__name__}: {exc})")
        notes = notes or [f"no SAM checkpoint in {root} (install one: chromaseg weights fetch mobilesam)"]
        return cls.classic("classical fallback (superpixels of L): " + "; ".join(notes))

    def auto(self, image: np.ndarray, max_segments: int = 64, min_area: int | None = None) -> np.ndarray:
        """HxW int32 labels 0..n-1 (n <= max_segments) by decreasing area; -1 where no segment covers a pixel."""
        return self._impl.auto(check_image(image), max_segments, min_area)

    def segment_classes(self, labels: np.ndarray, image: np.ndarray | None = None) -> list[str | None]:
        """What each automatic segment is: for labels 0..n-1 of ``labels`` (as ``auto`` returns them, on ``image``,
        default the image set), the PASCAL VOC class name that covers at least half of the segment by the backend's
        class prior, else None. A backend without a prior (SAM, or the fallback without DeepLab) gives all None."""
        labels = np.asarray(labels)
        if image is None:
            if self._image is None:
                raise ValueError("no image: pass the image the labels were made from, or call set_image first")
            image = self._image
        if np.shape(image)[:2] != labels.shape:
            raise ValueError(f"the labels are {labels.shape}, the image {np.shape(image)[:2]}")
        classify = getattr(self._impl, "segment_classes", None)
        if classify is None:
            return [None] * (int(labels.max()) + 1 if labels.size else 0)
        return classify(check_image(image), labels)

    def prompt(self, image: np.ndarray | None = None, points: Sequence[Sequence[float]] | np.ndarray | None = None,
               labels: Sequence[int] | np.ndarray | None = None,
               box: Sequence[int] | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """HxW bool mask of the object the prompt designates: points (x, y) with labels 1 = object, 0 = not,
        a box (x0, y0, x1, y1) (the mask stays inside it), and/or an existing selection to refine. On the image
        given here (set first, as ``set_image``), else on the one set before."""
        if image is not None:
            self.set_image(image)
        if self._image is None:
            raise ValueError("no image to prompt on: call set_image first, or pass the image")
        image = self._image
        h, w = image.shape[:2]
        if points is None and box is None and mask is None:
            raise ValueError("a prompt needs points, a box or a mask")
        pts = lab = None
        if points is not None:
            pts = np.asarray(points, np.float64).reshape(-1, 2)
            lab = np.ones(len(pts), np.int64) if labels is None else np.asarray(labels, np.int64).reshape(-1)
            if len(lab) != len(pts):
                raise ValueError(f"{len(pts)} points but {len(lab)} labels")
        bx = None
        if box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            x0, x1 = sorted((max(0, min(w, x0)), max(0, min(w, x1))))
            y0, y1 = sorted((max(0, min(h, y0)), max(0, min(h, y1))))
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"the box {tuple(box)} is empty inside a {w}x{h} image")
            bx = (x0, y0, x1, y1)
        sel = None
        if mask is not None:
            sel = np.asarray(mask).astype(bool)
            if sel.shape != (h, w):
                raise ValueError(f"the mask is {sel.shape}, the image {(h, w)}")
            if not sel.any():
                raise ValueError("the selection mask is empty")
        return self._impl.prompt(pts, lab, bx, sel)
