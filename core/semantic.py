"""The pretrained semantic branch: DeepLabv3 + MobileNetV2 (PASCAL VOC), converted from its OpenVINO IR to PyTorch.

Seeds 001 and 002 fuse a pretrained semantic encoder into the colorizer; the one network at hand is TensorFlow's
DeepLabv3 (MobileNetV2 backbone, output stride 8, ASPP with image pooling), stored as an OpenVINO IR with the batch
norms folded into the convolutions. The IR is read directly (its XML graph and the raw FP16 blob): its 38
convolutions map one to one, in order, onto the modules below, and every shape, stride and dilation is checked on
the way. TensorFlow's SAME padding (asymmetric for stride 2 on even sizes) is reproduced, and the image pooling is a
global mean, so any input size works (the IR's pooling is fixed to 65x65 features).

As the colorizer's global branch, it sees the gray image replicated to three channels and stays frozen; its ASPP
features (256 channels at 1/8 resolution) are fused into the colorizer's decoder.
"""
from __future__ import annotations

import hashlib
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chromaseg.core.weights import deeplab_ir

if TYPE_CHECKING:
    from chromaseg.core.classes import ClassTable

# MobileNetV2 inverted-residual blocks of DeepLab's output-stride-8 variant: (expansion, out channels, stride,
# dilation). The blocks that stride 2 in the classifier run at stride 1 with a growing dilation instead.
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 1), (6, 24, 1, 1),
    (6, 32, 2, 1), (6, 32, 1, 1), (6, 32, 1, 1),
    (6, 64, 1, 1), (6, 64, 1, 2), (6, 64, 1, 2), (6, 64, 1, 2),
    (6, 96, 1, 2), (6, 96, 1, 2), (6, 96, 1, 2),
    (6, 160, 1, 2), (6, 160, 1, 4), (6, 160, 1, 4),
    (6, 320, 1, 4),
)
NUM_CLASSES = 21
FEATURE_CHANNELS = 256  # ASPP output, the features the colorizer fuses
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding, computed from the input size (extra pixel at the end)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv(cin: int, cout: int, k: int = 1, stride: int = 1, dilation: int = 1, groups: int = 1) -> SameConv2d:
    return SameConv2d(cin, cout, k, stride, 0, dilation, groups, bias=True)  # BN is folded into the bias


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, expansion: int, cout: int, stride: int, dilation: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.expand = _conv(cin, mid) if expansion != 1 else None
        self.depthwise = _conv(mid, mid, 3, stride, dilation, groups=mid)
        self.project = _conv(mid, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class DeepLabV3MobileNetV2(nn.Module):
    """DeepLabv3, MobileNetV2 backbone at output stride 8, ASPP = image pooling + 1x1 branch (no atrous branches)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("input_scale", torch.tensor(2 / 255))
        self.register_buffer("input_shift", torch.tensor(-1.0))
        self.stem = _conv(3, 32, 3, 2)
        blocks, cin = [], 32
        for t, c, s, d in BLOCKS:
            blocks.append(InvertedResidual(cin, t, c, s, d))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.image_pooling = _conv(320, 256)
        self.aspp0 = _conv(320, 256)
        self.projection = _conv(512, 256)
        self.logits = _conv(256, NUM_CLASSES)

    def convolutions(self) -> list[SameConv2d]:
        """All convolutions in the IR's order."""
        return [m for m in self.modules() if isinstance(m, SameConv2d)]

    def features(self, rgb255: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 255] -> ASPP features (B, 256, ceil(H/8), ceil(W/8))."""
        x = F.relu6(self.stem(rgb255 * self.input_scale + self.input_shift))
        x = self.blocks(x)
        pooled = F.relu(self.image_pooling(x.mean(dim=(2, 3), keepdim=True))).expand(-1, -1, *x.shape[-2:])
        return F.relu(self.projection(torch.cat([pooled, F.relu(self.aspp0(x))], dim=1)))

    def forward(self, rgb255: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 21, ceil(H/8), ceil(W/8))."""
        return self.logits(self.features(rgb255))


# --- the IR -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IRConv:
    """One convolution of the IR with its folded bias."""

    name: str
    weight: np.ndarray  # (O, I/groups, kh, kw)
    bias: np.ndarray  # (O,)
    groups: int
    stride: tuple[int, int]
    dilation: tuple[int, int]


_DTYPES = {"f16": np.float16, "f32": np.float32, "i64": np.int64, "i32": np.int32}


def read_ir(xml_path: str | os.PathLike, bin_path: str | os.PathLike) -> tuple[list[IRConv], float, float]:
    """The IR's convolutions in graph order (each with the bias of the Add that follows it) and the input's
    preprocessing (scale, shift)."""
    root = ET.parse(xml_path).getroot()
    blob = Path(bin_path).read_bytes()
    layers = {l.get("id"): l for l in root.find("layers")}
    producer: dict[tuple[str, str], str] = {}
    consumers: dict[str, list[str]] = {}
    for e in root.find("edges"):
        producer[(e.get("to-layer"), e.get("to-port"))] = e.get("from-layer")
        consumers.setdefault(e.get("from-layer"), []).append(e.get("to-layer"))

    def inputs(layer_id: str) -> list[str]:
        ports = layers[layer_id].find("input")
        return [producer[(layer_id, p.get("id"))] for p in ports.findall("port")] if ports is not None else []

    def const(layer_id: str) -> np.ndarray | None:
        """Value of a Const (seen through Convert decompression), else None."""
        layer = layers[layer_id]
        while layer.get("type") == "Convert":
            layer = layers[inputs(layer.get("id"))[0]]
        if layer.get("type") != "Const":
            return None
        d = layer.find("data")
        shape = tuple(int(s) for s in d.get("shape").split(",") if s.strip())
        start, size = int(d.get("offset")), int(d.get("size"))
        return np.frombuffer(blob[start:start + size], dtype=_DTYPES[d.get("element_type")]).reshape(shape)

    def ints(text: str) -> tuple[int, int]:
        a, b = (int(v) for v in text.split(","))
        return a, b

    convs = []
    for lid in sorted(layers, key=int):
        layer = layers[lid]
        kind = layer.get("type")
        if kind not in ("Convolution", "GroupConvolution"):
            continue
        weight = const(inputs(lid)[1]).astype(np.float32)
        groups = 1
        if kind == "GroupConvolution":  # (G, O/G, I/G, kh, kw)
            groups = weight.shape[0]
            weight = weight.reshape(-1, *weight.shape[2:])
        adds = [c for c in consumers[lid] if layers[c].get("type") == "Add"]
        biases = [const(i) for i in inputs(adds[0])] if len(adds) == 1 else []
        biases = [b for b in biases if b is not None]
        if len(biases) != 1:
            raise ValueError(f"{layer.get('name')}: expected one bias Add after the convolution")
        d = layer.find("data")
        convs.append(IRConv(layer.get("name"), weight, biases[0].astype(np.float32).reshape(-1), groups,
                            ints(d.get("strides")), ints(d.get("dilations"))))
    # Preprocessing: the graph's only Multiply (input * scale) and the Add that follows it (+ shift).
    mul = next(lid for lid, layer in layers.items() if layer.get("type") == "Multiply")
    add = next(c for c in consumers[mul] if layers[c].get("type") == "Add")
    scale = next(v for v in map(const, inputs(mul)) if v is not None)
    shift = next(v for v in map(const, inputs(add)) if v is not None)
    return convs, float(scale.reshape(())), float(shift.reshape(()))


def convert(xml_path: str | os.PathLike, bin_path: str | os.PathLike) -> DeepLabV3MobileNetV2:
    """The IR as a PyTorch module (float32, eval mode, frozen), checked convolution by convolution."""
    convs, scale, shift = read_ir(xml_path, bin_path)
    model = DeepLabV3MobileNetV2()
    targets = model.convolutions()
    if len(convs) != len(targets):
        raise ValueError(f"the IR has {len(convs)} convolutions; the module expects {len(targets)}")
    with torch.no_grad():
        for src, dst in zip(convs, targets):
            if (src.weight.shape != tuple(dst.weight.shape) or src.groups != dst.groups
                    or src.stride != dst.stride or src.dilation != dst.dilation):
                raise ValueError(f"{src.name}: IR {src.weight.shape} groups {src.groups} stride {src.stride} "
                                 f"dilation {src.dilation} does not match the module's {tuple(dst.weight.shape)} "
                                 f"groups {dst.groups} stride {dst.stride} dilation {dst.dilation}")
            dst.weight.copy_(torch.from_numpy(src.weight))
            dst.bias.copy_(torch.from_numpy(src.bias))
        model.input_scale.fill_(scale)
        model.input_shift.fill_(shift)
    return model.eval().requires_grad_(False)


def load_deeplab(folder: str | os.PathLike | None = None) -> DeepLabV3MobileNetV2 | None:
    """The converted network from ``folder`` (default: the weights directory), or None when its IR is absent."""
    found = deeplab_ir(folder)
    return convert(*found) if found is not None else None


# --- as the colorizer's semantic branch ---------------------------------------------------------------------------


def gray_rgb255(l: torch.Tensor) -> torch.Tensor:
    """L (B,1,H,W) in [0,100] -> the neutral gray sRGB image (B,3,H,W) in [0, 255] DeepLab takes."""
    from chromaseg.core.color import lab_to_srgb

    lab = torch.cat([l, torch.zeros_like(l), torch.zeros_like(l)], dim=1).permute(0, 2, 3, 1)
    return lab_to_srgb(lab).permute(0, 3, 1, 2) * 255.0


class SemanticEncoder(nn.Module):
    """Frozen DeepLab features of the gray image: L (B,1,H,W) in [0,100] -> (B, C, ceil(H/8), ceil(W/8)).

    With ``channels`` set, the 256 ASPP channels are reduced by a fixed linear projection (a 1x1 convolution fitted
    once by :func:`fit_projection`: PCA, whitened), so that the features of a whole training set fit in a disk cache
    and the colorizer fuses a compact, unit-variance input. Without it the raw ASPP features come out.
    """

    def __init__(self, deeplab: DeepLabV3MobileNetV2, channels: int | None = None) -> None:
        super().__init__()
        self.deeplab = deeplab.eval().requires_grad_(False)
        self.projection = nn.Conv2d(FEATURE_CHANNELS, channels, 1).requires_grad_(False) if channels else None

    @property
    def out_channels(self) -> int:
        return self.projection.out_channels if self.projection is not None else FEATURE_CHANNELS

    def train(self, mode: bool = True) -> "SemanticEncoder":
        return super().train(False)  # always inference: frozen, BN folded anyway

    @torch.no_grad()
    def raw_features(self, l: torch.Tensor) -> torch.Tensor:
        # channels-last: the depthwise convolutions run about 1.8x faster on the CPU
        return self.deeplab.features(gray_rgb255(l).contiguous(memory_format=torch.channels_last)).contiguous()

    @torch.no_grad()
    def forward(self, l: torch.Tensor) -> torch.Tensor:
        features = self.raw_features(l)
        return self.projection(features) if self.projection is not None else features

    def fingerprint(self) -> str:
        """sha256 of every weight (DeepLab and projection): what a feature cache is keyed by."""
        digest = hashlib.sha256()
        for name, tensor in self.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
        return digest.hexdigest()

    def to_state(self) -> dict:
        """The encoder as plain tensors (float16 weights), to ship inside a colorizer checkpoint."""
        return {"channels": self.projection.out_channels if self.projection is not None else 0,
                "state_dict": {k: (v.half() if v.is_floating_point() and v.dim() > 0 else v).clone()
                               for k, v in self.state_dict().items()}}

    @classmethod
    def from_state(cls, state: dict) -> "SemanticEncoder":
        encoder = cls(DeepLabV3MobileNetV2(), int(state["channels"]) or None)
        encoder.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
        return encoder.to(memory_format=torch.channels_last).eval()


@torch.no_grad()
def fit_projection(encoder: SemanticEncoder, batches: Iterable[torch.Tensor], max_pixels: int = 400_000) -> None:
    """Set ``encoder.projection`` to the whitened PCA of the raw features over ``batches`` of L (B,1,H,W): the
    leading components, each scaled to unit variance (a fixed input normalization for the colorizer)."""
    if encoder.projection is None:
        raise ValueError("this encoder has no projection to fit")
    rows, total = [], 0
    for l in batches:
        f = encoder.raw_features(l).permute(0, 2, 3, 1).reshape(-1, FEATURE_CHANNELS).double()
        rows.append(f)
        total += f.shape[0]
        if total >= max_pixels:
            break
    x = torch.cat(rows)[:max_pixels]
    mean = x.mean(0)
    cov = torch.cov((x - mean).T)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    k = encoder.projection.out_channels
    values, vectors = values.flip(0)[:k].clamp_min(1e-6), vectors.flip(1)[:, :k]
    weight = (vectors / values.sqrt()).T  # (k, 256)
    encoder.projection.weight.copy_(weight[:, :, None, None].float())
    encoder.projection.bias.copy_((-weight @ mean).float())


class SemanticColorizer(nn.Module):
    """A colorizer whose semantic input comes from a frozen encoder: called like a plain :class:`Colorizer`.

    The encoder's output for the last L seen is kept, so colorizing one image again (other hints, a preview, the
    no-hint pass) costs only the colorizer."""

    def __init__(self, colorizer: nn.Module, encoder: SemanticEncoder) -> None:
        super().__init__()
        if colorizer.config.semantic_channels != encoder.out_channels:
            raise ValueError(f"the colorizer must fuse {encoder.out_channels} semantic channels; "
                             f"it has {colorizer.config.semantic_channels}")
        self.colorizer, self.encoder = colorizer, encoder
        self._last: tuple[tuple, torch.Tensor] | None = None

    def semantic(self, l: torch.Tensor) -> torch.Tensor:
        """The encoder's features of ``l``, reused when ``l`` is the last input seen."""
        key = (tuple(l.shape), str(l.device), hashlib.blake2b(l.detach().cpu().numpy().tobytes(),
                                                            digest_size=16).digest())
        if self._last is None or self._last[0] != key:
            self._last = (key, self.encoder(l))
        return self._last[1]

    @property
    def centers(self) -> torch.Tensor:
        return self.colorizer.centers

    def forward(self, l: torch.Tensor, hint_ab: torch.Tensor | None = None,
                hint_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.colorizer(l, hint_ab, hint_mask, semantic=self.semantic(l))

    @property
    def table(self) -> "ClassTable | None":
        return self.colorizer.table
