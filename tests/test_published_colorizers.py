"""Published colorizers (SIGGRAPH17, DDColor): upstream key/shape fixtures, strict loading of files in each upstream
layout, refusals, preprocessing against hand-computed values, and prediction end to end.

The weight files here are random tensors written from the fixtures' key/shape lists (which were taken from the
upstream reference models, see tests/data/published/), in the exact layout upstream publishes: a raw state dict
without BatchNorm counters for SIGGRAPH17, ``{'params': state_dict}`` with spectral-norm tensors for DDColor.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from chromaseg.core.published import ddcolor, siggraph17
from chromaseg.core.published.architectures import ARCHITECTURES, architecture, check_published_file, load_published
from chromaseg.core.published.upstream_format import CheckpointError

FIXTURES = Path(__file__).resolve().parent / "data" / "published"


def upstream_shapes(name: str) -> dict[str, tuple[int, ...]]:
    data = json.loads((FIXTURES / f"{name.replace('-', '_')}_keys.json").read_text())
    return {key: tuple(shape) for key, shape in data["tensors"].items()}


def random_upstream_state(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors for every upstream key, in ranges a trained file has (positive variances, unit u and v, and
    DDColor's `mean` / `std` buffers at the ImageNet statistics its files store)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in upstream_shapes(name).items():
        if key in ("mean", "std"):
            stats = ddcolor.IMAGENET_MEAN if key == "mean" else ddcolor.IMAGENET_STD
            state[key] = torch.tensor(stats).view(shape)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(("weight_u", "weight_v")):
            state[key] = torch.nn.functional.normalize(torch.randn(shape, generator=g), dim=0)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 100
            state[key] = torch.randn(shape, generator=g) / fan_in ** 0.5
    return state


def model_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(t.shape) for key, t in model.state_dict().items()}


@pytest.fixture(scope="module")
def siggraph17_state() -> dict[str, torch.Tensor]:
    """As the published siggraph17-df00044c.pth: a raw state dict that lacks BatchNorm's num_batches_tracked."""
    return {k: v for k, v in random_upstream_state("siggraph17").items() if not k.endswith("num_batches_tracked")}


@pytest.fixture(scope="module")
def siggraph17_file(siggraph17_state: dict[str, torch.Tensor], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("published") / "siggraph17-random.pth"
    torch.save(siggraph17_state, path)
    return path


@pytest.fixture(scope="module")
def siggraph17_model(siggraph17_file: Path) -> torch.nn.Module:
    return load_published("siggraph17", siggraph17_file)


@pytest.fixture(scope="module")
def ddcolor_tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("published") / "ddcolor_paper_tiny-random.pth"
    torch.save({"params": random_upstream_state("ddcolor-tiny")}, path)
    return path


@pytest.mark.parametrize("name", ["siggraph17", "ddcolor-tiny", "ddcolor-large"])
def test_state_dict_matches_upstream_keys_and_shapes(name: str) -> None:
    with torch.device("meta"):  # shapes only: ConvNeXt-L's 200M parameters are never allocated
        model = architecture(name).build()
    assert model_shapes(model) == upstream_shapes(name)
    assert list(model.state_dict()) == list(upstream_shapes(name))  # same order as upstream writes them


def test_ddcolor_fixtures_carry_spectral_norm_tensors() -> None:
    keys = upstream_shapes("ddcolor-tiny")
    stems = [k.removesuffix(".weight_orig") for k in keys if k.endswith(".weight_orig")]
    assert "refine_net.0.0" in stems and "decoder.last_shuf.conv.0" in stems
    assert all(f"{s}.weight_u" in keys and f"{s}.weight_v" in keys and f"{s}.weight" not in keys for s in stems)


def test_siggraph17_published_layout_loads_strictly(siggraph17_file: Path, siggraph17_state: dict,
                                                    siggraph17_model: torch.nn.Module) -> None:
    assert not any(k.endswith("num_batches_tracked") for k in torch.load(siggraph17_file))
    model = siggraph17_model
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in siggraph17_state.items())
    assert int(loaded["model1.4.num_batches_tracked"]) == 0  # filled explicitly, not by a lax load


def test_siggraph17_file_with_batch_counts_also_loads(tmp_path: Path) -> None:
    path = tmp_path / "with-counts.pth"
    torch.save(random_upstream_state("siggraph17"), path)
    assert int(load_published("siggraph17", path).state_dict()["model2.4.num_batches_tracked"]) == 1000


def test_ddcolor_params_layout_loads_strictly(ddcolor_tiny_file: Path) -> None:
    model = load_published("ddcolor-tiny", ddcolor_tiny_file)
    saved = torch.load(ddcolor_tiny_file)["params"]
    loaded = model.state_dict()
    assert not model.training and loaded.keys() == saved.keys()
    assert torch.equal(loaded["refine_net.0.0.weight_orig"], saved["refine_net.0.0.weight_orig"])
    assert torch.equal(loaded["decoder.layers.0.conv.0.weight_u"], saved["decoder.layers.0.conv.0.weight_u"])


def test_ddcolor_legacy_classifier_head_is_accepted_at_its_shape_only(tmp_path: Path) -> None:
    state = random_upstream_state("ddcolor-tiny")
    state["encoder.arch.head_cls.weight"], state["encoder.arch.head_cls.bias"] = torch.zeros(4, 768), torch.zeros(4)
    torch.save({"params": state}, tmp_path / "release-era.pth")
    loaded = load_published("ddcolor-tiny", tmp_path / "release-era.pth").state_dict()
    assert "encoder.arch.head_cls.weight" not in loaded
    state["encoder.arch.head_cls.weight"] = torch.zeros(4, 1536)
    torch.save({"params": state}, tmp_path / "wrong-head.pth")
    with pytest.raises(CheckpointError, match=r"legacy tensor 'encoder.arch.head_cls.weight' has shape \(4, 1536\), "
                                              r"expected \(4, 768\)"):
        load_published("ddcolor-tiny", tmp_path / "wrong-head.pth")


def refusal(name: str, path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_published(name, path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_tensor_is_refused(siggraph17_state: dict, tmp_path: Path) -> None:
    state = dict(siggraph17_state)
    del state["model4.2.weight"]
    torch.save(state, tmp_path / "missing.pth")
    assert refusal("siggraph17", tmp_path / "missing.pth").endswith(
        "missing tensor 'model4.2.weight' of shape (512, 512, 3, 3)")


def test_misshapen_tensor_is_refused_naming_the_first(siggraph17_state: dict, tmp_path: Path) -> None:
    state = dict(siggraph17_state)
    state["model1.0.weight"] = torch.zeros(64, 3, 3, 3)  # an RGB-input network's first layer
    state["model_out.0.bias"] = torch.zeros(3)
    torch.save(state, tmp_path / "misshapen.pth")
    assert refusal("siggraph17", tmp_path / "misshapen.pth").endswith(
        "tensor 'model1.0.weight' has shape (64, 3, 3, 3), expected (64, 4, 3, 3) (and 1 more)")


def test_unexpected_tensor_is_refused(siggraph17_state: dict, tmp_path: Path) -> None:
    torch.save({**siggraph17_state, "model11.0.weight": torch.zeros(2)}, tmp_path / "extra.pth")
    assert refusal("siggraph17", tmp_path / "extra.pth").endswith("unexpected tensor 'model11.0.weight' of shape (2)")


def test_missing_batch_counts_are_tolerated_only_where_upstream_lacks_them(tmp_path: Path) -> None:
    state = {k: v for k, v in random_upstream_state("ddcolor-tiny").items() if not k.endswith("num_batches_tracked")}
    torch.save({"params": state}, tmp_path / "no-counts.pth")
    assert "missing tensor 'decoder.layers.0.shuf.conv.1.num_batches_tracked'" in refusal(
        "ddcolor-tiny", tmp_path / "no-counts.pth")


def test_truncated_file_is_refused(siggraph17_file: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "siggraph17-df00044c.pth"
    truncated.write_bytes(siggraph17_file.read_bytes()[: siggraph17_file.stat().st_size // 2])
    assert "not a readable PyTorch weights file (truncated or corrupt?)" in refusal("siggraph17", truncated)


def test_wrong_layout_is_refused(siggraph17_file: Path, ddcolor_tiny_file: Path, tmp_path: Path) -> None:
    assert "expected {'params': state_dict}" in refusal("ddcolor-tiny", siggraph17_file)
    assert "'params' is a dict, not a tensor (expected a raw state dict)" in refusal("siggraph17", ddcolor_tiny_file)
    assert re.search(r"missing tensor 'mean' of shape \(1, 3, 1, 1\) \(and \d+ more\)$",
                     refusal("ddcolor-tiny", _as_params(siggraph17_file, tmp_path)))
    assert "no such file" in refusal("siggraph17", tmp_path / "absent.pth")


def _as_params(path: Path, tmp_path: Path) -> Path:
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"params": torch.load(path)}, wrapped)
    return wrapped


def test_registry_names() -> None:
    assert {"siggraph17", "ddcolor-tiny", "ddcolor-large", "ddcolor-modelscope", "ddcolor-artistic",
            "ddcolor-paper"} <= set(ARCHITECTURES)
    assert ARCHITECTURES["ddcolor-modelscope"] is ARCHITECTURES["ddcolor-large"]
    assert architecture("siggraph17").takes_hints and not architecture("ddcolor-tiny").takes_hints
    with pytest.raises(KeyError, match="unknown published architecture 'ddcolor-huge'"):
        architecture("ddcolor-huge")


def input_of(layer: torch.nn.Module, run: Callable[[], np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    """(what ``layer`` received, what ``run`` returned)."""
    seen = []
    handle = layer.register_forward_pre_hook(lambda _module, args: seen.append(args[0].clone()))
    try:
        result = run()
    finally:
        handle.remove()
    return seen[0], result


def test_siggraph17_input_normalization(siggraph17_model: torch.nn.Module) -> None:
    model = siggraph17_model
    l = np.full((256, 256), 75.0, np.float32)
    hint_ab, hint_mask = np.zeros((2, 256, 256), np.float32), np.zeros((256, 256), np.float32)
    hint_ab[:, 100, 40], hint_mask[100, 40] = (22.0, -55.0), 1.0
    x, _ = input_of(model.model1, lambda: siggraph17.predict_ab(model, l, hint_ab, hint_mask))
    assert x.shape == (1, 4, 256, 256)
    # (75 - 50) / 100, 22 / 110, -55 / 110, mask as given
    assert torch.allclose(x[0, :, 100, 40], torch.tensor([0.25, 0.2, -0.5, 1.0]))
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([0.25, 0.0, 0.0, 0.0]))


def test_siggraph17_hints_reach_the_working_size_undiluted() -> None:
    hint_ab, hint_mask = np.zeros((2, 512, 768), np.float32), np.zeros((512, 768), np.float32)
    hint_ab[:, 10, 21], hint_mask[10, 21] = (30.0, -20.0), 1.0  # one pixel: working pixel (5, 7)
    hint_ab[:, 300, 600], hint_mask[300, 600] = (10.0, 10.0), 1.0  # two pixels in one working pixel (150, 200)
    hint_ab[:, 301, 601], hint_mask[301, 601] = (20.0, -10.0), 1.0
    ab, mask = siggraph17.hints_at_working_size(hint_ab, hint_mask)
    assert ab.shape == (1, 2, 256, 256) and mask.sum() == 2
    assert mask[0, 0, 5, 7] == 1 and torch.allclose(ab[0, :, 5, 7], torch.tensor([30.0, -20.0]))
    assert mask[0, 0, 150, 200] == 1 and torch.allclose(ab[0, :, 150, 200], torch.tensor([15.0, 0.0]))


def test_siggraph17_predict_small_input(siggraph17_model: torch.nn.Module) -> None:
    model = siggraph17_model
    rng = np.random.default_rng(0)
    l = rng.uniform(0, 100, (40, 60)).astype(np.float32)
    plain = siggraph17.predict_ab(model, l)
    hint_ab, hint_mask = np.zeros((2, 40, 60), np.float32), np.zeros((40, 60), np.float32)
    hint_ab[:, 20, 30], hint_mask[20, 30] = (60.0, 60.0), 1.0
    hinted = siggraph17.predict_ab(model, l, hint_ab, hint_mask)
    assert plain.shape == hinted.shape == (2, 256, 256) and plain.dtype == np.float32
    assert np.isfinite(plain).all() and np.abs(plain).max() <= siggraph17.AB_SCALE
    assert np.abs(hinted - plain).max() > 1e-3  # the hint is an input the network sees
    with pytest.raises(ValueError, match="hint ab and hint mask go together"):
        siggraph17.predict_ab(model, l, hint_ab)


def test_ddcolor_gray_rendering_hand_computed() -> None:
    # L = 50: Y = ((50 + 16) / 116)^3 = 0.184187, sRGB = 1.055 * Y^(1/2.4) - 0.055 = 0.466327
    # L = 5 (below the CIE knee): Y = 5 / 903.296 = 0.0055353, sRGB = 0.066030
    l = torch.tensor([[0.0, 5.0, 50.0, 100.0]])
    rgb = ddcolor.gray_rgb_from_l(l)
    assert rgb.shape == (3, 1, 4)
    expected = torch.tensor([0.0, 0.066030, 0.466327, 1.0])
    for channel in rgb:
        assert torch.allclose(channel[0], expected, atol=2e-6)


@pytest.mark.slow
def test_ddcolor_predict_end_to_end(ddcolor_tiny_file: Path) -> None:
    """Through the real loader and the real 512 px working size: the encoder sees the normalized gray rendering."""
    model = load_published("ddcolor-tiny", ddcolor_tiny_file)
    rng = np.random.default_rng(1)
    l = np.full((48, 80), 50.0, np.float32)
    l[10:20, 10:30] = rng.uniform(0, 100, (10, 20))
    stem = model.encoder.arch.downsample_layers[0][0]
    seen, ab = input_of(stem, lambda: ddcolor.predict_ab(model, l))
    assert seen.shape == (1, 3, 512, 512)
    # a flat L = 50 region: ((0.466327 - mean) / std) per channel
    expected = (0.466327 - torch.tensor(ddcolor.IMAGENET_MEAN)) / torch.tensor(ddcolor.IMAGENET_STD)
    assert torch.allclose(seen[0, :, 400, 400], expected, atol=1e-5)
    assert ab.shape == (2, 512, 512) and ab.dtype == np.float32 and np.isfinite(ab).all()



def test_layout_check_without_loading(siggraph17_file: Path, siggraph17_state: dict, tmp_path: Path) -> None:
    """What `chromaseg weights verify` runs on a colorizer file: the loader's checks, the model never allocated."""
    check_published_file("siggraph17", siggraph17_file)
    torch.save({k: v for k, v in siggraph17_state.items() if k != "model_out.0.weight"}, tmp_path / "short.pth")
    with pytest.raises(CheckpointError, match="missing tensor 'model_out.0.weight' of shape"):
        check_published_file("siggraph17", tmp_path / "short.pth")
