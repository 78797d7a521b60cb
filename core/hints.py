"""Color hints: simulated ones for training and evaluation, and the parser of an artist's painted RGBA hint layer.

Training follows Zhang et al. 2017 (seed 003): a geometric number of hints (p = 1/8) with a share of hint-free
samples so the automatic mode is learned too, each hint a small square patch carrying the patch's mean true ab, at
positions biased toward the image center where artists usually click. Everything is batched torch; overlapping
patches are resolved deterministically (the later hint wins).

At inference the hint layer is what an artist paints: alpha > 0 marks a hint, its color (converted to Lab) is the hint.
Reducing it to the model's resolution averages the hinted pixels of each cell, so a 1-pixel hint on a 40 MP layer is
never lost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chromaseg.core.color import srgb_to_lab


@dataclass(frozen=True)
class HintSampling:
    """Settings of simulated hints (defaults: Zhang et al. 2017's training scheme)."""

    p_geometric: float = 1 / 8  # hint count ~ Geometric(p) on {1, 2, ...}
    p_no_hints: float = 0.25  # share of samples that get no hint at all
    min_size: int = 1  # patch side, uniform in [min_size, max_size]
    max_size: int = 9
    max_hints: int = 128  # cap on the count (the geometric tail)
    dense_share: float = 0.0  # share of hinted samples whose count is log-uniform on [1, max_hints] instead: the
    #                           geometric tail almost never reaches the dozens of hints a restorer may place
    center_std: float = 0.25  # std of the position around the center, as a fraction of the side

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_share <= 1.0:
            raise ValueError(f"dense_share is a share of the hinted samples, 0..1; got {self.dense_share}")


def sample_hint_count(batch: int, sampling: HintSampling, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) long hint counts: 0 with probability ``p_no_hints``, otherwise Geometric(p) capped at ``max_hints``
    (or, for ``dense_share`` of them, log-uniform on [1, max_hints])."""
    u = torch.rand(batch, generator=generator).clamp_min(1e-12)
    counts = torch.floor(torch.log(u) / np.log1p(-sampling.p_geometric)).long() + 1
    counts = counts.clamp_max(sampling.max_hints)
    if sampling.dense_share > 0:  # no extra draws otherwise: earlier runs resume with the very same random stream
        dense = torch.rand(batch, generator=generator) < sampling.dense_share
        spread = torch.rand(batch, generator=generator) * np.log(sampling.max_hints + 1)
        counts = torch.where(dense, torch.exp(spread).long().clamp(1, sampling.max_hints), counts)
    none = torch.rand(batch, generator=generator) < sampling.p_no_hints
    return torch.where(none, torch.zeros_like(counts), counts)


def simulate_hints(ab: torch.Tensor, counts: torch.Tensor, sampling: HintSampling = HintSampling(),
                   fixed_size: int | None = None,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hint ab (B,2,H,W) and mask (B,1,H,W) for true ab (B,2,H,W) with ``counts[b]`` square patches per sample.

    Each patch carries the mean true ab over the patch (any channel count works: Lab gives the patch's mean Lab);
    ``fixed_size`` sets every patch side (evaluation: 6).
    Generator draws happen on the CPU so a seed gives the same hints on every device.
    """
    b, c, h, w = ab.shape
    device = ab.device
    m = max(int(counts.max()) if counts.numel() else 0, 1)
    if fixed_size is None:
        size = torch.randint(sampling.min_size, sampling.max_size + 1, (b, m), generator=generator)
    else:
        size = torch.full((b, m), int(fixed_size))
    size = torch.minimum(size, torch.tensor(min(h, w)))
    cy = (h - 1) / 2 + torch.randn(b, m, generator=generator) * sampling.center_std * h
    cx = (w - 1) / 2 + torch.randn(b, m, generator=generator) * sampling.center_std * w
    y0 = (cy.round().long() - size // 2).clamp(min=torch.zeros_like(size), max=h - size)
    x0 = (cx.round().long() - size // 2).clamp(min=torch.zeros_like(size), max=w - size)
    active = torch.arange(m)[None, :] < counts.cpu()[:, None]  # (B, M)
    size, y0, x0, active = (t.to(device) for t in (size, y0, x0, active))

    # Patch means from an integral image: four lookups per patch.
    integral = F.pad(ab.float().cumsum(2).cumsum(3), (1, 0, 1, 0))  # (B, C, H+1, W+1)
    flat = integral.flatten(2)  # (B, C, (H+1)(W+1))

    def corner(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        idx = (yy * (w + 1) + xx)[:, None, :].expand(b, c, m)
        return flat.gather(2, idx)

    y1, x1 = y0 + size, x0 + size
    sums = corner(y1, x1) - corner(y0, x1) - corner(y1, x0) + corner(y0, x0)
    means = sums / (size * size)[:, None, :].float()  # (B, C, M)

    # Rasterize: each pixel takes the highest-numbered active patch covering it (deterministic overlaps).
    s_max = int(size.max())
    off = torch.arange(s_max, device=device)
    yy = y0[:, :, None, None] + off[None, None, :, None]  # (B, M, S, 1)
    xx = x0[:, :, None, None] + off[None, None, None, :]  # (B, M, 1, S)
    inside = (off[None, None, :, None] < size[:, :, None, None]) & (off[None, None, None, :] < size[:, :, None, None])
    inside = inside & active[:, :, None, None]
    pix = torch.where(inside, yy * w + xx, torch.zeros_like(inside, dtype=torch.long))  # outside: a no-op write
    priority = torch.arange(1, m + 1, device=device)[None, :, None, None].expand(b, m, s_max, s_max)
    priority = torch.where(inside, priority, torch.zeros_like(priority))
    winner = torch.zeros(b, h * w, dtype=torch.long, device=device)
    winner.scatter_reduce_(1, pix.reshape(b, -1), priority.reshape(b, -1), reduce="amax")
    mask = winner > 0
    table = torch.cat([means.new_zeros(b, c, 1), means], dim=2)  # index 0: no hint
    hint_ab = table.gather(2, winner[:, None, :].expand(b, c, h * w)).view(b, c, h, w)
    return hint_ab.to(ab.dtype), mask.view(b, 1, h, w).to(ab.dtype)


def random_hints(ab: torch.Tensor, sampling: HintSampling = HintSampling(),
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Training hints: a random count per sample (see :func:`sample_hint_count`), random patch sizes."""
    counts = sample_hint_count(ab.shape[0], sampling, generator)
    return simulate_hints(ab, counts, sampling, generator=generator)


# --- the artist's hint layer --------------------------------------------------------------------------------------


def hint_mask(layer: Any) -> np.ndarray:
    """(H, W) bool: the hinted pixels of an RGBA hint layer. The one place that says "alpha > 0 is a hint"."""
    layer = np.asarray(layer)
    if layer.ndim != 3 or layer.shape[2] != 4:
        raise ValueError(f"a hint layer must be RGBA with shape (H, W, 4); got {layer.shape}")
    return layer[..., 3] > 0


def hint_layer_pixels(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mask (H, W) bool of hinted pixels (alpha > 0) and their ab (N, 2) float32, in row-major order of the mask."""
    layer = np.asarray(layer)
    mask = hint_mask(layer)
    ab = srgb_to_lab(layer[..., :3][mask])[:, 1:] if mask.any() else np.zeros((0, 2), np.float32)
    return mask, np.ascontiguousarray(ab, dtype=np.float32)


def parse_hint_layer(layer: Any, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hint ab (2, h, w) float32 and mask (h, w) bool from an RGBA hint layer, at ``size`` = (h, w) (default: the
    layer's own size)."""
    return reduce_hints(*hint_layer_pixels(layer), size=size)


def reduce_hints(mask: np.ndarray, ab: np.ndarray,
                 size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hinted pixels (from :func:`hint_layer_pixels`) on a grid of ``size``: each cell takes the mean ab of the
    hinted pixels falling into it (nearest-cell binning, sparse: cost grows with the hints, not the layer)."""
    big_h, big_w = mask.shape
    h, w = size if size is not None else (big_h, big_w)
    ys, xs = np.nonzero(mask)
    cell = (ys * h // big_h) * w + (xs * w // big_w)
    n = np.bincount(cell, minlength=h * w)
    out = np.zeros((2, h * w), np.float32)
    hit = n > 0
    for c in range(2):
        out[c, hit] = np.bincount(cell, weights=ab[:, c], minlength=h * w)[hit] / n[hit]
    return out.reshape(2, h, w), hit.reshape(h, w)
