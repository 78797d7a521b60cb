"""Published colorizers through the project pipeline (`PublishedColorizer`): their preprocessing by hand, colorize
end to end (L kept, hints), loading by registry name or by path and architecture, the CLI and the daemon's
`colorizer` param. Random-init files in the upstream layouts (tests/test_published_colorizers.py builds them)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_published_colorizers import random_upstream_state  # noqa: E402

from chromaseg.bridge.contract import ColorizeParams  # noqa: E402
from chromaseg.cli.main import main  # noqa: E402
from chromaseg.core.color import srgb_to_lab, to_unit_float  # noqa: E402
from chromaseg.core.colorize import Colorizer, colorize  # noqa: E402
from chromaseg.core.published import ddcolor  # noqa: E402
from chromaseg.core.published.colorizer import (NotInstalled, PublishedColorizer, UnknownColorizer,  # noqa: E402
                                                installed_colorizers, load_colorizer)
from chromaseg.core.published.upstream_format import CheckpointError  # noqa: E402

SIGGRAPH17_FILE = "siggraph17-df00044c.pth"  # the registry's file name (its sha256 prefix is overridden below)
DDCOLOR_TINY_FILE = "ddcolor_paper_tiny.pth"
GRAY_128_L = 53.585  # sRGB 128: Y = ((128/255 + 0.055) / 1.055)^2.4 = 0.215861, L = 116 Y^(1/3) - 16 = 53.585


def siggraph17_registry(root: Path) -> None:
    """Random weights under the registry's siggraph17 name: registry.json drops the published hash."""
    state = {k: v for k, v in random_upstream_state("siggraph17").items() if not k.endswith("num_batches_tracked")}
    torch.save(state, root / SIGGRAPH17_FILE)
    entry = {"name": "siggraph17", "kind": "colorizer", "model_type": "siggraph17",
             "files": [{"path": SIGGRAPH17_FILE, "published_arch": "siggraph17"}]}
    (root / "registry.json").write_text(json.dumps({"entries": [entry]}))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights directory holding siggraph17 (random) and nothing else."""
    path = tmp_path_factory.mktemp("published-weights")
    siggraph17_registry(path)
    return path


@pytest.fixture(scope="module")
def siggraph17(root: Path) -> PublishedColorizer:
    return load_colorizer("siggraph17", root=root)


@pytest.fixture(scope="module")
def ddcolor_tiny(tmp_path_factory: pytest.TempPathFactory) -> PublishedColorizer:
    """Random DDColor-T. Its ab runs to 1e5 (nothing trained its scale), which gamut fitting would turn gray: a hook
    brings the network's output to a photo's range (|ab| <= 40) so the pipeline's stages show."""
    path = tmp_path_factory.mktemp("ddcolor") / DDCOLOR_TINY_FILE
    torch.save({"params": random_upstream_state("ddcolor-tiny")}, path)
    colorizer = load_colorizer(path, "ddcolor-tiny")
    colorizer.net.net.register_forward_hook(lambda _m, _args, ab: ab * (40 / ab.abs().amax()))
    return colorizer


def layer(h: int, w: int, seed: int = 0) -> np.ndarray:
    """An RGBA uint8 layer: a smooth gray ramp with texture (gray: a colorizer's real input)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    gray = np.clip(40 + 150 * x / w + 30 * np.sin(y / 5) + rng.normal(0, 3, (h, w)), 0, 255).astype(np.uint8)
    alpha = rng.integers(1, 256, (h, w), dtype=np.uint8)
    return np.dstack([gray, gray, gray, alpha])


def hint_layer(h: int, w: int, box: tuple[slice, slice], rgb: tuple[int, int, int]) -> np.ndarray:
    hints = np.zeros((h, w, 4), np.uint8)
    hints[box] = (*rgb, 255)
    return hints


def lab_of(image: np.ndarray) -> np.ndarray:
    return srgb_to_lab(to_unit_float(image[..., :3]))


def inputs_of(module: torch.nn.Module, run: Callable[[], Any]) -> tuple[list[torch.Tensor], Any]:
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    try:
        return seen, run()
    finally:
        handle.remove()


# --- SIGGRAPH17 ---------------------------------------------------------------------------------------------------


def test_siggraph17_sees_its_upstream_normalization_at_256(siggraph17: PublishedColorizer) -> None:
    """A flat sRGB-128 layer (L 53.585) with one hinted block of ab (22, -55), through the whole pipeline."""
    image = np.full((128, 192, 3), 128, np.uint8)
    hints = np.zeros((128, 192, 4), np.uint8)
    hints[60:68, 96:104, 3] = 255
    seen, _ = inputs_of(siggraph17.net.net.model1, lambda: _colorize_with_hint_ab(siggraph17, image, hints,
                                                                                     (22.0, -55.0)))
    (x,) = seen
    assert x.shape == (1, 4, 256, 256)  # the square working size, whatever the layer's aspect
    # (L - 50) / 100 everywhere; 22 / 110 and -55 / 110 and mask 1 at the hint; 0, 0, 0 elsewhere
    assert torch.allclose(x[0, 0], torch.full((256, 256), (GRAY_128_L - 50) / 100), atol=2e-4)
    assert torch.allclose(x[0, 1:, 128, 130], torch.tensor([0.2, -0.5, 1.0]), atol=1e-5)
    assert torch.equal(x[0, 1:, 10, 10], torch.zeros(3))
    hinted = x[0, 3] > 0  # rows 60..67 of 128 -> 120..135 of 256; columns 96..103 of 192 -> 128..138 of 256
    rows, cols = np.nonzero(hinted.numpy())
    assert (rows.min(), rows.max()) == (120, 135) and 127 <= cols.min() <= 128 and 137 <= cols.max() <= 139


def _colorize_with_hint_ab(colorizer: PublishedColorizer, image: np.ndarray, hints: np.ndarray,
                           ab: tuple[float, float]) -> np.ndarray:
    """Colorize with hints whose pixels carry exactly ``ab`` (core reads hint colors through hint_layer_pixels)."""
    import chromaseg.core.colorize as pipeline

    real = pipeline.hint_layer_pixels

    def exact(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask, _ = real(layer)
        return mask, np.tile(np.float32(ab), (int(mask.sum()), 1))

    pipeline.hint_layer_pixels = exact
    try:
        return colorizer.colorize(image, hints=hints)
    finally:
        pipeline.hint_layer_pixels = real


def test_siggraph17_colorizes_keeping_l_alpha_dtype_and_takes_hints(siggraph17: PublishedColorizer) -> None:
    image = layer(90, 120)
    plain = siggraph17.colorize(image)
    assert plain.shape == image.shape and plain.dtype == np.uint8
    assert np.array_equal(plain[..., 3], image[..., 3])
    assert np.abs(lab_of(plain)[..., 0] - lab_of(image)[..., 0]).max() < 0.8  # L kept (8-bit output rounding)
    assert np.array_equal(siggraph17.colorize(image, vibrancy=0.1), plain)  # vibrancy: accepted, ignored
    with pytest.raises(ValueError, match="vibrancy"):
        siggraph17.colorize(image, vibrancy=1.5)

    hints = hint_layer(90, 120, (slice(40, 46), slice(20, 26)), (200, 40, 40))
    seen, hinted = inputs_of(siggraph17.net.net.model1, lambda: siggraph17.colorize(image, hints=hints))
    assert seen[0][0, 3].sum() > 0  # the network reads the hint mask
    assert np.abs(hinted.astype(int) - plain).max() > 10
    hint_ab = lab_of(hints[..., :3])[43, 23, 1:]
    assert np.abs(lab_of(hinted)[43, 23, 1:] - hint_ab).max() < 3  # the hinted pixels take the hint's color


def test_siggraph17_runs_the_shared_later_stages(siggraph17: PublishedColorizer) -> None:
    image = layer(64, 80, seed=2)
    selection = np.zeros((64, 80), np.uint8)
    selection[:, :40] = 255
    labels = np.zeros((64, 80), np.int32)
    labels[:, 40:] = 1
    out = colorize(image, model=siggraph17, selection=selection, feather=0, harmonize=True, segments=labels)
    assert Colorizer.of(siggraph17) is siggraph17
    assert np.array_equal(out[:, 40:], image[:, 40:])  # exactly unchanged outside the selection
    assert siggraph17.info() == {"name": "siggraph17", "arch": "siggraph17", "vibrancy": None, "resolution": 256,
                                 "takes_hints": True, "path": str(siggraph17.path)}


# --- DDColor ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ddcolor_sees_the_gray_rendering_at_512_and_hints_correct_it(ddcolor_tiny: PublishedColorizer) -> None:
    image = np.full((96, 64, 3), 128, np.uint8)
    image[:, 32:] = 90
    stem = ddcolor_tiny.net.net.encoder.arch.downsample_layers[0][0]
    seen, plain = inputs_of(stem, lambda: ddcolor_tiny.colorize(image))
    assert seen[0].shape == (1, 3, 512, 512)
    # flat sRGB 128: L 53.585 renders back to 128 / 255, then ImageNet normalization, per channel
    expected = (128 / 255 - torch.tensor(ddcolor.IMAGENET_MEAN)) / torch.tensor(ddcolor.IMAGENET_STD)
    assert torch.allclose(seen[0][0, :, 256, 100], expected, atol=2e-3)
    assert plain.shape == image.shape and plain.dtype == np.uint8
    assert np.abs(lab_of(plain)[..., 0] - lab_of(image)[..., 0]).max() < 0.8

    hints = hint_layer(96, 64, (slice(40, 44), slice(8, 12)), (40, 160, 220))
    seen_hinted, hinted = inputs_of(stem, lambda: ddcolor_tiny.colorize(image, hints=hints))
    assert torch.equal(seen_hinted[0], seen[0])  # DDColor has no hint input ...
    hint_ab = lab_of(hints[..., :3])[42, 10, 1:]
    assert np.abs(lab_of(hinted)[42, 10, 1:] - hint_ab).max() < 3
    assert np.abs(lab_of(plain)[..., 1:]).max() > 5  # the automatic result has color
    # ... propagation spreads the correction along L: 12 px away, on the same lightness, much nearer the hint
    corrected, automatic = lab_of(hinted)[30, 16, 1:], lab_of(plain)[30, 16, 1:]
    assert np.linalg.norm(corrected - hint_ab) < 0.6 * np.linalg.norm(automatic - hint_ab)
    assert ddcolor_tiny.info()["takes_hints"] is False and ddcolor_tiny.info()["resolution"] == 512


# --- loading ------------------------------------------------------------------------------------------------------


def test_load_by_name_by_path_and_the_refusals(root: Path, siggraph17: PublishedColorizer, tmp_path: Path) -> None:
    assert siggraph17.name == "siggraph17" and siggraph17.path == root / SIGGRAPH17_FILE
    assert installed_colorizers(root) == ["siggraph17"]
    with pytest.raises(NotInstalled, match=r"colorizer ddcolor-paper is not installed: .*ddcolor_paper\.pth; "
                                           r"run `chromaseg weights fetch ddcolor-paper`"):
        load_colorizer("ddcolor-paper", root=root)
    with pytest.raises(UnknownColorizer, match="unknown colorizer 'mobilesam'"):
        load_colorizer("mobilesam", root=root)  # a registry entry, but not a colorizer
    with pytest.raises(UnknownColorizer, match="unknown published architecture 'ddcolor-huge'"):
        load_colorizer(root / SIGGRAPH17_FILE, "ddcolor-huge")
    by_path = load_colorizer(root / SIGGRAPH17_FILE, "siggraph17")
    assert isinstance(by_path, PublishedColorizer) and by_path.name == "siggraph17"
    truncated = tmp_path / "cut.pth"
    truncated.write_bytes((root / SIGGRAPH17_FILE).read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as refused:
        load_colorizer(truncated, "siggraph17")
    assert "\n" not in str(refused.value)
    with pytest.raises(CheckpointError, match=r"expected \{'params': state_dict\}"):
        load_colorizer(root / SIGGRAPH17_FILE, "ddcolor-tiny")
    (tmp_path / SIGGRAPH17_FILE).write_bytes(truncated.read_bytes())  # a damaged registry file: fetch replaces it
    (tmp_path / "registry.json").write_text((root / "registry.json").read_text())
    with pytest.raises(NotInstalled, match=r"colorizer siggraph17 is damaged \(.*\): .*run `chromaseg weights fetch"):
        load_colorizer("siggraph17", root=tmp_path)


# --- the command line ---------------------------------------------------------------------------------------------


def test_cli_colorize_by_name_and_by_path_and_arch(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from chromaseg.cli.image_files import read_image, write_png

    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(root))
    source = tmp_path / "in" / "photo.png"
    source.parent.mkdir()
    write_png(source, layer(40, 56)[..., :3])
    assert main(["colorize", str(source), "-o", str(tmp_path / "a"), "--model", "siggraph17"]) == 0
    assert main(["colorize", str(source), "-o", str(tmp_path / "b"), "--model", str(root / SIGGRAPH17_FILE),
                 "--arch", "siggraph17"]) == 0
    by_name, by_path = read_image(tmp_path / "a" / "photo.png"), read_image(tmp_path / "b" / "photo.png")
    assert by_name.shape == (40, 56, 3) and np.array_equal(by_name, by_path)
    capsys.readouterr()
    assert main(["colorize", str(source), "-o", str(tmp_path / "c"), "--model", "ddcolor-tiny"]) == 2
    assert "run `chromaseg weights fetch ddcolor-tiny`" in capsys.readouterr().err
    assert main(["colorize", str(source), "-o", str(tmp_path / "c"), "--model", "siggraph18"]) == 2
    assert "--model siggraph18: no such checkpoint file, nor a published colorizer's name (" in capsys.readouterr().err
    assert main(["colorize", str(source), "-o", str(tmp_path / "c"), "--arch", "siggraph17"]) == 2
    assert "--arch siggraph17 needs --model PATH" in capsys.readouterr().err
    assert main(["colorize", str(source), "-o", str(tmp_path / "c"), "--model", str(root / SIGGRAPH17_FILE),
                 "--arch", "ddcolor-tiny"]) == 2
    assert "expected {'params': state_dict}" in capsys.readouterr().err
    assert main(["batch", str(source), "-o", str(tmp_path / "d"), "--model", "siggraph17", "--no-ray"]) == 2
    assert "not supported by batch yet" in capsys.readouterr().err


# --- the daemon ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_daemon(tmp_path_factory: pytest.TempPathFactory, root: Path,
                     tiny_colorizer_checkpoint: Path) -> Iterator[Any]:
    from bridge_helpers import assert_no_internal, start_daemon

    d = start_daemon(tmp_path_factory.mktemp("published-daemon"), "tcp://127.0.0.1:0", "--colorizer",
                     str(tiny_colorizer_checkpoint), env={"CHROMASEG_WEIGHTS": str(root)})
    yield d
    assert d.stop() == 0
    assert_no_internal(d)


def test_daemon_colorizes_with_a_named_colorizer_and_refuses_the_rest(published_daemon: Any) -> None:
    from bridge_helpers import photo

    from chromaseg.bridge.client import Frame, RequestFailed

    image = photo(48, 64, 4)
    hints = hint_layer(48, 64, (slice(20, 24), slice(30, 34)), (200, 60, 40))
    frames = {"layer": Frame.from_array(image), "hints": Frame.from_array(hints)}
    with published_daemon.client(timeout=60) as c:
        info = c.info()
        assert info["colorizers"] == ["siggraph17"]
        done = c.request("colorize", ColorizeParams(colorizer="siggraph17"), frames)
        assert done.result["colorizer"].startswith("ready (siggraph17: ")
        out = np.frombuffer(done.frames["layer"].data, np.uint8).reshape(image.shape)
        assert np.array_equal(out[..., 3], image[..., 3])
        assert np.abs(lab_of(out)[..., 0] - lab_of(image)[..., 0]).max() < 0.8
        default = c.request("colorize", {}, {"layer": Frame.from_array(image)})
        assert "siggraph17" not in default.result["colorizer"]  # the shipped (here: tiny) model, as before
        for name, code, words in (("ddcolor-tiny", "unavailable", "run `chromaseg weights fetch ddcolor-tiny`"),
                                  ("mobilesam", "bad_params", "unknown colorizer 'mobilesam'"),
                                  ("../siggraph17", "bad_params", "'colorizer' must be a colorizer name"),
                                  (7, "bad_params", "'colorizer' must be a colorizer name")):
            with pytest.raises(RequestFailed) as refused:
                c.request("colorize", {"colorizer": name}, {"layer": Frame.from_array(image)})
            assert refused.value.code == code and words in str(refused.value), (name, str(refused.value))


def test_the_colorizer_param_is_a_name_never_a_path() -> None:
    from chromaseg.bridge.daemon import validation
    from chromaseg.bridge.protocol import Descriptor, ErrorCode, ProtocolError, Request

    def validate(params: dict[str, Any]) -> dict[str, Any]:
        return validation.validate(Request("colorize", "x", params, (Descriptor("layer", "u8", (4, 4, 3)),)))

    assert validate({})["colorizer"] is None  # the shipped model
    assert validate({"colorizer": "ddcolor-tiny"})["colorizer"] == "ddcolor-tiny"
    assert ColorizeParams(colorizer="siggraph17").to_params() == {"colorizer": "siggraph17"}
    for bad in ("", "a" * 65, "/etc/passwd", "x y", "é", True, ["siggraph17"]):
        with pytest.raises(ProtocolError) as refused:
            validate({"colorizer": bad})
        assert refused.value.code is ErrorCode.BAD_PARAMS and "colorizer" in refused.value.message
        with pytest.raises(ValueError, match="colorizer"):
            ColorizeParams(colorizer=bad)
