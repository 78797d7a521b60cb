"""A convolution stored the way ``torch.nn.utils.spectral_norm`` saves it: ``weight_orig``, ``weight_u``, ``weight_v``.

DDColor's decoder was trained with spectral normalization, and its files keep the unnormalized weight plus the
power-iteration vectors. At inference the effective weight is ``weight_orig / sigma`` with ``sigma = u . (W v)``
from the stored vectors (no further iteration), which is exactly what the torch hook computes in eval mode; doing it
here keeps the saved names without the deprecated hook and without ever updating ``u`` and ``v``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpectralNormConv2d(nn.Module):
    """Conv2d whose weight is divided by its stored largest-singular-value estimate."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> None:
        super().__init__()
        self.padding = (kernel_size - 1) // 2
        # bias before weight_orig: the order torch's hook leaves (it re-registers the weight), so files list the same
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_orig = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.register_buffer("weight_u", torch.empty(out_channels))
        self.register_buffer("weight_v", torch.empty(in_channels * kernel_size * kernel_size))
        nn.init.kaiming_normal_(self.weight_orig)
        nn.init.normal_(self.weight_u)
        nn.init.normal_(self.weight_v)
        self.weight_u.copy_(F.normalize(self.weight_u, dim=0))
        self.weight_v.copy_(F.normalize(self.weight_v, dim=0))

    def weight(self) -> torch.Tensor:
        matrix = self.weight_orig.flatten(1)
        sigma = torch.dot(self.weight_u, torch.mv(matrix, self.weight_v))
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)
