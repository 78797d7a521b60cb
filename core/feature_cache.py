"""The frozen semantic encoder's features of every training photo, computed once and kept on disk.

Training the colorizer with the DeepLab prior would otherwise run the frozen encoder on every batch, though its
output for a photo never changes. So every cached training square (and its mirror image: flips are the one
augmentation, and a CNN's features of a mirrored photo are not exactly the mirrored features) is encoded once into
float16 memmaps of shape (N, C, S/8, S/8), one per orientation (the mirror images' cache is optional and can be
built later: it doubles the encoding time). Batches are then crops aligned to the 1/8 grid: the photo's crop and
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


def cache_key(names: Sequence[str], size: int, fingerprint: str, mirrored: bool) -> str:
    """A short hash of everything the cached features depend on."""
    doc = json.dumps({"version": CACHE_VERSION, "files": list(names), "size": size, "encoder": fingerprint,
                      "mirrored": mirrored})
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _l_of(rgb: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 sRGB -> L (B, 1, S, S) float32."""
    return torch.from_numpy(srgb_to_lab(rgb)[..., 0].copy())[:, None]


def build_feature_cache(squares: np.ndarray, names: Sequence[str], encoder: SemanticEncoder,
                        folder: str | os.PathLike, mirrored: bool = False, progress: bool = True) -> np.ndarray:
    """Encode every square of ``squares`` (N, S, S, 3) uint8 (its mirror image when ``mirrored``) into
    ``folder/semantic-KEY.npy``; returns the finished cache read-only, (N, C, S/8, S/8) float16."""
    from tqdm import tqdm

    n, size = squares.shape[0], squares.shape[1]
    if squares.shape[1:] != (size, size, 3) or size % STRIDE:
        raise ValueError(f"squares must be (N, S, S, 3) with S a multiple of {STRIDE}; got {squares.shape}")
    if len(names) != n:
        raise ValueError(f"{len(names)} names for {n} squares")
    key = cache_key(names, size, encoder.fingerprint(), mirrored)
    folder = Path(folder)
    path, sidecar = folder / f"semantic-{key}.npy", folder / f"semantic-{key}.json"
    meta = json.loads(sidecar.read_text()) if sidecar.exists() and path.exists() else None
    if meta is not None and meta.get("done") == n:
        return np.load(path, mmap_mode="r")
    folder.mkdir(parents=True, exist_ok=True)
    if meta is None:
        shape = (n, encoder.out_channels, size // STRIDE, size // STRIDE)
        features = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        meta = {"key": key, "version": CACHE_VERSION, "size": size, "count": n, "mirrored": mirrored, "done": 0}
    else:
        features = np.load(path, mmap_mode="r+")
    bar = tqdm(total=n, initial=meta["done"], desc="encoding mirror images" if mirrored else "encoding photos",
               unit="img", disable=not progress)
    while meta["done"] < n:
        start = meta["done"]
        stop = min(start + CHUNK, n)
        rgb = squares[start:stop, :, ::-1] if mirrored else squares[start:stop]
        features[start:stop] = encoder(_l_of(np.ascontiguousarray(rgb))).numpy().astype(np.float16)
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

    With the mirror images' features, half the samples are mirrored (the mirrored square and the mirror image's
    own features); without them, none is."""

    def __init__(self, squares: np.ndarray, features: np.ndarray, crop: int,
                 mirrored: np.ndarray | None = None) -> None:
        n, size = squares.shape[0], squares.shape[1]
        if crop % STRIDE or crop > size:
            raise ValueError(f"the crop must be a multiple of {STRIDE} no larger than {size}; got {crop}")
        for f in (features, mirrored):
            if f is not None and (f.shape[0] != n or f.shape[2:] != (size // STRIDE, size // STRIDE)):
                raise ValueError(f"features {f.shape} do not match squares {squares.shape}")
        self.squares, self.crop = squares, crop
        self.features = (features,) if mirrored is None else (features, mirrored)

    def __len__(self) -> int:
        return self.squares.shape[0]

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random photos (none twice in a batch), random grid-aligned offsets, mirrored half the time if possible."""
        idx = torch.randperm(len(self), generator=generator)[:batch]
        cells = (self.squares.shape[1] - self.crop) // STRIDE + 1
        ys = torch.randint(0, cells, (idx.numel(),), generator=generator)
        xs = torch.randint(0, cells, (idx.numel(),), generator=generator)
        flips = torch.rand(idx.numel(), generator=generator) < 0.5
        return self.take(idx, ys, xs, flips & (len(self.features) == 2))

    def center(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``count`` photos' centered crops, not mirrored (validation)."""
        n = min(count, len(self))
        mid = torch.full((n,), (self.squares.shape[1] - self.crop) // STRIDE // 2)
        return self.take(torch.arange(n), mid, mid, torch.zeros(n, dtype=torch.bool))

    def take(self, idx: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
             flips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, g = self.crop, self.crop // STRIDE
        rgb = np.empty((idx.numel(), c, c, 3), np.uint8)
        feats = np.empty((idx.numel(), self.features[0].shape[1], g, g), np.float16)
        for j, (i, y, x, f) in enumerate(zip(idx.tolist(), ys.tolist(), xs.tolist(), flips.tolist())):
            square = self.squares[i][:, ::-1] if f else self.squares[i]
            rgb[j] = square[y * STRIDE:y * STRIDE + c, x * STRIDE:x * STRIDE + c]
            feats[j] = self.features[int(f)][i, :, y:y + g, x:x + g]
        return torch.from_numpy(rgb).permute(0, 3, 1, 2), torch.from_numpy(feats).float()
