"""ConvNeXt (Liu et al. 2022) as DDColor's encoder: four stages whose layer-normalized outputs feed the decoder.

Names follow DDColor's copy (``encoder.arch.*``): ``downsample_layers``, ``stages``, one ``norm{i}`` per stage
output, and the classifier's final ``norm``. That last LayerNorm acts on the pooled feature, which colorization never
uses; it stays because the published files carry it and are loaded strictly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-6


@dataclass(frozen=True)
class ConvNextConfig:
    depths: tuple[int, int, int, int]
    dims: tuple[int, int, int, int]


CONVNEXT_TINY = ConvNextConfig((3, 3, 9, 3), (96, 192, 384, 768))
CONVNEXT_LARGE = ConvNextConfig((3, 3, 27, 3), (192, 384, 768, 1536))


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channel axis of an NCHW tensor (biased variance, as ConvNeXt's reference code)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + LAYER_NORM_EPS)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNextBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, inverted-bottleneck MLP, per-channel scale ``gamma``, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class ConvNextEncoder(nn.Module):
    """NCHW image (H, W multiples of 32) -> the four normalized stage outputs, strides 4, 8, 16, 32."""

    def __init__(self, config: ConvNextConfig) -> None:
        super().__init__()
        dims = config.dims
        stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), ChannelsFirstLayerNorm(dims[0]))
        self.downsample_layers = nn.ModuleList([stem] + [
            nn.Sequential(ChannelsFirstLayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2))
            for i in range(3)])
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNextBlock(dim) for _ in range(depth))) for depth, dim in zip(config.depths, dims))
        for i, dim in enumerate(dims):
            self.add_module(f"norm{i}", ChannelsFirstLayerNorm(dim))
        self.norm = nn.LayerNorm(dims[-1], eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            features.append(getattr(self, f"norm{i}")(x))  # the stage output itself goes on un-normalized
        return features
