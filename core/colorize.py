"""Colorize a layer: predict chroma at the model's resolution, upsample it along the full-resolution L, compose.

The result keeps the input's L (within 0.5: where a predicted color does not exist at that lightness, its chroma is
reduced until it does, instead of letting sRGB clipping shift the lightness), so no luminance detail is lost or
blurred. The network sees the layer reduced to ``resolution`` on its long side; only the guided-filter coefficients
are upsampled, and the full-resolution work runs in bands of rows, so memory grows with the layer only by a few
float32 planes. Pixels the artist hinted take the hint's color; outside ``selection`` the layer is unchanged, with a
feathered edge inside it.
"""
from __future__ import annotations

import os
import sys
import types
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
from chromaseg.core.hint_propagation import propagate_residuals
from chromaseg.core.hints import hint_layer_pixels, reduce_hints
from chromaseg.core.model import load_checkpoint
from chromaseg.core.weights import COLORIZER_ASSET, shipped_asset

DEFAULT_RESOLUTION = 384  # long side the network sees, unless its checkpoint records its own
TILE_ROWS = 512  # rows per band of the full-resolution passes
GUIDE_RADIUS = 4  # guided filter radius, in model-resolution pixels
GUIDE_EPS = 1e-3  # guided filter regularization (L scaled to [0, 1])
L_TOLERANCE = 0.2  # L drift allowed by gamut fitting before output quantization
GAMUT_STEPS = 7  # bisection steps of the chroma scale (1/128 precision)
# Vibrancy of a checkpoint that recorded no measured default: the paper's decoding, all the rebalancing kept.
DEFAULT_VIBRANCY = 1.0


@lru_cache(maxsize=4)
def _load_cached(path: str) -> torch.nn.Module:
    return load_checkpoint(path)


def default_model_path() -> Path:
    """The shipped colorizer (self-contained: a semantic colorizer carries its own encoder)."""
    return shipped_asset(COLORIZER_ASSET)


def get_model(model: torch.nn.Module | str | os.PathLike | None = None) -> torch.nn.Module:
    """A ready model: the one given, a checkpoint path (loaded once, cached) or, by default, the shipped weights."""
    if isinstance(model, torch.nn.Module):
        return model.eval()
    path = Path(model) if model is not None else default_model_path()
    return _load_cached(str(path.resolve()))


def _checkpoint_extra(model: torch.nn.Module) -> dict:
    """The metadata a model's checkpoint recorded (empty for a model built in memory)."""
    colorizer = getattr(model, "colorizer", model)  # a SemanticColorizer wraps the trained colorizer
    return getattr(colorizer, "extra", {})


def model_resolution(model: torch.nn.Module) -> int:
    """The long side a model works at: recorded in its checkpoint by training, else DEFAULT_RESOLUTION."""
    return int(_checkpoint_extra(model).get("resolution", DEFAULT_RESOLUTION))


def model_temperature(model: torch.nn.Module) -> float:
    """The annealed-mean temperature a model decodes with by default: the one tuned for it on validation photos and
    recorded in its checkpoint, else the paper's DEFAULT_TEMPERATURE."""
    return float(_checkpoint_extra(model).get("temperature", DEFAULT_TEMPERATURE))


def model_vibrancy(model: torch.nn.Module) -> float:
    """The vibrancy a model decodes with by default: the one chosen for it on validation photos
    (bench/bench_vibrancy.py) and recorded in its checkpoint, else DEFAULT_VIBRANCY."""
    return float(_checkpoint_extra(model).get("vibrancy", DEFAULT_VIBRANCY))


@dataclass(frozen=True)
class Decoding:
    """How class probabilities become a*, b*: keep ``vibrancy`` of the class rebalancing (Eq. 15's weights as
    ``log_weights``), then the annealed mean at ``temperature``."""

    temperature: float
    vibrancy: float
    log_weights: torch.Tensor

    @classmethod
    def for_model(cls, model: torch.nn.Module, vibrancy: float | None = None) -> Decoding:
        """The model's own decoding; ``vibrancy`` (0..1, higher = bolder) overrides its default."""
        vibrancy = check_vibrancy(model_vibrancy(model) if vibrancy is None else vibrancy)
        if model.table is None:  # a model without its class table (built in memory): nothing to undo
            return cls(model_temperature(model), vibrancy, torch.zeros(model.centers.shape[0]))
        loss = _checkpoint_extra(model).get("train_config", {})
        weights = rebalance_log_weights(model.table.class_counts, loss.get("upsilon", 0.5), loss.get("phi"))
        return cls(model_temperature(model), vibrancy, weights)

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


def feather_weights(selection: Any, shape: tuple[int, int], feather: float) -> np.ndarray:
    """(H, W) float32 blend weight in [0, 1]: 0 outside the selection, ramping up to the selection's own value over
    ``feather`` pixels inside its edge (distance transform), so outside stays exactly unchanged."""
    sel = np.asarray(selection)
    if sel.shape != shape:
        raise ValueError(f"selection must have shape {shape}; got {sel.shape}")
    if sel.dtype == bool:
        level = sel.astype(np.float32)
    elif sel.dtype == np.uint8:
        level = sel.astype(np.float32) * np.float32(1 / 255)
    else:
        raise TypeError(f"selection must be uint8 or bool; got {sel.dtype}")
    inside = (sel > 0).astype(np.uint8)
    if feather <= 0 or inside.all():
        return level
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)  # distance to the nearest unselected pixel
    return np.minimum(dist * np.float32(1 / feather), 1.0, out=dist) * level


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
               decoding: Decoding) -> np.ndarray:
    """(h, w, 2) float32 decoded a*, b* for a model-resolution L (h, w), bilinearly brought to (h, w)."""
    device = next(model.parameters()).device
    l = torch.from_numpy(np.ascontiguousarray(l_small, np.float32))[None, None].to(device)
    if hint_ab is None:
        logits = model(l)
    else:
        ab = torch.from_numpy(hint_ab)[None].to(device)
        mask = torch.from_numpy(hint_mask.astype(np.float32))[None, None].to(device)
        logits = model(l, ab, mask)
    ab = decoding(logits, model.centers)
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
                   decoding: Decoding) -> np.ndarray:
    """(H, W, 2) a*, b* for a full-resolution L (H, W): the network at ``resolution`` on the long side, then only
    the guided-filter coefficients are upsampled along the full-resolution L, in bands of rows."""
    big_h, big_w = l_full.shape
    h, w = model_size(big_h, big_w, resolution)
    l_small = cv2.resize(l_full, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != (big_h, big_w) else l_full
    hint_ab = hint_mask = None
    if hints is not None and hints.mask.any():
        hint_ab, hint_mask = reduce_hints(hints.mask, hints.ab, size=(h, w))
    ab_small = predict_ab(net, l_small, hint_ab, hint_mask, decoding)
    if hint_mask is not None:
        ab_small = propagate_residuals(l_small, ab_small, hint_mask, hint_ab)
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


def colorize(image: Any, *, hints: Any = None, selection: Any = None, vibrancy: float | None = None,
             harmonize: bool = False, segments: Any = None, segment_pass: bool = False, confine_hints: bool = False,
             segmenter: Any = None, model: torch.nn.Module | str | os.PathLike | None = None,
             resolution: int | None = None, feather: float | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> np.ndarray:
    """Colorize an sRGB layer (HxW gray, HxWx3 or HxWx4; uint8, uint16 or float32 in [0, 1]).

    Returns the same dtype, height, width and alpha; a 2-D gray layer comes back as HxWx3 (color needs three
    channels). Only a*, b* change. ``hints``: HxWx4 RGBA hint layer (alpha > 0 = hint); each hint's correction
    spreads over its region along L (:mod:`chromaseg.core.hint_propagation`). ``vibrancy`` (0..1, higher =
    bolder): how much of the class rebalancing the network learned is kept when decoding (default: the model's
    measured one, see :func:`model_vibrancy`). The three-stage pipeline (seed 000) over ``segments`` (an HxW label
    map, -1 = none, or a list of HxW masks; computed by ``segmenter``, default ``Segmenter.default()``, when a stage
    needs them and none are given): ``segment_pass`` re-predicts each large segment on its own crop and fuses it
    back with a feathered edge; ``confine_hints`` lets a hint color only its own segment; ``harmonize`` runs CCC
    Algorithm 1 over the segments (hinted pixels are protected). ``selection``: HxW uint8 (or bool) mask;
    ``feather``: width of its soft inner edge in pixels (default 0.4 % of the long side, at least 1).
    ``resolution``: long side the network sees (default: the model's own, see :func:`model_resolution`).
    ``progress(stage, done, total)`` is called between stages and crops.
    """
    from chromaseg.core.harmonize import harmonize as harmonize_ab
    from chromaseg.core.segment_pass import confine_to_hinted_segments, refine_segments

    image = np.asarray(image)
    rgb, alpha = _as_rgb(image)
    to_unit_float(rgb[:1, :1])  # dtype check before any work
    big_h, big_w = rgb.shape[:2]
    if hints is not None and np.shape(hints)[:2] != (big_h, big_w):
        raise ValueError(f"the hint layer must be {big_h}x{big_w}; got {np.shape(hints)}")
    report = progress or (lambda stage, done, total: None)
    net = get_model(model)
    decoding = Decoding.for_model(net, vibrancy)
    res = resolution or model_resolution(net)

    l_full = np.empty((big_h, big_w), np.float32)
    for y in range(0, big_h, TILE_ROWS):
        l_full[y:y + TILE_ROWS] = srgb_to_lab(rgb[y:y + TILE_ROWS])[..., 0]
    hint_px = HintPixels(*hint_layer_pixels(hints)) if hints is not None else None
    has_hints = hint_px is not None and bool(hint_px.mask.any())

    report("colorize", 0, 1)
    ab = predict_chroma(net, l_full, hint_px, res, decoding)
    report("colorize", 1, 1)
    labels = None
    if harmonize or segment_pass or (confine_hints and has_hints):
        if segments is None:
            report("segment", 0, 1)
            labels = _auto_segments(segmenter, image)
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
            return predict_chroma(net, l_full[ys, xs], region_hints, res, decoding)

        refine_segments(ab, labels, predict_region, res, lambda done, total: report("segment pass", done, total))
    if has_hints:
        ab[hint_px.mask] = hint_px.ab
    if harmonize:
        report("harmonize", 0, 1)
        ab = harmonize_ab(ab, labels, protect=hint_px.mask if has_hints else None)
        report("harmonize", 1, 1)

    weight = None
    if selection is not None:
        feather = max(1.0, 0.004 * max(big_h, big_w)) if feather is None else feather
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


def _auto_segments(segmenter: Any, image: np.ndarray) -> np.ndarray:
    """Segments for the pipeline's later stages when the caller gave none."""
    if segmenter is None:
        segmenter = _default_segmenter()
    return segmenter.auto(image)


@lru_cache(maxsize=1)
def _default_segmenter() -> Any:
    from chromaseg.core.segment import Segmenter

    return Segmenter.default()


class _CallableModule(types.ModuleType):
    """Makes ``from chromaseg.core import colorize; colorize(image)`` work as the issue's API spells it, while the
    module stays importable as a module."""

    def __call__(self, image: Any, **options: Any) -> np.ndarray:
        return colorize(image, **options)


sys.modules[__name__].__class__ = _CallableModule
