"""The CCC colorizer network: L + hint ab + hint mask in, K color-class logits at 1/4 resolution out.

A local branch of depthwise-separable (MobileNet-style) blocks keeps the spatial detail that hints and edges need; a
global branch pools the deepest features into one image-level vector (scene, lighting) and fuses it back into every
position, as seeds 002 and 003 describe. An optional semantic feature map (the frozen DeepLab encoder of
``chromaseg.core.semantic``) is fused at 1/8 resolution. The network is fully convolutional: any input size, odd ones
included, gives logits of size ceil(H/4) x ceil(W/4).

Checkpoints are self-describing (architecture name + config + class table + weights), so inference rebuilds the exact
model that was trained.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chromaseg.core.classes import ClassTable

if TYPE_CHECKING:
    from chromaseg.core.semantic import SemanticEncoder

CHECKPOINT_FORMAT = "chromaseg-colorizer"
CHECKPOINT_VERSION = 2  # 2: may carry the frozen semantic encoder it was trained with
READABLE_VERSIONS = (1, 2)

# Input normalization: L in [0, 100] -> [-1, 1]; ab in about [-110, 110] -> [-1, 1].
L_CENTER, L_SCALE = 50.0, 50.0
AB_SCALE = 110.0


@dataclass(frozen=True)
class ColorizerConfig:
    """Everything needed to rebuild the network (stored in the checkpoint)."""

    num_classes: int
    width: int = 32  # channels of the first stage; later stages are multiples of it
    semantic_channels: int = 0  # channels of the fused semantic feature map (0: no semantic branch)
    encoder: str = "mobile"  # "mobile": depthwise-separable stages; "dense": DenseNet-BC stages (the paper's)


def _norm_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU6(inplace=True)]


class SeparableBlock(nn.Module):
    """Depthwise 3x3 (stride / dilation) then pointwise 1x1, each with BN + ReLU6; residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, padding=dilation, dilation=dilation, groups=cin, bias=False),
            *_norm_act(cin),
            nn.Conv2d(cin, cout, 1, bias=False),
            *_norm_act(cout),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class DenseLayer(nn.Module):
    """DenseNet-BC layer: BN-ReLU-1x1 (4 x growth) then BN-ReLU-3x3 (growth); its output is concatenated."""

    def __init__(self, cin: int, growth: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True),
                                  nn.Conv2d(4 * growth, growth, 3, padding=dilation, dilation=dilation, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


def _dense_stage(cin: int, cout: int, layers: int, stride: int = 2, dilation: int = 1) -> nn.Sequential:
    """Downsample (3x3 stride conv, ceil sizes like the mobile stages), dense layers, 1x1 transition to ``cout``."""
    growth = max(cout // 4, 4)
    mods: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), *_norm_act(cout)]
    mods += [DenseLayer(cout + i * growth, growth, dilation) for i in range(layers)]
    mods += [nn.Conv2d(cout + layers * growth, cout, 1, bias=False), *_norm_act(cout)]
    return nn.Sequential(*mods)


def _pointwise(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), *_norm_act(cout))


class GlobalFusion(nn.Module):
    """Pool the features to one vector, pass it through an MLP and fuse it into every position (concat + 1x1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        self.fuse = _pointwise(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.mlp(x.mean(dim=(2, 3)))[:, :, None, None].expand_as(x)
        return self.fuse(torch.cat([x, g], dim=1))


class SemanticFusion(nn.Module):
    """Adds what the semantic features tell to the 1/8 features: a residual branch (1x1 over both, BN) whose BN
    scale starts at zero, so a colorizer that learned without semantics starts out exactly as it was (``--init``)
    and the semantics are learned on top of it."""

    def __init__(self, channels: int, semantic_channels: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(channels + semantic_channels, channels, 1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.norm.weight)

    def forward(self, x: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.mix(torch.cat([x, semantic], dim=1)))


class Colorizer(nn.Module):
    """Local + global colorization network predicting K class logits at 1/4 of the input resolution.

    The encoder is depthwise-separable (``mobile``, default) or DenseNet-BC (``dense``, the paper's choice); the
    global fusion, the optional semantic fusion and the hint-aware decoder are shared.
    """

    def __init__(self, config: ColorizerConfig, table: ClassTable | None = None, arch: str = "ccc-mobile") -> None:
        super().__init__()
        if table is not None and table.num_classes != config.num_classes:
            raise ValueError(f"class table has {table.num_classes} classes, config {config.num_classes}")
        self.config, self.table, self.arch = config, table, arch
        self.extra: dict = {}  # the checkpoint's metadata (training settings, inference resolution)
        w = config.width
        c1, c2, c3, c4 = w, 2 * w, 4 * w, 6 * w
        self.stem = nn.Sequential(nn.Conv2d(4, c1, 3, 2, 1, bias=False), *_norm_act(c1))  # 1/2
        if config.encoder == "mobile":
            self.down4 = nn.Sequential(SeparableBlock(c1, c2, 2), SeparableBlock(c2, c2))  # 1/4
            self.down8 = nn.Sequential(SeparableBlock(c2, c3, 2), SeparableBlock(c3, c3))  # 1/8
            self.down16 = nn.Sequential(SeparableBlock(c3, c4, 2), SeparableBlock(c4, c4),
                                        SeparableBlock(c4, c4, dilation=2), SeparableBlock(c4, c4, dilation=4))
        elif config.encoder == "dense":
            self.down4 = _dense_stage(c1, c2, 2)
            self.down8 = _dense_stage(c2, c3, 4)
            self.down16 = nn.Sequential(_dense_stage(c3, c4, 4), _dense_stage(c4, c4, 4, stride=1, dilation=2))
        else:
            raise ValueError(f"unknown encoder {config.encoder!r} (mobile or dense)")
        self.global_fusion = GlobalFusion(c4)
        self.semantic_fuse = SemanticFusion(c3, config.semantic_channels) if config.semantic_channels else None
        self.up8 = nn.Sequential(_pointwise(c4 + c3, c3), SeparableBlock(c3, c3), SeparableBlock(c3, c3, dilation=2))
        # The 1/4 decoder also sees the hints pooled to its grid, so a hint's color reaches the head directly.
        self.up4 = nn.Sequential(_pointwise(c3 + c2 + 3, c2), SeparableBlock(c2, c2), SeparableBlock(c2, c2))
        self.head = nn.Conv2d(c2, config.num_classes, 1)
        self.register_buffer("centers", torch.as_tensor(table.centers if table is not None else
                                                          np.zeros((config.num_classes, 2), np.float32)),
                             persistent=False)

    @staticmethod
    def encode_inputs(l: torch.Tensor, hint_ab: torch.Tensor, hint_mask: torch.Tensor) -> torch.Tensor:
        """(B,1,H,W) L in [0,100], (B,2,H,W) hint ab, (B,1,H,W) mask in {0,1} -> normalized (B,4,H,W) input."""
        return torch.cat([(l - L_CENTER) / L_SCALE, hint_ab * hint_mask / AB_SCALE, hint_mask], dim=1)

    def forward(self, l: torch.Tensor, hint_ab: torch.Tensor | None = None, hint_mask: torch.Tensor | None = None,
                semantic: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, K, ceil(H/4), ceil(W/4)); hints default to none."""
        b, _, h, w = l.shape
        if hint_ab is None or hint_mask is None:
            hint_ab = l.new_zeros(b, 2, h, w)
            hint_mask = l.new_zeros(b, 1, h, w)
        x = self.encode_inputs(l, hint_ab, hint_mask)
        f2 = self.stem(x)
        f4 = self.down4(f2)
        f8 = self.down8(f4)
        if self.semantic_fuse is not None:  # before the deep and global stages, so they reason with the semantics
            if semantic is None:
                raise ValueError("this colorizer fuses semantic features: pass semantic=")
            if semantic.shape[-2:] != f8.shape[-2:]:
                semantic = F.interpolate(semantic, size=f8.shape[-2:], mode="bilinear", align_corners=False)
            f8 = self.semantic_fuse(f8, semantic)
        f16 = self.global_fusion(self.down16(f8))
        up = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        d8 = self.up8(torch.cat([up, f8], dim=1))
        up = F.interpolate(d8, size=f4.shape[-2:], mode="bilinear", align_corners=False)
        hints4 = _pool_hints(hint_ab * hint_mask, hint_mask, f4.shape[-2:])
        d4 = self.up4(torch.cat([up, f4, hints4], dim=1))
        return self.head(d4)


def _pool_hints(ab: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Mean hint ab (normalized) and hint coverage of each cell of an output grid of ``size``."""
    sums = F.adaptive_avg_pool2d(torch.cat([ab, mask], dim=1), size)
    cover = sums[:, 2:3]
    return torch.cat([sums[:, :2] / cover.clamp_min(1e-6) / AB_SCALE, (cover > 0).to(ab.dtype)], dim=1)


# --- registry -----------------------------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[..., Colorizer]] = {}


def register(name: str) -> Callable[[Callable[..., Colorizer]], Callable[..., Colorizer]]:
    """Decorator adding a builder ``fn(num_classes, table=None, **options) -> Colorizer`` to the registry."""

    def add(fn: Callable[..., Colorizer]) -> Callable[..., Colorizer]:
        _BUILDERS[name] = fn
        return fn

    return add


@register("ccc-mobile")
def _ccc_mobile(num_classes: int, table: ClassTable | None = None, width: int = 32,
                semantic_channels: int = 0) -> Colorizer:
    return Colorizer(ColorizerConfig(num_classes, width, semantic_channels), table, arch="ccc-mobile")


@register("ccc-dense")
def _ccc_dense(num_classes: int, table: ClassTable | None = None, width: int = 32,
               semantic_channels: int = 0) -> Colorizer:
    """The paper's DenseNet-style encoder (DenseNet-BC stages) with the same decoder and hint paths."""
    return Colorizer(ColorizerConfig(num_classes, width, semantic_channels, "dense"), table, arch="ccc-dense")


@register("ccc-mobile-tiny")
def _ccc_mobile_tiny(num_classes: int, table: ClassTable | None = None, semantic_channels: int = 0) -> Colorizer:
    """A very small variant for tests and smoke runs."""
    return Colorizer(ColorizerConfig(num_classes, 8, semantic_channels), table, arch="ccc-mobile-tiny")


def available_architectures() -> list[str]:
    return sorted(_BUILDERS)


def build_colorizer(name: str, num_classes: int | None = None, table: ClassTable | None = None,
                    **options: Any) -> Colorizer:
    """Build a registered architecture; ``num_classes`` defaults to the class table's K."""
    if name not in _BUILDERS:
        raise KeyError(f"unknown colorizer architecture {name!r}; known: {', '.join(available_architectures())}")
    if num_classes is None:
        if table is None:
            raise ValueError("pass num_classes or a class table")
        num_classes = table.num_classes
    return _BUILDERS[name](num_classes, table=table, **options)


# --- checkpoints --------------------------------------------------------------------------------------------------


def _table_to_dict(table: ClassTable) -> dict:
    return {"kept": table.kept.tolist(), "grid_to_class": table.grid_to_class.tolist(),
            "counts": table.counts.tolist(), "threshold_fraction": table.threshold_fraction, "meta": table.meta}


def _table_from_dict(doc: dict) -> ClassTable:
    return ClassTable(kept=np.asarray(doc["kept"], np.int64), grid_to_class=np.asarray(doc["grid_to_class"], np.int64),
                      counts=np.asarray(doc["counts"], np.int64), threshold_fraction=float(doc["threshold_fraction"]),
                      meta=dict(doc["meta"]))


def checkpoint_dict(model: Colorizer, extra: dict | None = None, half: bool = False,
                    encoder: "SemanticEncoder | None" = None) -> dict:
    """Architecture, config, class table and weights as one dictionary (``half``: float16 weights, to ship); a
    colorizer that fuses semantic features also carries its frozen ``encoder``, so the file is self-contained."""
    if model.table is None:
        raise ValueError("a checkpoint needs the model's class table")
    if encoder is not None and encoder.out_channels != model.config.semantic_channels:
        raise ValueError(f"the encoder gives {encoder.out_channels} channels; the colorizer fuses "
                         f"{model.config.semantic_channels}")
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous().clone()
             for k, v in model.state_dict().items()}
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "arch": model.arch,
           "config": asdict(model.config), "class_table": _table_to_dict(model.table),
           "state_dict": state, "extra": dict(extra or {})}
    if encoder is not None:
        doc["semantic_encoder"] = encoder.to_state()
    return doc


def save_checkpoint(model: Colorizer, path: str | os.PathLike, extra: dict | None = None, half: bool = False,
                    encoder: "SemanticEncoder | None" = None) -> None:
    """Write :func:`checkpoint_dict` to ``path`` (through a temporary file: a reader never sees half a file)."""
    path = os.fspath(path)
    tmp = f"{path}.partial"
    torch.save(checkpoint_dict(model, extra, half, encoder), tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dictionary, checked for format and version (weights only: no code is unpickled)."""
    doc = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a chromaseg colorizer checkpoint")
    return doc


def model_from_checkpoint(doc: dict) -> Colorizer:
    """Rebuild the exact colorizer a checkpoint dictionary describes (float32, eval mode), without its encoder."""
    if doc.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"colorizer checkpoint version {doc.get('version')} is not supported")
    table = _table_from_dict(doc["class_table"])
    config = ColorizerConfig(**doc["config"])
    model = Colorizer(config, table, arch=doc["arch"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in doc["state_dict"].items()})
    model.extra = dict(doc.get("extra", {}))
    return model.eval()


def inference_model(doc: dict) -> nn.Module:
    """The ready-to-run model of a checkpoint: the colorizer, wrapped with its own semantic encoder when it fuses
    one (called like a plain colorizer: L and hints in, logits out)."""
    from chromaseg.core.semantic import SemanticColorizer, SemanticEncoder

    colorizer = model_from_checkpoint(doc)
    if not colorizer.config.semantic_channels:
        return colorizer
    if "semantic_encoder" not in doc:
        raise ValueError("this checkpoint fuses semantic features but does not carry its semantic encoder")
    return SemanticColorizer(colorizer, SemanticEncoder.from_state(doc["semantic_encoder"])).eval()


def load_checkpoint(path: str | os.PathLike) -> nn.Module:
    """Load a colorizer saved by :func:`save_checkpoint`, ready for inference (see :func:`inference_model`)."""
    return inference_model(read_checkpoint(path))
