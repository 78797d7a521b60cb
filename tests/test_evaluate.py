"""Evaluation: simulated hint layers, the baselines, the report, and the eval / colorize command lines."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromaseg.core.color import srgb_to_lab
from chromaseg.core.evaluate import (evaluate, format_table, gray_of, load_eval_image, propagate_hints,
                                     simulated_hint_layer)


def blocks(h: int = 48, w: int = 64) -> np.ndarray:
    """Four flat colored quadrants: easy for hint propagation."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (200, 40, 40)
    img[: h // 2, w // 2:] = (40, 160, 60)
    img[h // 2:, : w // 2] = (50, 70, 200)
    img[h // 2:, w // 2:] = (220, 200, 60)
    return img


@pytest.fixture(scope="module")
def checkpoint(tiny_colorizer_checkpoint: Path) -> Path:
    return tiny_colorizer_checkpoint


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    Image.fromarray(blocks()).save(root / "blocks.png")
    Image.fromarray(np.repeat(np.repeat(blocks(24, 40), 10, 0), 10, 1)).save(root / "big.png")  # 240x400
    return root


def test_loading_reduces_the_long_side(photos) -> None:
    assert load_eval_image(photos / "big.png").shape == (154, 256, 3)
    assert load_eval_image(photos / "blocks.png").shape == (48, 64, 3)


def test_gray_keeps_l_and_drops_chroma() -> None:
    img = blocks()
    lab, glab = srgb_to_lab(img), srgb_to_lab(gray_of(img))
    np.testing.assert_allclose(glab[..., 0], lab[..., 0], atol=0.01)
    assert np.abs(glab[..., 1:]).max() < 0.01


def test_simulated_hint_layer_is_seeded_and_carries_true_mean_colors() -> None:
    img = blocks()
    layer = simulated_hint_layer(img, 10, seed=3)
    assert layer.shape == (48, 64, 4) and layer.dtype == np.float32
    np.testing.assert_array_equal(layer, simulated_hint_layer(img, 10, seed=3))
    hinted = layer[..., 3] > 0
    assert 36 <= hinted.sum() <= 360
    inside = hinted.copy()
    inside[18:30] = False  # patches straddling a quadrant border carry a mixed mean
    inside[:, 26:38] = False
    err = np.abs(srgb_to_lab(layer[..., :3])[inside] - srgb_to_lab(img)[inside])
    assert err[:, 1:].max() < 0.1


def test_propagation_beats_gray_with_hints() -> None:
    from chromaseg.core.metrics import psnr

    img = blocks()
    gray = gray_of(img)
    assert propagate_hints(gray, np.zeros((48, 64, 4), np.float32)) is gray
    hints = np.zeros((48, 64, 4), np.float32)
    for y, x in ((5, 5), (5, 50), (40, 5), (40, 50)):
        hints[y:y + 3, x:x + 3, :3] = img[y, x] / 255
        hints[y:y + 3, x:x + 3, 3] = 1
    assert psnr(propagate_hints(gray, hints), img) > psnr(gray, img) + 5


def test_evaluate_report(photos, checkpoint) -> None:
    report = evaluate(sorted(photos.glob("*.png")), (0, 3), model=checkpoint, progress=False)
    assert report["images"] == 2 and set(report["results"]) == {"model", "gray", "propagation"}
    gray0, prop3 = report["results"]["gray"]["0"], report["results"]["propagation"]["3"]
    assert gray0["colorfulness"] < 1e-3 and report["gt_colorfulness"] > 20
    assert prop3["psnr"] > gray0["psnr"]
    assert report["results"]["propagation"]["0"] == gray0
    assert "| model | 3 |" in format_table(report)


def _run_cli(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


def test_eval_cli_writes_json(photos, checkpoint, tmp_path, capsys) -> None:
    from chromaseg.cli import eval as cli_eval

    out = tmp_path / "r.json"
    assert _run_cli(cli_eval, ["eval", "--images", str(photos), "--hints", "0,1", "--model", str(checkpoint),
                               "--limit", "1", "--json", str(out), "--harmonize", "--segment-pass",
                               "--confine-hints"]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 1 and set(report["results"]["model"]) == {"0", "1"}
    assert set(report["results"]["model+harmonize"]) == set(report["results"]["model+segment_pass"]) == {"0", "1"}
    # Without hints a confined colorization is the plain one; with one it is scored on its own.
    confined = report["results"]["model+confine_hints"]
    assert confined["0"] == report["results"]["model"]["0"] and set(confined) == {"0", "1"}
    assert "| gray | 0 |" in capsys.readouterr().out
    assert report["long_side"] == 256  # the protocol's, unless asked otherwise
    assert _run_cli(cli_eval, ["eval", "--images", str(photos), "--hints", "0", "--model", str(checkpoint),
                               "--json", str(out), "--long-side", "400"]) == 0
    assert json.loads(out.read_text())["long_side"] == 400  # big.png scored at its own 240x400


def test_colorize_cli_handles_folders_gray16_and_hints(photos, checkpoint, tmp_path) -> None:
    from chromaseg.cli import colorize as cli_colorize

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(blocks()[..., 0]).save(src / "gray8.png")
    Image.fromarray((blocks()[..., 1].astype(np.uint16) * 257)).save(src / "gray16.png")
    hints = np.zeros((48, 64, 4), np.uint8)
    hints[10:14, 10:14] = (200, 40, 40, 255)
    Image.fromarray(hints).save(tmp_path / "hints.png")
    out = tmp_path / "out"
    assert _run_cli(cli_colorize, ["colorize", str(src), "-o", str(out), "--hints", str(tmp_path / "hints.png"),
                                   "--vibrancy", "0.5", "--model", str(checkpoint)]) == 0
    with Image.open(out / "gray8.png") as im:
        assert im.mode == "RGB" and im.size == (64, 48)
    import cv2

    sixteen = cv2.imread(str(out / "gray16.png"), cv2.IMREAD_UNCHANGED)
    assert sixteen.dtype == np.uint16 and sixteen.shape == (48, 64, 3)
