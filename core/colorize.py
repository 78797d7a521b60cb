"""Colorize a layer: predict chroma at the model's resolution, upsample it along the full-resolution L, compose.

The result keeps the input's L (within 0.5: where a predicted color does not exist at that lightness, its chroma is
reduced until it does, instead of letting sRGB clipping shift the lightness), so no luminance detail is lost or
blurred. The network sees the layer reduced to ``resolution`` on its long side; only the guided-filter coefficients
are upsampled, and the full-resolution work runs in bands of rows, so memory grows with the layer only by a few
float32 planes. Pixels the artist hinted take the hint's color; outside ``selection`` the layer is unchanged, with a
feathered edge inside it.

`Colorizer` is the stateful object, predictor-style: load once (its defaults and metadata - vibrancy, resolution,
temperature, path - are attributes), colorize many. The module functions (`colorize`, `get_model`, `model_*`) are
the same calls for one-off use, over a Colorizer loaded once per checkpoint path or network.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from chromaseg.core.classes import (DEFAULT_TEMPERATURE, check_vibrancy, decode_annealed_mean,
                                    rebalance_log_weights, rebalanced_logits)
from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab, to_unit_float
from chromaseg.core.guided import guided_coefficients, upsample_rows
from chromaseg.core.harmonize import harmonize as harmonize_ab
from chromaseg.core.hint_propagation import propagate_residuals
from chromaseg.core.hints import hint_layer_pixels, reduce_hints
from chromaseg.core.model import load_checkpoint
from chromaseg.core.segment_pass import confine_to_hinted_segments, refine_segments
from chromaseg.core.selection import default_feather, feather_weights
from chromaseg.core.weights import COLORIZER_ASSET, shipped_asset

__all__ = ["Colorizer", "colorize", "feather_weights", "get_model", "needs_segments"]


DEFAULT_RESOLUTION = 384  # long side the network sees, unless its checkpoint records its own
TILE_ROWS = 512  # rows per band of the full-resolution passes
GUIDE_RADIUS = 4  # guided filter radius, in model-resolution pixels
GUIDE_EPS = 1e-3  # guided filter regularization (L scaled to [0, 1])
HINTED_SHARE = 0.5  # weight of the CCC network's hinted prediction in the prior the hints' residuals correct
L_TOLERANCE = 0.2  # L drift allowed by gamut fitting before output quantization
GAMUT_STEPS = 7  # bisection steps of the chroma scale (1/128 precision)
# Vibrancy of a checkpoint that recorded no measured default: the paper's decoding, all the rebalancing kept.
DEFAULT_VIBRANCY = 1.0


def default_model_path() -> Path:
    """The shipped colorizer (self-contained: a semantic colorizer carries its own encoder)."""
    return shipped_asset(COLORIZER_ASSET)



def _checkpoint_extra(model: torch.nn.Module) -> dict:
    """The metadata a model's checkpoint recorded (empty for a model built in memory)."""
    colorizer = getattr(model, "colorizer", model)  # a SemanticColorizer wraps the trained colorizer
    return getattr(colorizer, "extra", {})


Decoder = Callable[[torch.Tensor, Any], torch.Tensor]
"""How a network's output (and its class centers, if it has any) becomes a*, b*: a `Decoding` for the CCC
network's class logits; a published network that predicts a*, b* itself passes them through."""


@dataclass(frozen=True)
class Decoding:
    """How class probabilities become a*, b*: keep ``vibrancy`` of the class rebalancing (Eq. 15's weights as
    ``log_weights``), then the annealed mean at ``temperature``."""

    temperature: float
    vibrancy: float
    log_weights: torch.Tensor

    def __call__(self, logits: torch.Tensor, centers: Any) -> torch.Tensor:
        return decode_annealed_mean(rebalanced_logits(logits, self.log_weights, self.vibrancy), centers,
                                    self.temperature)



def model_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """(h, w) the network sees: the layer reduced so its long side is at most ``resolution`` (never enlarged)."""
    scale = min(1.0, resolution / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _as_rgb(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) color view (a gray layer broadcast to three channels) and the alpha plane (or None)."""
    if image.ndim == 2:
        return np.broadcast_to(image[..., None], (*image.shape, 3)), None
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3], (image[..., 3] if image.shape[2] == 4 else None)
    raise ValueError(f"image must be HxW, HxWx3 or HxWx4; got shape {image.shape}")



def fit_chroma(lab: np.ndarray, tolerance: float = L_TOLERANCE, steps: int = GAMUT_STEPS) -> np.ndarray:
    """sRGB float (N, 3) of Lab (N, 3) whose chroma is scaled down where sRGB clipping would move L by more than
    ``tolerance`` (bisection on the scale, only over those pixels)."""
    rgb = lab_to_srgb(lab)
    bad = np.flatnonzero(np.abs(srgb_to_lab(rgb)[:, 0] - lab[:, 0]) > tolerance)
    if bad.size == 0:
        return rgb
    sub = lab[bad]
    lo = np.zeros(bad.size, np.float32)  # gray (scale 0) is always representable
    hi = np.ones(bad.size, np.float32)
    for _ in range(steps):
        mid = (lo + hi) * np.float32(0.5)
        trial = np.concatenate([sub[:, :1], sub[:, 1:] * mid[:, None]], axis=1)
        ok = np.abs(srgb_to_lab(lab_to_srgb(trial))[:, 0] - sub[:, 0]) <= tolerance
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    rgb[bad] = lab_to_srgb(np.concatenate([sub[:, :1], sub[:, 1:] * lo[:, None]], axis=1))
    return rgb


@torch.no_grad()
def predict_ab(model: torch.nn.Module, l_small: np.ndarray, hint_ab: np.ndarray | None, hint_mask: np.ndarray | None,
               decoding: Decoder) -> np.ndarray:
    """(h, w, 2) float32 decoded a*, b* for a model-resolution L (h, w), bilinearly brought to (h, w). On CUDA the
    network runs under bf16 autocast; decoding is always float32."""
    device = next(model.parameters()).device
    l = torch.from_numpy(np.ascontiguousarray(l_small, np.float32))[None, None].to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        if hint_ab is None:
            logits = model(l)
        else:
            ab = torch.from_numpy(hint_ab)[None].to(device)
            mask = torch.from_numpy(hint_mask.astype(np.float32))[None, None].to(device)
            logits = model(l, ab, mask)
    ab = decoding(logits.float(), model.centers)
    ab = F.interpolate(ab, size=l.shape[-2:], mode="bilinear", align_corners=False)
    return ab[0].permute(1, 2, 0).float().cpu().numpy()


@dataclass(frozen=True)
class HintPixels:
    """The artist's hinted pixels at full resolution: mask (H, W) and their ab (N, 2) in row-major order."""

    mask: np.ndarray
    ab: np.ndarray

    def crop(self, ys: slice, xs: slice) -> HintPixels:
        rows, cols = np.nonzero(self.mask)
        keep = (rows >= ys.start) & (rows < ys.stop) & (cols >= xs.start) & (cols < xs.stop)
        return HintPixels(self.mask[ys, xs], self.ab[keep])


def predict_chroma(net: torch.nn.Module, l_full: np.ndarray, hints: HintPixels | None, resolution: int,
                   decoding: Decoder, hinted_share: float = 1.0) -> np.ndarray:
    """(H, W, 2) a*, b* for a full-resolution L (H, W): the network at ``resolution`` on the long side, then only
    the guided-filter coefficients are upsampled along the full-resolution L, in bands of rows.

    With hints and a ``hinted_share`` below 1, the network predicts twice, with and without them (a semantic
    network encodes the L once), and the hints' residuals are spread over the weighted mean of the two (the CCC
    network's hinted prediction alone smears dense hints: the mean gains 0.2-0.3 dB at 10 and 100 hints). They are
    spread after the mean's guided step at the model's grid (the guided filter's smoothing would otherwise blur the
    correction it exists to sharpen: +0.07 dB at 100 hints); the corrected grid is what the full-resolution L then
    guides."""
    big_h, big_w = l_full.shape
    h, w = model_size(big_h, big_w, resolution)
    l_small = cv2.resize(l_full, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != (big_h, big_w) else l_full
    if hints is None or not hints.mask.any():
        return upsample_chroma(l_small, predict_ab(net, l_small, None, None, decoding), l_full)
    hint_ab, hint_mask = reduce_hints(hints.mask, hints.ab, size=(h, w))
    prior = predict_ab(net, l_small, hint_ab, hint_mask, decoding)
    if hinted_share < 1:
        prior = hinted_share * prior + (1 - hinted_share) * predict_ab(net, l_small, None, None, decoding)
    guided = upsample_chroma(l_small, prior, l_small)
    corrected = propagate_residuals(l_small, guided, hint_mask, hint_ab)
    return corrected if (h, w) == (big_h, big_w) else upsample_chroma(l_small, corrected, l_full)


def upsample_chroma(l_small: np.ndarray, ab_small: np.ndarray, l_full: np.ndarray) -> np.ndarray:
    """(H, W, 2) a*, b* from a model-resolution prediction ``ab_small`` (h, w, 2) over its L ``l_small``: a guided
    filter fitted at (h, w) (ab locally linear in L), its coefficients upsampled along the full L (H, W), in bands."""
    big_h, big_w = l_full.shape
    coef_a, coef_b = guided_coefficients(l_small * np.float32(0.01), ab_small, GUIDE_RADIUS, GUIDE_EPS)
    ab = np.empty((big_h, big_w, 2), np.float32)
    for y in range(0, big_h, TILE_ROWS):
        stop = min(y + TILE_ROWS, big_h)
        ab[y:stop] = upsample_rows(coef_a, (big_h, big_w), y, stop) * (l_full[y:stop, :, None] * np.float32(0.01))
        ab[y:stop] += upsample_rows(coef_b, (big_h, big_w), y, stop)
    return ab


def segment_labels(segments: Any, shape: tuple[int, int]) -> np.ndarray:
    """An (H, W) int32 label map (-1 = none) from a label map or a list of boolean masks (a pixel covered by several
    masks belongs to the smallest, the overlap rule of Algorithm 1)."""
    if isinstance(segments, np.ndarray) and segments.ndim == 2:
        if segments.shape != shape:
            raise ValueError(f"the segments label map must be {shape}; got {segments.shape}")
        return segments.astype(np.int32, copy=False)
    masks = [np.asarray(m, bool) for m in segments]
    if any(m.shape != shape for m in masks):
        raise ValueError(f"every segment mask must be {shape}")
    labels = np.full(shape, -1, np.int32)
    for i in sorted(range(len(masks)), key=lambda i: -int(masks[i].sum())):  # larger first, smaller paint over
        labels[masks[i]] = i
    return labels


def needs_segments(*, harmonize: bool, segment_pass: bool, confine_hints: bool, has_hints: bool) -> bool:
    """Whether a colorization needs segments: harmonize and the segment pass always, confined hints only when there
    is a hint to confine. The one place this is decided (the daemon asks it before lending its segmenter)."""
    return harmonize or segment_pass or (confine_hints and has_hints)


class Colorizer:
    """A loaded colorizer network with its defaults: load once, colorize many.

    ``resolution`` (the long side the network sees), ``vibrancy`` and ``temperature`` (how it decodes) are the ones
    its checkpoint recorded (else DEFAULT_RESOLUTION, DEFAULT_VIBRANCY, the paper's temperature); ``path`` is the
    file it came from (None for a network built in memory). ``hinted_share`` is the weight of the hinted prediction
    in the prior that hints correct (see :func:`predict_chroma`). The segmenter the pipeline's later stages use when
    the caller gives neither segments nor a segmenter is made on first need and kept.
    """

    hinted_share: float = HINTED_SHARE

    def __init__(self, net: torch.nn.Module, path: Path | None = None) -> None:
        self.net = net.eval()
        self.path = path
        extra = _checkpoint_extra(net)
        self.resolution = int(extra.get("resolution", DEFAULT_RESOLUTION))
        self.vibrancy = float(extra.get("vibrancy", DEFAULT_VIBRANCY))
        self.temperature = float(extra.get("temperature", DEFAULT_TEMPERATURE))
        if net.table is None:  # a network without its class table (built in memory): no rebalancing to undo
            self._log_weights = torch.zeros(net.centers.shape[0])
        else:
            loss = extra.get("train_config", {})
            self._log_weights = rebalance_log_weights(net.table.class_counts, loss.get("upsilon", 0.5),
                                                      loss.get("phi"))
        self._segmenter: Any = None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Colorizer:
        """The colorizer of a checkpoint file (default: the shipped weights), loaded once per file."""
        return _load(os.path.abspath(path if path is not None else default_model_path()))

    @classmethod
    def of(cls, model: Colorizer | torch.nn.Module | str | os.PathLike | None = None) -> Colorizer:
        """A Colorizer for what callers pass as ``model``: one as is, a network (wrapped once), a path or None."""
        if isinstance(model, Colorizer):
            return model
        if isinstance(model, torch.nn.Module):
            model.eval()
            wrapped = _WRAPPED.get(model)
            if wrapped is None:
                wrapped = _WRAPPED[model] = cls(model)
            return wrapped
        return cls.load(model)

    def decoding(self, vibrancy: float | None = None) -> Decoding:
        """How this network decodes; ``vibrancy`` (0..1, higher = bolder) overrides its default."""
        return Decoding(self.temperature, check_vibrancy(self.vibrancy if vibrancy is None else vibrancy),
                        self._log_weights)

    def to(self, device: str | torch.device) -> Colorizer:
        """Move the network (and what decoding multiplies with it) to ``device``, e.g. "cuda"; returns self."""
        self.net.to(device)
        self._log_weights = self._log_weights.to(device)
        return self

    def info(self) -> dict[str, Any]:
        """The defaults an editor shows beside its own settings (what the daemon's `info` reports)."""
        return {"vibrancy": self.vibrancy, "resolution": self.resolution,
                "path": str(self.path if self.path is not None else default_model_path())}

    def colorize(self, image: Any, *, hints: Any = None, selection: Any = None, vibrancy: float | None = None,
                 harmonize: bool = False, segments: Any = None, segment_pass: bool = False,
                 confine_hints: bool = False, segmenter: Any = None, resolution: int | None = None,
                 feather: float | None = None, progress: Callable[[str, int, int], None] | None = None) -> np.ndarray:
        """Colorize an sRGB layer (HxW gray, HxWx3 or HxWx4; uint8, uint16 or float32 in [0, 1]).

        Returns the same dtype, height, width and alpha; a 2-D gray layer comes back as HxWx3 (color needs three
        channels). Only a*, b* change. ``hints``: HxWx4 RGBA hint layer (alpha > 0 = hint); each hint's correction
        spreads over its region along L (:mod:`chromaseg.core.hint_propagation`). ``vibrancy`` (0..1, higher =
        bolder): how much of the class rebalancing the network learned is kept when decoding (default: the model's
        measured one, ``self.vibrancy``). The three-stage pipeline (seed 000) over ``segments`` (an HxW label
        map, -1 = none, or a list of HxW masks; computed by ``segmenter``, default ``Segmenter.default()`` made
        once, when a stage needs them (:func:`needs_segments`) and none are given): ``segment_pass`` re-predicts each
        large segment on its own crop and fuses it back with a feathered edge; ``confine_hints`` lets a hint color
        only its own segment; ``harmonize`` runs CCC Algorithm 1 over the segments (hinted pixels are protected).
        ``selection``: HxW uint8 (or bool) mask (:mod:`chromaseg.core.selection`); ``feather``: width of its soft
        inner edge in pixels (default 0.4 % of the long side, at least 1).
        ``resolution``: long side the network sees (default: the model's own, ``self.resolution``).
        ``progress(stage, done, total)`` is called between stages and crops.
        """
        image = np.asarray(image)
        rgb, alpha = _as_rgb(image)
        to_unit_float(rgb[:1, :1])  # dtype check before any work
        big_h, big_w = rgb.shape[:2]
        if hints is not None and np.shape(hints)[:2] != (big_h, big_w):
            raise ValueError(f"the hint layer must be {big_h}x{big_w}; got {np.shape(hints)}")
        report = progress or (lambda stage, done, total: None)
        net = self.net
        decoding = self.decoding(vibrancy)
        res = resolution or self.resolution

        l_full = np.empty((big_h, big_w), np.float32)
        for y in range(0, big_h, TILE_ROWS):
            l_full[y:y + TILE_ROWS] = srgb_to_lab(rgb[y:y + TILE_ROWS])[..., 0]
        hint_px = HintPixels(*hint_layer_pixels(hints)) if hints is not None else None
        has_hints = hint_px is not None and bool(hint_px.mask.any())

        report("colorize", 0, 1)
        ab = predict_chroma(net, l_full, hint_px, res, decoding, self.hinted_share)
        report("colorize", 1, 1)
        labels = None
        if needs_segments(harmonize=harmonize, segment_pass=segment_pass, confine_hints=confine_hints,
                          has_hints=has_hints):
            if segments is None:
                report("segment", 0, 1)
                labels = (segmenter or self._default_segmenter()).auto(image)
                report("segment", 1, 1)
            else:
                labels = segment_labels(segments, (big_h, big_w))
        if confine_hints and has_hints:
            ab = confine_to_hinted_segments(ab, predict_chroma(net, l_full, None, res, decoding), labels, hint_px.mask)
        if segment_pass:
            def predict_region(crop: Any) -> np.ndarray:
                ys, xs = crop.slices
                region_hints = hint_px.crop(ys, xs) if has_hints else None
                if confine_hints and region_hints is not None:  # the crop's own segment decides what its hints color
                    region_hints = region_hints if (labels[ys, xs][region_hints.mask] == crop.label).any() else None
                return predict_chroma(net, l_full[ys, xs], region_hints, res, decoding, self.hinted_share)

            refine_segments(ab, labels, predict_region, res, lambda done, total: report("segment pass", done, total))
        if has_hints:
            ab[hint_px.mask] = hint_px.ab
        if harmonize:
            report("harmonize", 0, 1)
            ab = harmonize_ab(ab, labels, protect=hint_px.mask if has_hints else None)
            report("harmonize", 1, 1)

        weight = None
        if selection is not None:
            feather = default_feather((big_h, big_w)) if feather is None else feather
            weight = feather_weights(selection, (big_h, big_w), feather)

        out = np.empty((big_h, big_w, 3 if alpha is None else 4), image.dtype)
        for y in range(0, big_h, TILE_ROWS):
            stop = min(y + TILE_ROWS, big_h)
            lab = np.concatenate([l_full[y:stop, :, None], ab[y:stop]], axis=2).reshape(-1, 3)
            color = fit_chroma(lab).reshape(stop - y, big_w, 3)
            if weight is not None:
                wt = weight[y:stop, :, None]
                color = color * wt + to_unit_float(rgb[y:stop]) * (1 - wt)
            out[y:stop, :, :3] = from_unit_float(color, image.dtype)
            if weight is not None:  # exactly unchanged outside the selection (no round trip through float)
                outside = weight[y:stop] == 0
                out[y:stop, :, :3][outside] = rgb[y:stop][outside]
        if alpha is not None:
            out[..., 3] = alpha
        return out

    def _default_segmenter(self) -> Any:
        """Segments for the later stages when the caller gave neither segments nor a segmenter: made once."""
        if self._segmenter is None:
            from chromaseg.core.segment import Segmenter

            self._segmenter = Segmenter.default()
        return self._segmenter


_WRAPPED: weakref.WeakKeyDictionary[torch.nn.Module, Colorizer] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=4)
def _load(path: str) -> Colorizer:
    return Colorizer(load_checkpoint(path), Path(path))


# --- the same calls for one-off use ---------------------------------------------------------------------------------


def colorize(image: Any, *, model: Colorizer | torch.nn.Module | str | os.PathLike | None = None,
             **options: Any) -> np.ndarray:
    """:meth:`Colorizer.colorize` with the colorizer ``model`` (a Colorizer, a network, a checkpoint path or None
    for the shipped weights), loaded once."""
    return Colorizer.of(model).colorize(image, **options)


def get_model(model: torch.nn.Module | str | os.PathLike | None = None) -> torch.nn.Module:
    """A ready network: the one given, a checkpoint path (loaded once) or, by default, the shipped weights."""
    return Colorizer.of(model).net

