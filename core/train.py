"""Training the CCC colorizer: class table from the training split, class-rebalanced loss, simulated hints.

One function, :func:`train`, runs the whole recipe and leaves in the output folder everything inference and review
need: ``colorizer.pt`` (self-describing), ``class_table.json``, the split lists, ``history.json`` and ``model-card.md``.
``last.pt`` (model + optimizer + generator state) lets an interrupted run resume exactly where it stopped.

The learning rate is the paper's Adam (1e-3, betas 0.5 / 0.999) with a cosine decay over the run (ours: short runs
gain most from it). The decay follows the larger of step progress and wall-time progress when a time budget is set,
so a CPU run cut by its budget still ends at the low learning rate.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from chromaseg.core.classes import (PAPER_THRESHOLD_FRACTION, ClassTable, class_weighted_cross_entropy,
                                    count_grid_classes, decode_annealed_mean, list_images)
from chromaseg.core.color import lab_to_srgb, srgb_to_lab
from chromaseg.core.dataset import CropBatches, build_cache, read_split, split_paths, write_split
from chromaseg.core.feature_cache import SemanticCrops, build_feature_cache
from chromaseg.core.hints import HintSampling, random_hints, simulate_hints
from chromaseg.core.model import (Colorizer, build_colorizer, checkpoint_dict, model_from_checkpoint, read_checkpoint,
                                  save_checkpoint)
from chromaseg.core.semantic import SemanticEncoder, fit_projection, load_deeplab
from chromaseg.core.weights import weights_dir

STATE_FILE = "last.pt"
MODEL_FILE = "colorizer.pt"
TABLE_FILE = "class_table.json"


@dataclass
class TrainConfig:
    """Settings of a training run (written into the checkpoint and the model card)."""

    images: str
    out: str
    arch: str = "ccc-mobile"
    width: int = 32
    steps: int = 20000
    batch: int = 32
    crop: int = 128
    cache_size: int = 144
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    lr_final_fraction: float = 0.05
    max_minutes: float | None = None
    val_fraction: float = 0.05
    val_images: int = 64
    threshold_fraction: float = PAPER_THRESHOLD_FRACTION
    upsilon: float = 0.5
    phi: float | None = None
    hints: HintSampling = field(default_factory=HintSampling)
    seed: int = 0
    eval_every: int = 250
    checkpoint_every: int = 250
    device: str = "auto"
    threads: int | None = None
    cache_dir: str | None = None
    semantic: bool = False  # fuse the frozen DeepLab branch (its weights must be in the weights directory)
    semantic_channels: int = 64  # the DeepLab features' channels after the fitted projection
    mirror: bool = True  # flip augmentation (with --semantic: encodes the mirror images too, twice the cache time)
    init: str | None = None  # start from this checkpoint's weights (fine-tuning: new optimizer and schedule)
    stage_minutes: float | None = None  # stop this invocation after so long (a campaign stage); the schedule runs on
    ema_decay: float = 0.999  # the shipped weights are this moving average of the trained ones
    progress: bool = True


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lab_batch(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,3,H,W) uint8 sRGB -> L (B,1,H,W) and ab (B,2,H,W), float32 on the same device."""
    lab = srgb_to_lab(rgb.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return lab[:, :1].contiguous(), lab[:, 1:].contiguous()


def class_targets(ab: torch.Tensor, table: ClassTable) -> torch.Tensor:
    """(B, ceil(H/4), ceil(W/4)) model classes of the ab averaged over each output cell (the paper's resized ab)."""
    small = F.avg_pool2d(ab, 4, ceil_mode=True)
    return table.encode(small[:, 0], small[:, 1])


def decode_to_rgb(logits: torch.Tensor, l: torch.Tensor, centers: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """Annealed-mean ab upsampled (bilinear) to L's size, composed with L: (B,3,H,W) float sRGB in [0, 1]."""
    ab = decode_annealed_mean(logits.float(), centers, temperature)
    ab = F.interpolate(ab, size=l.shape[-2:], mode="bilinear", align_corners=False)
    return lab_to_srgb(torch.cat([l, ab], dim=1).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def batch_psnr(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of [0, 1] images (B, C, H, W)."""
    mse = ((pred - gt) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return -10 * torch.log10(mse)


def learning_rate(cfg: TrainConfig, step: int, elapsed: float) -> float:
    progress = step / max(cfg.steps, 1)
    if cfg.max_minutes:
        progress = max(progress, elapsed / (60 * cfg.max_minutes))
    progress = min(progress, 1.0)
    low = cfg.lr * cfg.lr_final_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


class Validator:
    """Fixed validation crops and hint sets (0 and 10 hints, 6x6 patches), scored by loss and PSNR."""

    def __init__(self, rgb: torch.Tensor, semantic: torch.Tensor | None, table: ClassTable, device: torch.device,
                 upsilon: float, phi: float | None, seed: int) -> None:
        self.l, self.ab = lab_batch(rgb.to(device))
        self.semantic = semantic.to(device) if semantic is not None else None
        self.rgb = lab_to_srgb(torch.cat([self.l, self.ab], 1).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        self.target = class_targets(self.ab, table)
        g = torch.Generator().manual_seed(seed + 1)
        n = self.l.shape[0]
        self.hints = {k: simulate_hints(self.ab, torch.full((n,), k), fixed_size=6, generator=g) for k in (0, 10)}
        self.upsilon, self.phi = upsilon, phi

    @torch.no_grad()
    def __call__(self, model: Colorizer) -> dict[str, float]:
        was_training = model.training
        model.eval()
        out: dict[str, float] = {}
        for k, (hab, hmask) in self.hints.items():
            logits = torch.cat([model(self.l[i:i + 16], hab[i:i + 16], hmask[i:i + 16],
                                      semantic=None if self.semantic is None else self.semantic[i:i + 16])
                                for i in range(0, self.l.shape[0], 16)])
            if k == 0:
                out["val_loss"] = float(class_weighted_cross_entropy(logits.float(), self.target, self.upsilon,
                                                                     self.phi))
            pred = decode_to_rgb(logits, self.l, model.centers, 0.38)
            out[f"val_psnr_{k}"] = float(batch_psnr(pred, self.rgb).mean())
        model.train(was_training)
        return out


@dataclass
class RunData:
    """What a run trains and validates on: the split, the class table, and batch sources."""

    train_paths: list[Path]
    val_paths: list[Path]
    table: ClassTable
    sample: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor | None]]
    validation: tuple[torch.Tensor, torch.Tensor | None]
    encoder: SemanticEncoder | None


def _prepare_data(cfg: TrainConfig) -> RunData:
    out = Path(cfg.out)
    split_dir = out / "split"
    if (split_dir / "train.txt").exists():
        train_paths = read_split(split_dir / "train.txt", cfg.images)
        val_paths = read_split(split_dir / "val.txt", cfg.images)
    else:
        train_paths, val_paths = split_paths(list_images(cfg.images), cfg.images, cfg.val_fraction)
        write_split(split_dir, cfg.images, train_paths, val_paths)
    if not train_paths or not val_paths:
        raise ValueError(f"the split left {len(train_paths)} training and {len(val_paths)} validation photos")
    table_path = out / TABLE_FILE
    if table_path.exists():
        table = ClassTable.load(table_path)
    else:
        counts = count_grid_classes(train_paths, size=56, progress=cfg.progress)
        table = ClassTable.from_counts(counts, cfg.threshold_fraction,
                                       meta={"images": len(train_paths), "size": 56, "samples": int(counts.sum()),
                                             "source": "training split"})
        table.save(table_path)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / "cache"
    train_cache = build_cache(train_paths, cache_dir / f"train-{cfg.cache_size}.npy", cfg.cache_size, cfg.progress)
    val_cache = build_cache(val_paths, cache_dir / f"val-{cfg.cache_size}.npy", cfg.cache_size, cfg.progress)
    if not cfg.semantic:
        crops = CropBatches(train_cache, cfg.crop, flip=cfg.mirror)
        val_crops = CropBatches(val_cache, cfg.crop, flip=False)
        validation = (val_crops.take(torch.arange(min(cfg.val_images, len(val_crops)))), None)
        return RunData(train_paths, val_paths, table, lambda n, g: (crops.sample(n, g), None), validation, None)
    encoder = semantic_encoder(cfg, train_cache)

    def names(paths: list[Path]) -> list[str]:
        return [p.relative_to(cfg.images).as_posix() for p in paths]

    train_features = build_feature_cache(train_cache, names(train_paths), encoder, cache_dir, False, cfg.progress)
    mirrored = (build_feature_cache(train_cache, names(train_paths), encoder, cache_dir, True, cfg.progress)
                if cfg.mirror else None)
    val_features = build_feature_cache(val_cache, names(val_paths), encoder, cache_dir, False, cfg.progress)
    crops = SemanticCrops(train_cache, train_features, cfg.crop, mirrored)
    validation = SemanticCrops(val_cache, val_features, cfg.crop).center(cfg.val_images)
    return RunData(train_paths, val_paths, table, crops.sample, validation, encoder)


class WeightAverage:
    """An exponential moving average of the weights (BatchNorm statistics copied): the shipped model, so a stage
    that stops while the learning rate is still high ships smooth weights instead of the last noisy step's."""

    def __init__(self, model: Colorizer, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: Colorizer, step: int) -> None:
        keep = min(self.decay, (1 + step) / (10 + step))  # short memory at the start of a run
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.lerp_(theirs, 1 - keep)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)


def train(cfg: TrainConfig, resume: bool = True) -> dict[str, Any]:
    """Run (or resume) a training run; returns the final validation figures of the averaged weights."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = _prepare_data(cfg)
    table = data.table
    validator = Validator(*data.validation, table, device, cfg.upsilon, cfg.phi, cfg.seed)

    generator = torch.Generator().manual_seed(cfg.seed)
    state_path = out / STATE_FILE
    step, elapsed, history = 0, 0.0, []
    state = torch.load(state_path, map_location="cpu", weights_only=True) if resume and state_path.exists() else None
    if state is not None:
        colorizer = model_from_checkpoint(state["colorizer"])
    elif cfg.init:
        colorizer = _initial_weights(cfg, table)
    else:
        colorizer = build_colorizer(cfg.arch, table=table, width=cfg.width,
                                    semantic_channels=cfg.semantic_channels if cfg.semantic else 0)
    colorizer = colorizer.to(device, memory_format=torch.channels_last).train()
    average = WeightAverage(colorizer, cfg.ema_decay)
    optimizer = torch.optim.Adam(colorizer.parameters(), lr=cfg.lr, betas=cfg.betas)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        step, elapsed, history = int(state["step"]), float(state["elapsed"]), list(state["history"])
        if "average" in state:
            average.model.load_state_dict(model_from_checkpoint(state["average"]).state_dict())

    def save_state() -> None:
        tmp = state_path.with_suffix(".tmp")
        torch.save({"colorizer": checkpoint_dict(colorizer, {"train_config": _jsonable(cfg)}),
                    "average": checkpoint_dict(average.model), "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(), "step": step, "elapsed": elapsed, "history": history}, tmp)
        os.replace(tmp, state_path)

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    bar = tqdm(total=cfg.steps, initial=step, desc="training", unit="step", disable=not cfg.progress)
    running, start = [], time.monotonic() - elapsed
    stage_end = time.monotonic() + 60 * cfg.stage_minutes if cfg.stage_minutes else math.inf
    while step < cfg.steps and time.monotonic() < stage_end:
        elapsed = time.monotonic() - start
        if cfg.max_minutes and elapsed >= 60 * cfg.max_minutes:
            break
        lr = learning_rate(cfg, step, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        rgb, semantic = data.sample(cfg.batch, generator)
        l, ab = lab_batch(rgb.to(device))
        hint_ab, hint_mask = random_hints(ab, cfg.hints, generator)
        target = class_targets(ab, table)
        with autocast:
            logits = colorizer(l.contiguous(memory_format=torch.channels_last), hint_ab, hint_mask,
                               semantic=None if semantic is None else semantic.to(device))
        loss = class_weighted_cross_entropy(logits.float(), target, cfg.upsilon, cfg.phi)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        average.update(colorizer, step)
        running.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(running[-50:]):.3f}", lr=f"{lr:.1e}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            history.append({"step": step, "minutes": round((time.monotonic() - start) / 60, 2),
                            "train_loss": float(np.mean(running)), "lr": lr, **validator(average.model)})
            running = []
            bar.write(json.dumps(history[-1]))
        if step % cfg.checkpoint_every == 0:
            elapsed = time.monotonic() - start
            save_state()
    bar.close()
    elapsed = time.monotonic() - start
    if running:
        history.append({"step": step, "minutes": round(elapsed / 60, 2), "train_loss": float(np.mean(running)),
                        "lr": learning_rate(cfg, step, elapsed), **validator(average.model)})
    save_state()
    save_checkpoint(average.model, out / MODEL_FILE, extra={"train_config": _jsonable(cfg), "steps": step,
                                                            "resolution": inference_resolution(cfg)},
                    encoder=data.encoder)
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    write_model_card(out / "model-card.md", cfg, table, history, len(data.train_paths), len(data.val_paths), step,
                     elapsed, device)
    return history[-1] if history else {}


def inference_resolution(cfg: TrainConfig) -> int:
    """Long side at which inference shows photos to the network at the scale it was trained on: the cached short
    side, for a 4:3 photo (objects larger than in training were measured to cost fidelity)."""
    return round(cfg.cache_size * 4 / 3)


def _initial_weights(cfg: TrainConfig, table: ClassTable) -> Colorizer:
    """The model of ``cfg.init``, checked to predict the classes of this run's table. A colorizer trained without
    semantics may start a semantic run of the same architecture and width: its weights are taken as they are and
    the semantic fusion, a residual branch that starts at zero, is new (the model starts out exactly as it was)."""
    start = model_from_checkpoint(read_checkpoint(cfg.init))
    if start.table is None or not np.array_equal(start.table.kept, table.kept):
        raise ValueError(f"{cfg.init} predicts other color classes than {Path(cfg.out) / TABLE_FILE}; "
                         "copy its class table into the output folder first")
    channels = cfg.semantic_channels if cfg.semantic else 0
    if (start.arch, start.config.width) != (cfg.arch, cfg.width) or start.config.semantic_channels not in (0, channels):
        raise ValueError(f"{cfg.init} is a {start.arch} model of width {start.config.width} (semantic "
                         f"channels {start.config.semantic_channels}); this run asks for {cfg.arch} of width "
                         f"{cfg.width}{f' with {channels} semantic channels' if cfg.semantic else ''}")
    if start.config.semantic_channels == channels:
        return start.train()
    colorizer = build_colorizer(cfg.arch, table=table, width=cfg.width, semantic_channels=channels)
    missing, unexpected = colorizer.load_state_dict(start.state_dict(), strict=False)
    if unexpected or any(not k.startswith("semantic_fuse.") for k in missing):
        raise ValueError(f"{cfg.init} does not fit {cfg.arch}: missing {missing}, unexpected {unexpected}")
    colorizer.extra = dict(start.extra)
    return colorizer.train()


ENCODER_FILE = "semantic_encoder.pt"
PROJECTION_PHOTOS = 96  # training squares the projection (PCA) is fitted on, evenly spaced through the list


def semantic_encoder(cfg: TrainConfig, squares: np.ndarray) -> SemanticEncoder:
    """The run's frozen encoder: DeepLab from the weights directory plus a projection to ``cfg.semantic_channels``
    fitted once on training squares; saved in the run folder so a resumed run (and its cache) uses the very same."""
    path = Path(cfg.out) / ENCODER_FILE
    if path.exists():
        return SemanticEncoder.from_state(torch.load(path, map_location="cpu", weights_only=True))
    deeplab = load_deeplab()
    if deeplab is None:
        raise FileNotFoundError(f"semantic training needs the DeepLab IR in {weights_dir()} (CHROMASEG_WEIGHTS)")
    encoder = SemanticEncoder(deeplab, cfg.semantic_channels)
    picks = np.linspace(0, len(squares) - 1, min(PROJECTION_PHOTOS, len(squares))).round().astype(int)
    fit_projection(encoder, (lab_batch(torch.from_numpy(np.ascontiguousarray(squares[picks[i:i + 16]]))
                                       .permute(0, 3, 1, 2))[0] for i in range(0, len(picks), 16)))
    tmp = path.with_suffix(".tmp")
    torch.save(encoder.to_state(), tmp)
    os.replace(tmp, path)
    return SemanticEncoder.from_state(torch.load(path, map_location="cpu", weights_only=True))


def _jsonable(cfg: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(cfg)))


def write_model_card(path: Path, cfg: TrainConfig, table: ClassTable, history: list[dict], n_train: int,
                     n_val: int, steps: int, seconds: float, device: torch.device,
                     evaluation: str | None = None) -> None:
    """A Markdown model card: data, settings, the loss curve and the validation figures."""
    lines = [
        "# CCC colorizer: model card", "",
        "## Data",
        f"- Images: `{cfg.images}`: {n_train} training and {n_val} validation photos (split by hashing each file's "
        f"relative path, validation fraction {cfg.val_fraction}; lists in `split/`).",
        f"- Class table from the training split at 56x56: K = {table.num_classes} classes "
        f"(threshold fraction {table.threshold_fraction:.3g}).",
        f"- Cache: each photo resized to a {cfg.cache_size} px square (short side, center crop); "
        f"random {cfg.crop} px crops{' with horizontal flips' if cfg.mirror else ''}"
        f"{'; DeepLab features cached per photo (and per mirror image)' if cfg.semantic else ''}.", "",
        "## Settings",
        f"- Architecture `{cfg.arch}`, width {cfg.width}, semantic branch "
        f"{'DeepLabv3-MobileNetV2 (frozen)' if cfg.semantic else 'none'}; Adam lr {cfg.lr} betas {tuple(cfg.betas)}, "
        f"cosine decay to "
        f"{cfg.lr_final_fraction} of it; batch {cfg.batch}; upsilon {cfg.upsilon}, phi {cfg.phi or '1/K'}.",
        f"- Simulated hints: {asdict(cfg.hints)}.",
        f"- {steps} steps in {seconds / 60:.1f} minutes on {device.type} (seed {cfg.seed}).", "",
        "## Curve (validation: fixed center crops; PSNR of annealed-mean colors, T = 0.38)", "",
        "| step | minutes | train loss | val loss | val PSNR 0 hints | val PSNR 10 hints |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for h in history:
        lines.append(f"| {h['step']} | {h['minutes']} | {h['train_loss']:.3f} | {h['val_loss']:.3f} | "
                     f"{h['val_psnr_0']:.2f} | {h['val_psnr_10']:.2f} |")
    if evaluation:
        lines += ["", "## Evaluation", "", evaluation]
    path.write_text("\n".join(lines) + "\n")
