"""SIGGRAPH17 interactive colorizer (Zhang et al. 2017, "Real-Time User-Guided Image Colorization"), BSD-2 weights.

A U-Net over L plus sparse ab hints plus their mask. It predicts ab directly (the regression head, tanh times 110).
Module names follow the upstream ``SIGGRAPHGenerator`` (richzhang/colorization, ``colorizers/siggraph17.py``) so
``siggraph17-df00044c.pth`` loads strictly; its ``model_class`` head (529 colour-bin logits) is in the file and is
kept for that reason, though colorization uses only the regression output.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chromaseg.core.published.resize import l_at_working_size

WORKING_SIZE = 256  # the resolution the network was trained at; ab comes back at this size
L_CENTER, L_SCALE, AB_SCALE = 50.0, 100.0, 110.0  # upstream normalization: (L - 50) / 100 and ab / 110
COLOR_BINS = 529  # the classification head's quantized ab bins (unused for the regression output)


def _conv_stack(channels: list[int], dilation: int = 1, leading_relu: bool = False) -> nn.Sequential:
    """3x3 convs each followed by ReLU, closed by BatchNorm; the optional leading ReLU acts on a skip sum."""
    layers: list[nn.Module] = [nn.ReLU(inplace=True)] if leading_relu else []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


def _single(layer: nn.Module) -> nn.Sequential:
    """Upstream wraps lone layers in Sequential, which puts a ``.0`` in their state-dict names."""
    return nn.Sequential(layer)


class Siggraph17Colorizer(nn.Module):
    """L (B,1,H,W in 0..100), hint ab (B,2,H,W in Lab units), hint mask (B,1,H,W, 1 = hinted) -> ab (B,2,H,W).

    The mask goes in unchanged (0 or 1), as upstream's forward feeds it, and ab is zero where there is no hint.
    H and W must be multiples of 8 (three stride-2 subsamplings and three stride-2 transposed convolutions).
    """

    def __init__(self) -> None:
        super().__init__()
        self.model1 = _conv_stack([4, 64, 64])
        self.model2 = _conv_stack([64, 128, 128])
        self.model3 = _conv_stack([128, 256, 256, 256])
        self.model4 = _conv_stack([256, 512, 512, 512])
        self.model5 = _conv_stack([512, 512, 512, 512], dilation=2)
        self.model6 = _conv_stack([512, 512, 512, 512], dilation=2)
        self.model7 = _conv_stack([512, 512, 512, 512])
        self.model8up = _single(nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1))
        self.model3short8 = _single(nn.Conv2d(256, 256, 3, padding=1))
        self.model8 = _conv_stack([256, 256, 256], leading_relu=True)
        self.model9up = _single(nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1))
        self.model2short9 = _single(nn.Conv2d(128, 128, 3, padding=1))
        self.model9 = _conv_stack([128, 128], leading_relu=True)
        self.model10up = _single(nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1))
        self.model1short10 = _single(nn.Conv2d(64, 128, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(128, 128, 3, padding=1),
                                     nn.LeakyReLU(negative_slope=0.2))
        self.model_class = _single(nn.Conv2d(256, COLOR_BINS, 1))
        self.model_out = nn.Sequential(nn.Conv2d(128, 2, 1), nn.Tanh())

    def forward(self, l: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat(((l - L_CENTER) / L_SCALE, hint_ab / AB_SCALE, hint_mask), dim=1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        conv7 = self.model7(self.model6(self.model5(self.model4(conv3[:, :, ::2, ::2]))))
        conv8 = self.model8(self.model8up(conv7) + self.model3short8(conv3))
        conv9 = self.model9(self.model9up(conv8) + self.model2short9(conv2))
        conv10 = self.model10(self.model10up(conv9) + self.model1short10(conv1))
        return self.model_out(conv10) * AB_SCALE


def hints_at_working_size(hint_ab: np.ndarray, hint_mask: np.ndarray, size: int = WORKING_SIZE
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse hints (ab (2,H,W), mask (H,W)) -> (ab (1,2,size,size), mask (1,1,size,size)).

    A working pixel is hinted when any input pixel it covers is, with the mean ab of those hinted pixels: a bilinear
    resize would dilute a one-pixel hint into a weak half-hint, which the network reads as a different request.
    """
    mask = torch.from_numpy(np.ascontiguousarray(hint_mask, dtype=np.float32) > 0).float()[None, None]
    ab = torch.from_numpy(np.ascontiguousarray(hint_ab, dtype=np.float32))[None] * mask
    hinted_share = F.interpolate(mask, size=(size, size), mode="area")
    ab_share = F.interpolate(ab, size=(size, size), mode="area")  # mean over covered pixels, unhinted ones as 0
    hinted = hinted_share > 0
    return torch.where(hinted, ab_share / hinted_share.clamp_min(1e-12), 0.0), hinted.float()


@torch.inference_mode()
def predict_ab(model: Siggraph17Colorizer, l: np.ndarray, hint_ab: np.ndarray | None = None,
               hint_mask: np.ndarray | None = None) -> np.ndarray:
    """L (float32 HxW, 0..100) and optional hints (ab 2xHxW, mask HxW) -> ab (float32 2x256x256)."""
    if l.ndim != 2:
        raise ValueError(f"L must be HxW, got shape {l.shape}")
    if (hint_ab is None) != (hint_mask is None):
        raise ValueError("hint ab and hint mask go together")
    if hint_ab is None:
        hint_ab, hint_mask = np.zeros((2, *l.shape), np.float32), np.zeros(l.shape, np.float32)
    if hint_ab.shape != (2, *l.shape) or hint_mask.shape != l.shape:
        raise ValueError(f"hints must be 2x{l.shape[0]}x{l.shape[1]} and {l.shape[0]}x{l.shape[1]}, "
                         f"got {hint_ab.shape} and {hint_mask.shape}")
    device = next(model.parameters()).device
    ab, mask = hints_at_working_size(hint_ab, hint_mask)
    out = model(l_at_working_size(l, WORKING_SIZE).to(device), ab.to(device), mask.to(device))
    return out[0].float().cpu().numpy()
