"""Training: split, cache, batches, and a tiny end-to-end run with checkpoints, resume and the model card."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from chromaseg.core.classes import ClassTable
from chromaseg.core.dataset import CropBatches, build_cache, read_split, split_paths, write_split
from chromaseg.core.model import load_checkpoint
from chromaseg.core.train import TrainConfig, Validator, class_targets, learning_rate, train


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    """Twenty small synthetic color photos in two subfolders (smooth gradients plus colored blobs)."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:52] / 40.0
    for i in range(20):
        base = rng.uniform(0, 255, 3)
        img = np.stack([base[c] * (0.5 + 0.5 * np.sin(3 * xx + c + i) * yy) for c in range(3)], -1)
        img[10:20, 15:30] = rng.uniform(0, 255, 3)
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(sub / f"p{i:02d}.png")
    return root


def test_split_is_deterministic_disjoint_and_order_free(photo_dir, tmp_path) -> None:
    paths = sorted(photo_dir.rglob("*.png"))
    train_a, val_a = split_paths(paths, photo_dir, 0.3)
    train_b, val_b = split_paths(paths[::-1], photo_dir, 0.3)
    assert sorted(train_a) == sorted(train_b) and sorted(val_a) == sorted(val_b)
    assert not set(train_a) & set(val_a) and len(train_a) + len(val_a) == len(paths)
    assert val_a  # 30 % of 20 photos
    write_split(tmp_path, photo_dir, train_a, val_a)
    assert read_split(tmp_path / "val.txt", photo_dir) == val_a
    with pytest.raises(ValueError):
        split_paths(paths, photo_dir, 1.5)


def test_cache_is_built_once_and_crops_are_seeded(photo_dir, tmp_path) -> None:
    paths = sorted(photo_dir.rglob("*.png"))[:5]
    cache = build_cache(paths, tmp_path / "c.npy", size=32, progress=False)
    assert cache.shape == (5, 32, 32, 3) and cache.dtype == np.uint8
    mtime = (tmp_path / "c.npy").stat().st_mtime_ns
    again = build_cache(paths, tmp_path / "c.npy", size=32, progress=False)
    assert (tmp_path / "c.npy").stat().st_mtime_ns == mtime and np.array_equal(cache, again)
    crops = CropBatches(cache, 24)
    a = crops.sample(4, torch.Generator().manual_seed(3))
    b = crops.sample(4, torch.Generator().manual_seed(3))
    assert a.shape == (4, 3, 24, 24) and a.dtype == torch.uint8 and torch.equal(a, b)
    center = crops.take(torch.tensor([0]))
    assert torch.equal(center[0], torch.from_numpy(np.ascontiguousarray(cache[0, 4:28, 4:28])).permute(2, 0, 1))
    with pytest.raises(ValueError):
        CropBatches(cache, 40)


def test_class_targets_and_lr_schedule() -> None:
    counts = np.zeros(400, np.int64)
    counts[[210, 211, 250]] = 10
    table = ClassTable.from_counts(counts, 0.01)
    ab = torch.zeros(2, 2, 9, 8)
    ab[:, 0] = 12.0  # a* = 12, b* = 0 -> grid class 211
    target = class_targets(ab, table)
    assert target.shape == (2, 3, 2) and (target == 1).all()
    cfg = TrainConfig(images="x", out="y", steps=100, lr=1e-3, lr_final_fraction=0.1)
    assert learning_rate(cfg, 0, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 100, 0) == pytest.approx(1e-4)
    timed = replace(cfg, max_minutes=1.0)
    assert learning_rate(timed, 0, 60.0) == pytest.approx(1e-4)  # the time budget also ends the decay


def _tiny_config(photo_dir: Path, out: Path, steps: int) -> TrainConfig:
    return TrainConfig(images=str(photo_dir), out=str(out), arch="ccc-mobile", width=8, steps=steps, batch=4,
                       crop=24, cache_size=32, val_fraction=0.25, val_images=4, threshold_fraction=1e-3,
                       eval_every=2, checkpoint_every=2, threads=1, progress=False)


def test_tiny_run_writes_everything_and_resumes_exactly(photo_dir, tmp_path, monkeypatch) -> None:
    straight = tmp_path / "straight"
    final = train(_tiny_config(photo_dir, straight, 4))
    for name in ("colorizer.pt", "class_table.json", "last.pt", "history.json", "model-card.md",
                 "split/train.txt", "split/val.txt"):
        assert (straight / name).exists(), name
    assert np.isfinite(final["val_loss"]) and final["val_psnr_10"] > 0
    history = json.loads((straight / "history.json").read_text())
    assert [h["step"] for h in history] == [2, 4]
    card = (straight / "model-card.md").read_text()
    assert "K = " in card and "| 4 |" in card
    table = ClassTable.load(straight / "class_table.json")
    model = load_checkpoint(straight / "colorizer.pt")
    assert model.config.num_classes == table.num_classes
    assert model.extra["resolution"] == 43 and model.extra["steps"] == 4  # a 32 px cache -> 43 px long side
    val = set((straight / "split/val.txt").read_text().split())
    assert table.meta["images"] == 20 - len(val)  # the class table saw the training split only

    # Interrupt a second run right after its step-2 checkpoint (at the step-4 validation), then resume it.
    resumed = tmp_path / "resumed"
    calls = []
    real_call = Validator.__call__

    def interrupt(self, model):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_call(self, model)

    monkeypatch.setattr(Validator, "__call__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_config(photo_dir, resumed, 4))
    monkeypatch.setattr(Validator, "__call__", real_call)
    assert not (resumed / "colorizer.pt").exists()
    train(_tiny_config(photo_dir, resumed, 4))  # picks up last.pt at step 2
    a = load_checkpoint(straight / "colorizer.pt").state_dict()
    b = load_checkpoint(resumed / "colorizer.pt").state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_cli_train_parses_and_runs(photo_dir, tmp_path) -> None:
    from chromaseg.cli import train as cli_train

    parser = argparse.ArgumentParser()
    cli_train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--images", str(photo_dir), "--out", str(tmp_path / "o"), "--width", "8",
                              "--steps", "1", "--batch", "2", "--crop", "16", "--cache-size", "24",
                              "--val-fraction", "0.3", "--threads", "1"])
    assert args.run(args) == 0
    assert (tmp_path / "o" / "colorizer.pt").exists()


def test_cli_dense_hints_parse_and_a_bad_share_is_one_clear_line(capsys) -> None:
    from chromaseg.cli import train as cli_train

    parser = argparse.ArgumentParser(prog="chromaseg")
    cli_train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--images", "x", "--out", "y", "--dense-hints", "0.3"])
    assert args.dense_hints == 0.3
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["train", "--images", "x", "--out", "y", "--dense-hints", "1.5"])
    assert exit_info.value.code == 2
    assert "--dense-hints: dense_share is a share of the hinted samples, 0..1; got 1.5" in capsys.readouterr().err


def test_semantic_training_caches_features_and_ships_its_encoder(photo_dir, tmp_path, monkeypatch) -> None:
    import chromaseg.core.train as train_module
    from chromaseg.core.semantic import DeepLabV3MobileNetV2, SemanticColorizer

    monkeypatch.setattr(train_module, "load_deeplab", lambda folder=None: DeepLabV3MobileNetV2())
    out = tmp_path / "sem"
    cfg = replace(_tiny_config(photo_dir, out, 2), semantic=True, semantic_channels=8, eval_every=1)
    train(cfg)
    model = load_checkpoint(out / "colorizer.pt")
    assert isinstance(model, SemanticColorizer) and model.encoder.out_channels == 8
    assert model.colorizer.config.semantic_channels == 8
    caches = sorted((out / "cache").glob("semantic-*.npy"))
    assert len(caches) == 3  # training photos, their mirror images, validation photos
    n_train, n_val = (len((out / f"split/{s}.txt").read_text().split()) for s in ("train", "val"))
    assert sorted(np.load(c, mmap_mode="r").shape[0] for c in caches) == sorted([n_train, n_train, n_val])
    stamps = [c.stat().st_mtime_ns for c in caches]
    train(replace(cfg, steps=3))  # resumes: same encoder, same caches, not rebuilt
    assert [c.stat().st_mtime_ns for c in caches] == stamps
    monkeypatch.setattr(train_module, "load_deeplab", lambda folder=None: None)
    with pytest.raises(FileNotFoundError):
        train(replace(cfg, out=str(tmp_path / "sem2")))


def test_fine_tuning_starts_from_a_checkpoint_and_checks_its_classes(photo_dir, tmp_path) -> None:
    first = tmp_path / "first"
    train(_tiny_config(photo_dir, first, 2))
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / "class_table.json").write_bytes((first / "class_table.json").read_bytes())
    (tuned / "split").mkdir()
    for name in ("train.txt", "val.txt"):
        (tuned / "split" / name).write_bytes((first / "split" / name).read_bytes())
    cfg = replace(_tiny_config(photo_dir, tuned, 0), init=str(first / "colorizer.pt"))
    train(cfg)  # zero steps: the saved model is exactly the initial one
    a = load_checkpoint(first / "colorizer.pt").state_dict()
    b = load_checkpoint(tuned / "colorizer.pt").state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)

    other = tmp_path / "other"
    other.mkdir()
    table = ClassTable.load(first / "class_table.json")
    fewer = ClassTable.from_counts(table.counts, threshold_fraction=10 * table.threshold_fraction)
    assert fewer.num_classes < table.num_classes
    fewer.save(other / "class_table.json")
    with pytest.raises(ValueError, match="other color classes"):
        train(replace(_tiny_config(photo_dir, other, 1), init=str(first / "colorizer.pt")))
    with pytest.raises(ValueError, match="width 8"):  # the card would otherwise report a width the model lacks
        train(replace(_tiny_config(photo_dir, tuned, 1), width=16, init=str(first / "colorizer.pt")), resume=False)


def test_a_semantic_run_can_start_from_a_colorizer_trained_without_semantics(photo_dir, tmp_path,
                                                                            monkeypatch) -> None:
    import chromaseg.core.train as train_module
    from chromaseg.core.semantic import DeepLabV3MobileNetV2

    first = tmp_path / "plain"
    train(_tiny_config(photo_dir, first, 2))
    monkeypatch.setattr(train_module, "load_deeplab", lambda folder=None: DeepLabV3MobileNetV2())
    sem = tmp_path / "sem"
    sem.mkdir()
    (sem / "class_table.json").write_bytes((first / "class_table.json").read_bytes())
    cfg = replace(_tiny_config(photo_dir, sem, 0), semantic=True, semantic_channels=8,
                  init=str(first / "colorizer.pt"))
    train(cfg)  # zero steps: the fusion's residual starts at zero, so the model predicts exactly as before
    plain, fused = load_checkpoint(first / "colorizer.pt"), load_checkpoint(sem / "colorizer.pt")
    l = torch.rand(2, 1, 24, 32) * 100
    with torch.no_grad():
        torch.testing.assert_close(fused(l), plain(l))
    with pytest.raises(ValueError, match="width 8"):
        train(replace(cfg, width=16, out=str(tmp_path / "other")), resume=False)
