"""CCC color classes: the 400-bin ab grid (Eq. 9-11), the data-driven reduction to K classes (Eq. 12), the per-batch
class-rebalanced loss (Eq. 15-16) and decoding of class probabilities back to ab (mode, annealed mean).

Colorization is treated as classification over quantized ab: a regression loss averages plausible colors into gray,
while a classifier keeps the rare, saturated ones, and the rebalanced loss stops the frequent desaturated classes from
drowning them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

# Eq. 9-11 grid settings (paper Table II).
ALPHA = 10  # bin width in a*, b*
BETA = 100  # shift: a*, b* in [-BETA, BETA - 1]
DELTA = 20  # bins per axis
GRID_CLASSES = DELTA * DELTA  # 400
AB_MIN, AB_MAX = -BETA, BETA - 1

# Eq. 12: the paper keeps a class when it has 500 of 109,885,440 samples; we keep the fraction (ours).
PAPER_THRESHOLD_FRACTION = 500 / 109_885_440
TABLE_FORMAT_VERSION = 1

# Zhang et al. 2016's default annealed-mean temperature.
DEFAULT_TEMPERATURE = 0.38


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def ab_to_class(a: Any, b: Any) -> Any:
    """Eq. 9: grid class in [0, 400) of each (a*, b*); values are clamped into [-100, 99] first.

    NumPy arrays give int64 arrays, torch tensors give long tensors.
    """
    if _is_torch(a):
        import torch

        ia = torch.floor((a.clamp(AB_MIN, AB_MAX) + BETA) / ALPHA).long()
        ib = torch.floor((b.clamp(AB_MIN, AB_MAX) + BETA) / ALPHA).long()
        return ib * DELTA + ia
    ia = np.floor((np.clip(a, AB_MIN, AB_MAX) + BETA) / ALPHA).astype(np.int64)
    ib = np.floor((np.clip(b, AB_MIN, AB_MAX) + BETA) / ALPHA).astype(np.int64)
    return ib * DELTA + ia


def class_to_ab(c: Any) -> tuple[Any, Any]:
    """Eq. 10-11: the bin center (a*, b*) of each grid class."""
    if _is_torch(c):
        c = c.long()
    else:
        c = np.asarray(c)
        if c.dtype.kind not in "iu":
            raise TypeError(f"grid classes must be integers; got {c.dtype}")
        if c.size and (c.min() < 0 or c.max() >= GRID_CLASSES):
            raise ValueError(f"grid classes must lie in [0, {GRID_CLASSES}); got [{c.min()}, {c.max()}]")
    a = (c % DELTA) * ALPHA - BETA + ALPHA / 2
    b = (c // DELTA) * ALPHA - BETA + ALPHA / 2
    return a, b


def grid_centers() -> np.ndarray:
    """(400, 2) float32 bin centers (a*, b*) of every grid class."""
    a, b = class_to_ab(np.arange(GRID_CLASSES))
    return np.stack([a, b], axis=1).astype(np.float32)


@dataclass(frozen=True)
class ClassTable:
    """The data-driven reduction of the 400-class grid to K kept classes (Eq. 12), versioned with the weights.

    ``kept`` lists the kept grid classes in ascending order (class k of the model is grid class ``kept[k]``);
    ``grid_to_class`` maps each of the 400 grid classes to its model class (a dropped class to the nearest kept one);
    ``counts`` are the 400 grid counts the table was built from.
    """

    kept: np.ndarray
    grid_to_class: np.ndarray
    counts: np.ndarray
    threshold_fraction: float
    meta: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return int(self.kept.size)

    @property
    def centers(self) -> np.ndarray:
        """(K, 2) float32 bin centers (a*, b*) of the kept classes."""
        return grid_centers()[self.kept]

    @property
    def class_counts(self) -> np.ndarray:
        """(K,) counts after folding each dropped class into the class it maps to."""
        return np.bincount(self.grid_to_class, weights=self.counts, minlength=self.num_classes).astype(np.int64)

    def encode(self, a: Any, b: Any) -> Any:
        """Model class (in [0, K)) of each (a*, b*): Eq. 9, then the reduction mapping."""
        grid = ab_to_class(a, b)
        if _is_torch(grid):
            import torch

            return torch.as_tensor(self.grid_to_class, device=grid.device)[grid]
        return self.grid_to_class[grid]

    @classmethod
    def from_counts(cls, counts: np.ndarray, threshold_fraction: float = PAPER_THRESHOLD_FRACTION,
                    meta: dict | None = None) -> "ClassTable":
        """Keep the grid classes whose share of all samples reaches ``threshold_fraction``; map the rest to the
        nearest kept bin center (a one-step k-means with fixed centroids)."""
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (GRID_CLASSES,):
            raise ValueError(f"counts must have shape ({GRID_CLASSES},); got {counts.shape}")
        total = int(counts.sum())
        if total <= 0:
            raise ValueError("counts are all zero: no color samples to build a class table from")
        kept = np.flatnonzero(counts >= threshold_fraction * total)
        if kept.size == 0:
            raise ValueError(f"no class reaches the threshold fraction {threshold_fraction}")
        centers = grid_centers()
        d2 = ((centers[:, None, :] - centers[None, kept, :]) ** 2).sum(axis=-1)
        grid_to_class = np.argmin(d2, axis=1).astype(np.int64)  # a kept class is its own nearest (distance 0)
        return cls(kept=kept.astype(np.int64), grid_to_class=grid_to_class, counts=counts,
                   threshold_fraction=float(threshold_fraction), meta=dict(meta or {}))

    def save(self, path: str | os.PathLike) -> None:
        doc = {
            "format": "chromaseg-class-table",
            "version": TABLE_FORMAT_VERSION,
            "grid": {"alpha": ALPHA, "beta": BETA, "delta": DELTA},
            "threshold_fraction": self.threshold_fraction,
            "num_classes": self.num_classes,
            "kept": self.kept.tolist(),
            "grid_to_class": self.grid_to_class.tolist(),
            "counts": self.counts.tolist(),
            "meta": self.meta,
        }
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClassTable":
        doc = json.loads(Path(path).read_text())
        if doc.get("format") != "chromaseg-class-table":
            raise ValueError(f"{path} is not a chromaseg class table")
        if doc.get("version") != TABLE_FORMAT_VERSION:
            raise ValueError(f"{path}: class table version {doc.get('version')} is not supported "
                             f"(this chromaseg reads version {TABLE_FORMAT_VERSION})")
        if doc["grid"] != {"alpha": ALPHA, "beta": BETA, "delta": DELTA}:
            raise ValueError(f"{path}: class table built on another grid {doc['grid']}")
        table = cls(kept=np.asarray(doc["kept"], dtype=np.int64),
                    grid_to_class=np.asarray(doc["grid_to_class"], dtype=np.int64),
                    counts=np.asarray(doc["counts"], dtype=np.int64),
                    threshold_fraction=float(doc["threshold_fraction"]), meta=doc.get("meta", {}))
        if table.grid_to_class.shape != (GRID_CLASSES,) or table.grid_to_class.max() >= table.num_classes:
            raise ValueError(f"{path}: inconsistent class table")
        return table


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted for reproducibility."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return paths


def count_grid_classes(paths: Iterable[str | os.PathLike], size: int = 56, progress: bool = False) -> np.ndarray:
    """Grid-class counts over images resized to ``size`` x ``size`` (the paper counts ab at 56x56)."""
    from PIL import Image
    from tqdm import tqdm

    from chromaseg.core.color import srgb_to_lab

    paths = list(paths)
    counts = np.zeros(GRID_CLASSES, dtype=np.int64)
    for path in tqdm(paths, desc="counting color classes", unit="img", disable=not progress):
        with Image.open(path) as im:
            small = np.asarray(im.convert("RGB").resize((size, size), Image.BOX))
        lab = srgb_to_lab(small)
        counts += np.bincount(ab_to_class(lab[..., 1], lab[..., 2]).ravel(), minlength=GRID_CLASSES)
    return counts


def build_class_table(images: str | os.PathLike | Sequence[str | os.PathLike],
                      threshold_fraction: float = PAPER_THRESHOLD_FRACTION, size: int = 56,
                      progress: bool = False) -> ClassTable:
    """Build the reduced class table from a folder (or a list) of color images."""
    paths = list_images(images) if isinstance(images, (str, os.PathLike)) else [Path(p) for p in images]
    counts = count_grid_classes(paths, size=size, progress=progress)
    return ClassTable.from_counts(counts, threshold_fraction,
                                  meta={"images": len(paths), "size": size, "samples": int(counts.sum())})


# --- loss (torch) -----------------------------------------------------------------------------------------------


def batch_class_weights(counts: Any, upsilon: float = 0.5, phi: float | None = None) -> Any:
    """Eq. 15: W_c = max(N) / (N_c * upsilon + max(N) * phi), phi defaulting to 1/K.

    The most frequent class gets about 1 / (upsilon + phi); a class absent from the batch gets 1 / phi.
    """
    if not 0 < upsilon <= 1:
        raise ValueError(f"upsilon must lie in (0, 1]; got {upsilon}")
    k = counts.shape[-1]
    phi = 1.0 / k if phi is None else phi
    if phi <= 0:
        raise ValueError(f"phi must be positive; got {phi}")
    if _is_torch(counts):
        counts = counts.float()
        peak = counts.max().clamp_min(1.0)
    else:
        counts = np.asarray(counts, dtype=np.float64)
        peak = max(float(counts.max()), 1.0)
    return peak / (counts * upsilon + peak * phi)


def class_weighted_cross_entropy(logits: Any, target: Any, upsilon: float = 0.5, phi: float | None = None,
                                 ignore_index: int = -1) -> Any:
    """Eq. 16: per-pixel cross-entropy weighted by the per-batch weight of the pixel's true class (Eq. 15),
    normalized by the sum of the weights used (ours) so the loss scale does not depend on batch composition.

    ``logits`` is (B, K, H, W); ``target`` is (B, H, W) long with model classes, ``ignore_index`` for no label.
    """
    import torch
    import torch.nn.functional as F

    k = logits.shape[1]
    valid = target != ignore_index
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    counts = torch.bincount(safe_target[valid].flatten(), minlength=k)
    weights = batch_class_weights(counts, upsilon, phi).detach()
    pixel_loss = F.cross_entropy(logits, safe_target, reduction="none")
    pixel_weight = weights[safe_target] * valid
    return (pixel_loss * pixel_weight).sum() / pixel_weight.sum().clamp_min(1e-12)


# --- decoding -----------------------------------------------------------------------------------------------------


def decode_mode(logits: Any, centers: Any, dim: int = 1) -> Any:
    """Eq. 17: the most probable class's bin center; ab stacked along ``dim`` (posterizes, as the paper notes)."""
    import torch

    centers = torch.as_tensor(centers, dtype=torch.float32, device=logits.device)
    ab = centers[logits.argmax(dim=dim)]  # (..., 2) with the class dim removed
    return ab.movedim(-1, dim)


def rebalance_log_weights(counts: Any, upsilon: float = 0.5, phi: float | None = None) -> Any:
    """log W_c of Eq. 15 over the training set's class counts (a torch float tensor).

    The rebalanced loss multiplies each class's share in the optimum by W_c, so the network outputs roughly
    W_c p(c | x) renormalized: more of the rare, saturated classes than the photos hold. Subtracting log W_c from the
    logits undoes that prior (Bayes' rule) and recovers the data's own posterior; how much of it is undone is the
    artist's vibrancy (:func:`rebalanced_logits`). The batch counts of Eq. 15 are replaced by the table's counts,
    the expectation of any batch's."""
    import torch

    return torch.log(batch_class_weights(torch.as_tensor(np.asarray(counts), dtype=torch.float32), upsilon, phi))


def check_vibrancy(vibrancy: float) -> float:
    """``vibrancy`` as a float, or ValueError when it is not a share (0..1) of the rebalancing to keep."""
    vibrancy = float(vibrancy)
    if not 0.0 <= vibrancy <= 1.0:
        raise ValueError(f"vibrancy must lie in [0, 1] (higher: bolder colors); got {vibrancy:g}")
    return vibrancy


def rebalanced_logits(logits: Any, log_weights: Any, vibrancy: float, dim: int = 1) -> Any:
    """Keep ``vibrancy`` (0..1) of the class rebalancing the network learned: 1 decodes its output as trained
    (the paper's vivid colors), 0 the data's posterior (the most faithful colors, muted where the photo is
    ambiguous)."""
    if check_vibrancy(vibrancy) == 1.0:
        return logits
    shape = [1] * logits.dim()
    shape[dim] = -1
    return logits.float() - (1.0 - vibrancy) * log_weights.to(logits.device).view(shape)


def decode_annealed_mean(logits: Any, centers: Any, temperature: float = DEFAULT_TEMPERATURE, dim: int = 1) -> Any:
    """Annealed mean (Zhang et al. 2016): the expectation of bin centers under p^(1/T), renormalized.

    softmax(z / T) is exactly p^(1/T) renormalized, and stays stable for small T. T -> 0 tends to the mode, T = 1 is
    the plain mean.
    """
    import torch

    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    centers = torch.as_tensor(centers, dtype=torch.float32, device=logits.device)
    p = torch.softmax(logits.float() / temperature, dim=dim)
    return torch.tensordot(p.movedim(dim, -1), centers, dims=1).movedim(-1, dim)
