"""Training data: a deterministic train / validation split, a preprocessed cache and augmented batches.

The split hashes each file's path relative to the image folder, so it does not depend on the order files are listed
in, on the machine, or on photos added later (a photo never moves between splits). Decoding JPEGs every step would
cost more CPU than the network itself, so every photo is decoded once into one uint8 memmap of fixed-size squares
(sRGB: exact, 3 bytes a pixel; Lab is computed per batch on the training device). Batches are random crops with
horizontal flips, drawn from a seeded torch generator so runs are reproducible and resumable.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

CACHE_FORMAT_VERSION = 1


def _hash_unit(name: str) -> float:
    """A stable pseudo-random number in [0, 1) for a file name."""
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big") / 2**64


def split_paths(paths: Sequence[Path], root: str | os.PathLike,
                val_fraction: float = 0.05) -> tuple[list[Path], list[Path]]:
    """(train, validation): a file is in validation when the hash of its path relative to ``root`` is below
    ``val_fraction``."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1); got {val_fraction}")
    root = Path(root)
    train, val = [], []
    for p in paths:
        (val if _hash_unit(Path(p).relative_to(root).as_posix()) < val_fraction else train).append(Path(p))
    return train, val


def write_split(folder: str | os.PathLike, root: str | os.PathLike, train: Sequence[Path],
                val: Sequence[Path]) -> None:
    """Write train.txt and val.txt (paths relative to ``root``) so the split can be audited and reused."""
    folder, root = Path(folder), Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name, paths in (("train.txt", train), ("val.txt", val)):
        (folder / name).write_text("".join(f"{Path(p).relative_to(root).as_posix()}\n" for p in paths))


def read_split(path: str | os.PathLike, root: str | os.PathLike) -> list[Path]:
    """Paths listed in a split file written by :func:`write_split`."""
    return [Path(root) / line for line in Path(path).read_text().splitlines() if line]


def load_square(path: str | os.PathLike, size: int) -> np.ndarray:
    """(size, size, 3) uint8 sRGB: the photo resized so its short side is ``size``, center-cropped."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        im = im.resize((nw, nh), Image.BICUBIC, reducing_gap=2.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)))


def build_cache(paths: Sequence[Path], cache: str | os.PathLike, size: int = 144, progress: bool = True,
                workers: int = 2) -> np.ndarray:
    """Decode every photo once into ``cache`` (an .npy memmap of (N, size, size, 3) uint8) and return it read-only.

    A sidecar ``.json`` records the file list and size; a cache that matches it is reused as is.
    """
    from tqdm import tqdm

    cache = Path(cache)
    sidecar = cache.with_suffix(".json")
    names = [Path(p).as_posix() for p in paths]
    meta = {"version": CACHE_FORMAT_VERSION, "size": size, "files": names}
    if cache.exists() and sidecar.exists() and json.loads(sidecar.read_text()) == meta:
        return np.load(cache, mmap_mode="r")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".partial.npy")
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(names), size, size, 3))

    def fill(i: int) -> None:
        arr[i] = load_square(names[i], size)

    with ThreadPoolExecutor(max_workers=workers) as pool:  # PIL releases the GIL while decoding and resizing
        for _ in tqdm(pool.map(fill, range(len(names))), total=len(names), desc="caching photos", unit="img",
                      disable=not progress):
            pass
    arr.flush()
    del arr
    os.replace(tmp, cache)
    sidecar.write_text(json.dumps(meta))
    return np.load(cache, mmap_mode="r")


class CropBatches:
    """Random crops (with random horizontal flips) of cached squares, as (B, 3, crop, crop) uint8 tensors."""

    def __init__(self, images: np.ndarray, crop: int, flip: bool = True) -> None:
        if images.ndim != 4 or images.shape[3] != 3:
            raise ValueError(f"expected (N, S, S, 3) images; got {images.shape}")
        if crop > min(images.shape[1:3]):
            raise ValueError(f"crop {crop} is larger than the cached size {images.shape[1:3]}")
        self.images, self.crop, self.flip = images, crop, flip

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """A batch of random photos (with replacement across batches, none repeated inside one)."""
        idx = torch.randperm(len(self), generator=generator)[:batch]
        return self.take(idx, generator)

    def take(self, idx: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Crops of the photos ``idx``: random (and maybe flipped) with a generator, centered without one."""
        n = idx.numel()
        s_h, s_w = self.images.shape[1:3]
        c = self.crop
        if generator is None:
            ys = torch.full((n,), (s_h - c) // 2)
            xs = torch.full((n,), (s_w - c) // 2)
            flips = torch.zeros(n, dtype=torch.bool)
        else:
            ys = torch.randint(0, s_h - c + 1, (n,), generator=generator)
            xs = torch.randint(0, s_w - c + 1, (n,), generator=generator)
            flips = (torch.rand(n, generator=generator) < 0.5) & self.flip
        out = np.empty((n, c, c, 3), np.uint8)
        for j, (i, y, x, f) in enumerate(zip(idx.tolist(), ys.tolist(), xs.tolist(), flips.tolist())):
            crop = self.images[i, y:y + c, x:x + c]
            out[j] = crop[:, ::-1] if f else crop
        return torch.from_numpy(out).permute(0, 3, 1, 2)
