"""DDColor (Kang et al. ICCV 2023, "DDColor: Towards Photo-Realistic Image Colorization via Dual Decoders"), Apache-2.0.

A ConvNeXt encoder sees a gray RGB rendering of L; a pixel decoder climbs back to full resolution while learned color
queries attend to its multi-scale maps; each query then paints one channel over the image embedding, and a 1x1
spectrally normalized conv (``refine_net``) mixes those channels with the normalized input into ab. Module names
follow upstream (piddnad/DDColor, ``ddcolor/model.py``) so its ``{'params': state_dict}`` files load strictly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from chromaseg.core.color import lab_to_srgb
from chromaseg.core.published.convnext import CONVNEXT_LARGE, CONVNEXT_TINY, ConvNextConfig, ConvNextEncoder
from chromaseg.core.published.ddcolor_color_decoder import MultiScaleColorDecoder
from chromaseg.core.published.ddcolor_pixel_decoder import PixelShuffleUpsampler, UnetUpBlock
from chromaseg.core.published.resize import l_at_working_size
from chromaseg.core.published.spectral_conv import SpectralNormConv2d

WORKING_SIZE = 512  # upstream's inference size (ddcolor/pipeline.py): the gray image is resized to 512x512
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the encoder's input normalization, stored in the files as `mean` / `std`
IMAGENET_STD = (0.229, 0.224, 0.225)
DECODER_WIDTH = 512  # upstream `nf`
EMBED_DIM = DECODER_WIDTH // 2


@dataclass(frozen=True)
class DDColorConfig:
    """The constructor arguments upstream's inference uses (``build_ddcolor_model``): 100 queries, 3 scales, 9
    decoder layers, 2 output channels; only the encoder differs between the tiny and the large model."""

    encoder: ConvNextConfig
    num_queries: int = 100
    decoder_layers: int = 9


DDCOLOR_TINY = DDColorConfig(CONVNEXT_TINY)
DDCOLOR_LARGE = DDColorConfig(CONVNEXT_LARGE)


class DualDecoder(nn.Module):
    """Pixel decoder (``layers``, ``last_shuf``) and color decoder side by side, as upstream's ``decoder``."""

    def __init__(self, config: DDColorConfig) -> None:
        super().__init__()
        dims = config.encoder.dims
        self.layers = nn.ModuleList([
            UnetUpBlock(dims[3], dims[2], DECODER_WIDTH),
            UnetUpBlock(DECODER_WIDTH, dims[1], DECODER_WIDTH),
            UnetUpBlock(DECODER_WIDTH, dims[0], EMBED_DIM),
        ])
        self.last_shuf = PixelShuffleUpsampler(EMBED_DIM, EMBED_DIM, scale=4, batch_norm=False)
        self.color_decoder = MultiScaleColorDecoder((DECODER_WIDTH, DECODER_WIDTH, EMBED_DIM), config.num_queries,
                                                    config.decoder_layers)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x, scales = features[3], []
        for block, skip in zip(self.layers, features[2::-1]):
            x = block(x, skip)
            scales.append(x)
        return self.color_decoder(scales, self.last_shuf(x))


class DDColorEncoder(nn.Module):
    """Upstream nests the ConvNeXt as ``encoder.arch``."""

    def __init__(self, config: ConvNextConfig) -> None:
        super().__init__()
        self.arch = ConvNextEncoder(config)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.arch(x)


class DDColor(nn.Module):
    """Gray sRGB image (B,3,H,W in 0..1, H and W multiples of 32) -> ab (B,2,H,W) in Lab units."""

    def __init__(self, config: DDColorConfig) -> None:
        super().__init__()
        self.encoder = DDColorEncoder(config.encoder)
        self.decoder = DualDecoder(config)
        self.refine_net = nn.Sequential(nn.Sequential(SpectralNormConv2d(config.num_queries + 3, 2, 1, bias=True)))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb - self.mean) / self.std
        queries = self.decoder(self.encoder(x))
        return self.refine_net(torch.cat([queries, x], dim=1))


def gray_rgb_from_l(l: torch.Tensor) -> torch.Tensor:
    """L (..., H, W) -> the sRGB image of (L, 0, 0), (..., 3, H, W): upstream's Lab->RGB of L with zero ab.

    With a = b = 0 the color is the white point scaled, so R = G = B = sRGB transfer of Y(L).
    """
    lab = torch.stack((l, torch.zeros_like(l), torch.zeros_like(l)), dim=-1)
    return lab_to_srgb(lab).movedim(-1, -3)


@torch.inference_mode()
def predict_ab(model: DDColor, l: np.ndarray) -> np.ndarray:
    """L (float32 HxW, 0..100) -> ab (float32 2x512x512): L resized bilinearly to the working size, rendered gray."""
    if l.ndim != 2:
        raise ValueError(f"L must be HxW, got shape {l.shape}")
    device = next(model.parameters()).device
    rgb = gray_rgb_from_l(l_at_working_size(l, WORKING_SIZE)[0, 0])[None]
    return model(rgb.to(device))[0].float().cpu().numpy()
