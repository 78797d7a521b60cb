"""DDColor's pixel decoder blocks: the U-Net that climbs from the stride-32 encoder output to full resolution.

Its three up blocks give the multi-scale maps the color queries attend to (strides 16, 8, 4) and a final 4x
upsampler gives the full-resolution image embedding the queries are projected onto. Pixel shuffle followed by a
one-pixel blur (replication pad, then 2x2 average) is how upstream avoids checkerboard artifacts; every conv is
spectrally normalized, so its weight is stored as ``weight_orig``/``weight_u``/``weight_v`` (``SpectralNormConv2d``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chromaseg.core.published.spectral_conv import SpectralNormConv2d


class PixelShuffleUpsampler(nn.Module):
    """1x1 conv to ``out_channels * scale**2``, (BatchNorm,) ReLU, pixel shuffle by ``scale``, one-pixel blur."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, batch_norm: bool) -> None:
        super().__init__()
        expanded = out_channels * scale * scale
        layers: list[nn.Module] = [SpectralNormConv2d(in_channels, expanded, 1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(expanded))
        self.conv = nn.Sequential(*layers)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(F.relu(self.conv(x)), self.scale)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


class UnetUpBlock(nn.Module):
    """Upsample by 2, concatenate the batch-normalized skip feature, ReLU, 3x3 conv, ReLU, BatchNorm."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.shuf = PixelShuffleUpsampler(in_channels, out_channels, scale=2, batch_norm=True)
        self.bn = nn.BatchNorm2d(skip_channels)
        self.conv = nn.Sequential(SpectralNormConv2d(out_channels + skip_channels, out_channels, 3, bias=False),
                                  nn.ReLU(inplace=True), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(F.relu(torch.cat([self.shuf(x), self.bn(skip)], dim=1)))
