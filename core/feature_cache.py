"""The frozen semantic encoder's features of every training photo, computed once and kept on disk.

Training the colorizer with the DeepLab prior would otherwise run the frozen encoder on every batch, though its
output for a photo never changes. So every cached training square (and its mirror image: flips are the one
augmentation, and a CNN's features of a mirrored photo are not exactly the mirrored features) is encoded once into
one float16 memmap of shape (M, C, S/8, S/8). Batches are then crops aligned to the 1/8 grid: the photo's crop and
the matching window of its features, so no pixel of the encoder runs while training.

The cache is keyed by the photo list, the square size and the encoder's weights (its fingerprint), and is rebuilt
only when one of them changes. Building it is resumable: progress is recorded after every chunk, and a rerun
continues where an interrupted one stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from chromaseg.core.color import srgb_to_lab
from chromaseg.core.semantic import SemanticEncoder

CACHE_VERSION = 1
STRIDE = 8  # the encoder's output stride: crops are aligned to it
CHUNK = 32  # photos per encoder call and per progress record


def cache_key(names: Sequence[str], size: int, fingerprint: str, mirror: bool) -> str:
    """A short hash of everything the cached features depend on."""
    doc = json.dumps({"version": CACHE_VERSION, "files": list(names), "size": size, "encoder": fingerprint,
                      "mirror": mirror})
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _l_of(rgb: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 sRGB -> L (B, 1, S, S) float32."""
    return torch.from_numpy(srgb_to_lab(rgb)[..., 0].copy())[:, None]


def build_feature_cache(squares: np.ndarray, names: Sequence[str], encoder: SemanticEncoder,
                        folder: str | os.PathLike, mirror: bool = True, progress: bool = True) -> np.ndarray:
    """Encode every square of ``squares`` (N, S, S, 3) uint8 (then every mirrored square when ``mirror``) into
    ``folder/semantic-KEY.npy``; returns the finished cache read-only, (N or 2N, C, S/8, S/8) float16."""
    from tqdm import tqdm

    n, size = squares.shape[0], squares.shape[1]
    if squares.shape[1:] != (size, size, 3) or size % STRIDE:
        raise ValueError(f"squares must be (N, S, S, 3) with S a multiple of {STRIDE}; got {squares.shape}")
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} squares")
    key = cache_key(names, size, encoder.fingerprint(), mirror)
    folder = Path(folder)
    path, sidecar = folder / f"semantic-{key}.npy", folder / f"semantic-{key}.json"
    total = 2 * n if mirror else n
    shape = (total, encoder.out_channels, size // STRIDE, size // STRIDE)
    meta = json.loads(sidecar.read_text()) if sidecar.exists() and path.exists() else None
    if meta is not None and meta.get("done") == total:
        return np.load(path, mmap_mode="r")
    folder.mkdir(parents=True, exist_ok=True)
    if meta is None:
        features = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        meta = {"key": key, "version": CACHE_VERSION, "size": size, "count": n, "mirror": mirror, "done": 0}
    else:
        features = np.load(path, mmap_mode="r+")
    encoder = encoder.to(memory_format=torch.channels_last)  # 1.8x faster convolutions on the CPU
    bar = tqdm(total=total, initial=meta["done"], desc="encoding photos", unit="img", disable=not progress)
    while meta["done"] < total:
        start = meta["done"]
        stop = min(start + CHUNK, total if start >= n else n)  # a chunk never mixes originals and mirrors
        rgb = squares[start % n:(stop - 1) % n + 1]
        if start >= n:
            rgb = rgb[:, :, ::-1]
        l = _l_of(np.ascontiguousarray(rgb)).contiguous(memory_format=torch.channels_last)
        features[start:stop] = encoder(l).contiguous().numpy().astype(np.float16)
        features.flush()
        meta["done"] = stop
        tmp = sidecar.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, sidecar)
        bar.update(stop - start)
    bar.close()
    del features
    return np.load(path, mmap_mode="r")


class SemanticCrops:
    """Random grid-aligned crops of cached squares with their cached features: (B,3,c,c) uint8 + (B,C,c/8,c/8).

    A mirrored sample takes the mirrored square and the mirror image's own cached features."""

    def __init__(self, squares: np.ndarray, features: np.ndarray, crop: int) -> None:
        n, size = squares.shape[0], squares.shape[1]
        if crop % STRIDE or crop > size:
            raise ValueError(f"the crop must be a multiple of {STRIDE} no larger than {size}; got {crop}")
        if features.shape[0] not in (n, 2 * n) or features.shape[2] != size // STRIDE:
            raise ValueError(f"features {features.shape} do not match squares {squares.shape}")
        self.squares, self.features, self.crop = squares, features, crop
        self.mirrored = features.shape[0] == 2 * n

    def __len__(self) -> int:
        return self.squares.shape[0]

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random photos (none twice in a batch), random grid-aligned offsets, mirrored half the time."""
        idx = torch.randperm(len(self), generator=generator)[:batch]
        cells = (self.squares.shape[1] - self.crop) // STRIDE + 1
        ys = torch.randint(0, cells, (idx.numel(),), generator=generator)
        xs = torch.randint(0, cells, (idx.numel(),), generator=generator)
        flips = torch.rand(idx.numel(), generator=generator) < 0.5
        return self.take(idx, ys, xs, flips & self.mirrored)

    def center(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``count`` photos' centered crops, not mirrored (validation)."""
        n = min(count, len(self))
        mid = torch.full((n,), (self.squares.shape[1] - self.crop) // STRIDE // 2)
        return self.take(torch.arange(n), mid, mid, torch.zeros(n, dtype=torch.bool))

    def take(self, idx: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
             flips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, g = self.crop, self.crop // STRIDE
        n = len(self)
        rgb = np.empty((idx.numel(), c, c, 3), np.uint8)
        feats = np.empty((idx.numel(), self.features.shape[1], g, g), np.float16)
        for j, (i, y, x, f) in enumerate(zip(idx.tolist(), ys.tolist(), xs.tolist(), flips.tolist())):
            square = self.squares[i][:, ::-1] if f else self.squares[i]
            rgb[j] = square[y * STRIDE:y * STRIDE + c, x * STRIDE:x * STRIDE + c]
            feats[j] = self.features[i + n if f else i, :, y:y + g, x:x + g]
        return torch.from_numpy(rgb).permute(0, 3, 1, 2), torch.from_numpy(feats).float()
