"""Evaluation of the colorizer against two baselines, automatic and with simulated hints.

Every photo is reduced to a long side of 256 and turned gray (its L, exact in float); the colorizer then gets the
gray image plus an RGBA hint layer, exactly what an artist's layer would be. Hints are 6x6 patches carrying the
patch's true mean color at center-biased positions from a fixed seed (the protocol of Zhang et al. 2017), so every
method and every run sees the same hints. Baselines: gray (a* = b* = 0) and hint propagation without the network
(each pixel takes its nearest hint's color, then a guided filter on L snaps the regions to the image's edges).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from chromaseg.core import metrics
from chromaseg.core.color import lab_to_srgb, srgb_to_lab
from chromaseg.core.guided import guided_coefficients
from chromaseg.core.hints import HintSampling, hint_layer_pixels, simulate_hints

LONG_SIDE = 256
HINT_PATCH = 6
# The vibrancy rule (issue 12): the default is the least mean CIEDE2000 whose colorfulness reaches this share of the
# ground truth's (bench/bench_vibrancy.py; bench/bench_chroma_ceiling.py mutes the true colors to it).
VIVID_SHARE = 0.65
METRICS = ("psnr", "ssim", "ciede2000", "colorfulness", "cnr")
PIPELINE_STAGES = ("harmonize", "segment_pass", "confine_hints")  # colorize switches evaluate can score against plain


def load_eval_image(path: str | os.PathLike, long_side: int = LONG_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 sRGB with the long side reduced to ``long_side`` (never enlarged)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = min(1.0, long_side / max(im.size))
        if scale < 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC,
                           reducing_gap=2.0)
        return np.asarray(im)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 gray rendition with exactly the photo's L (a* = b* = 0)."""
    lab = srgb_to_lab(rgb)
    lab[..., 1:] = 0
    return lab_to_srgb(lab)


def simulated_hint_layer(rgb: np.ndarray, count: int, seed: int) -> np.ndarray:
    """(H, W, 4) float32 RGBA hint layer: ``count`` 6x6 patches of the true mean color (seeded positions)."""
    lab = torch.from_numpy(srgb_to_lab(rgb)).permute(2, 0, 1)[None]
    g = torch.Generator().manual_seed(seed)
    mean_lab, mask = simulate_hints(lab, torch.tensor([count]), HintSampling(), fixed_size=HINT_PATCH, generator=g)
    layer = np.zeros((*rgb.shape[:2], 4), np.float32)
    m = mask[0, 0].numpy() > 0
    layer[m, :3] = lab_to_srgb(mean_lab[0].permute(1, 2, 0).numpy()[m])
    layer[m, 3] = 1.0
    return layer


def propagate_hints(gray: np.ndarray, hints: np.ndarray, radius: int = 8, eps: float = 1e-3) -> np.ndarray:
    """Baseline without a network: nearest-hint ab, snapped to L's edges by a guided filter; float32 sRGB."""
    from scipy.ndimage import distance_transform_edt

    lab = srgb_to_lab(gray)
    mask, ab = hint_layer_pixels(hints)
    if not mask.any():
        return gray
    hinted = np.zeros((*mask.shape, 2), np.float32)
    hinted[mask] = ab
    _, (iy, ix) = distance_transform_edt(~mask, return_indices=True)
    nearest = hinted[iy, ix]
    guide = lab[..., 0] * np.float32(0.01)
    a, b = guided_coefficients(guide, nearest, radius, eps)
    lab[..., 1:] = a * guide[..., None] + b
    lab[mask, 1:] = ab
    return lab_to_srgb(lab)


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    return {"psnr": metrics.psnr(pred, gt), "ssim": metrics.ssim(pred, gt),
            "ciede2000": metrics.mean_ciede2000(pred, gt), "colorfulness": metrics.colorfulness(pred),
            "cnr": metrics.cnr(pred, gt)}


Method = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def evaluate(paths: Sequence[str | os.PathLike], hint_counts: Sequence[int] = (0, 1, 10, 100),
             model: Any = None, seed: int = 0, long_side: int = LONG_SIDE, vibrancy: float | None = None,
             progress: bool = True, stages: Sequence[str] = (), vibrancies: Sequence[float] = ()) -> dict[str, Any]:
    """Mean metrics per method and hint count over ``paths``; also the ground truth's colorfulness.

    Methods: ``model`` (colorize with the given or shipped colorizer), ``gray`` and ``propagation``. Hint seeds are
    derived from ``seed`` and the photo's index, so every method sees the same hints. ``vibrancy``: the model's
    vibrancy (default: the model's own); ``vibrancies`` adds a method ``model@V`` per value (a sweep that runs the
    photo's semantic features once). ``stages`` adds ``model+STAGE`` for each of the pipeline's later stages named
    (``harmonize``, ``segment_pass``): the same colorizer with that stage on, over the default segmenter's segments
    of the gray input.
    """
    from tqdm import tqdm

    from chromaseg.core.colorize import Colorizer

    colorizer = Colorizer.of(model)
    methods: dict[str, Method] = {
        "model": lambda gray, hints: colorizer.colorize(gray, hints=hints, vibrancy=vibrancy),
        "gray": lambda gray, hints: gray,
        "propagation": lambda gray, hints: gray if hints is None else propagate_hints(gray, hints),
    }
    for v in vibrancies:
        methods[f"model@{v:g}"] = lambda gray, hints, v=v: colorizer.colorize(gray, hints=hints, vibrancy=v)
    unknown = set(stages) - set(PIPELINE_STAGES)
    if unknown:
        raise ValueError(f"unknown pipeline stage(s) {sorted(unknown)}; choose from {PIPELINE_STAGES}")
    if stages:
        from chromaseg.core.segment import Segmenter

        segmenter = Segmenter.default()
        for stage in stages:
            methods[f"model+{stage}"] = lambda gray, hints, stage=stage: colorizer.colorize(
                gray, hints=hints, vibrancy=vibrancy, segmenter=segmenter, **{stage: True})
    sums = {m: {k: dict.fromkeys(METRICS, 0.0) for k in hint_counts} for m in methods}
    gt_colorfulness = 0.0
    for i, path in enumerate(tqdm(list(paths), desc="evaluating", unit="img", disable=not progress)):
        gt = load_eval_image(path, long_side)
        gray = gray_of(gt)
        gt_colorfulness += metrics.colorfulness(gt)
        for k in hint_counts:
            hints = simulated_hint_layer(gt, k, seed * 1_000_003 + i) if k else None
            for name, method in methods.items():
                for key, value in score(method(gray, hints), gt).items():
                    sums[name][k][key] += value
    n = max(len(paths), 1)
    return {
        "images": len(paths), "long_side": long_side, "seed": seed, "hint_patch": HINT_PATCH, "vibrancy": vibrancy,
        "gt_colorfulness": gt_colorfulness / n,
        "results": {m: {str(k): {key: v / n for key, v in per.items()} for k, per in by_k.items()}
                    for m, by_k in sums.items()},
    }


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table of an :func:`evaluate` report (one row per method and hint count)."""
    lines = ["| method | hints | PSNR (dB) | SSIM | mean CIEDE2000 | colorfulness | CNR |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for method, by_k in report["results"].items():
        for k, m in by_k.items():
            lines.append(f"| {method} | {k} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['ciede2000']:.2f} | "
                         f"{m['colorfulness']:.1f} | {m['cnr']:.2f} |")
    lines.append(f"\nGround truth colorfulness: {report['gt_colorfulness']:.1f} ({report['images']} photos, long side "
                 f"{report['long_side']}, {report['hint_patch']}x{report['hint_patch']} hint patches, "
                 f"seed {report['seed']}).")
    return "\n".join(lines)


def eval_paths(images: str | os.PathLike, split: str | os.PathLike | None = None,
               limit: int | None = None) -> list[Path]:
    """The photos to evaluate: those listed in ``split`` (relative to ``images``) or all under ``images``."""
    from chromaseg.core.classes import list_images
    from chromaseg.core.dataset import read_split

    paths = read_split(split, images) if split else list_images(images)
    return paths[:limit] if limit else paths
