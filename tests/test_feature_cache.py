"""The semantic feature cache: what it holds, when it is rebuilt, resuming a build, and grid-aligned crops."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import chromaseg.core.feature_cache as fc
from chromaseg.core.feature_cache import SemanticCrops, build_feature_cache
from chromaseg.core.semantic import DeepLabV3MobileNetV2, SemanticEncoder


@pytest.fixture(scope="module")
def encoder() -> SemanticEncoder:
    torch.manual_seed(0)
    enc = SemanticEncoder(DeepLabV3MobileNetV2(), 6)
    torch.nn.init.normal_(enc.projection.weight)
    return enc


@pytest.fixture(scope="module")
def squares() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)


def test_cache_holds_the_encoder_output_of_each_photo_and_its_mirror(encoder, squares, tmp_path) -> None:
    names = [f"p{i}.jpg" for i in range(5)]
    cache = build_feature_cache(squares, names, encoder, tmp_path, progress=False)
    mirror = build_feature_cache(squares, names, encoder, tmp_path, mirrored=True, progress=False)
    assert cache.shape == mirror.shape == (5, 6, 4, 4) and cache.dtype == np.float16
    with torch.no_grad():
        direct = encoder(fc._l_of(squares)).numpy()
        mirrored = encoder(fc._l_of(np.ascontiguousarray(squares[:, :, ::-1]))).numpy()
    np.testing.assert_allclose(cache, direct, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(mirror, mirrored, rtol=2e-3, atol=2e-3)


def test_cache_is_reused_rebuilt_on_change_and_resumes(encoder, squares, tmp_path, monkeypatch) -> None:
    names = [f"p{i}.jpg" for i in range(5)]
    monkeypatch.setattr(fc, "CHUNK", 2)
    calls = []
    real = SemanticEncoder.forward

    def failing(self, l):
        calls.append(l.shape[0])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the build stops after two chunks
        return real(self, l)

    monkeypatch.setattr(SemanticEncoder, "forward", failing)
    with pytest.raises(KeyboardInterrupt):
        build_feature_cache(squares, names, encoder, tmp_path, progress=False)
    sidecar = next(tmp_path.glob("semantic-*.json"))
    assert json.loads(sidecar.read_text())["done"] == 4
    monkeypatch.setattr(SemanticEncoder, "forward", real)
    calls.clear()
    monkeypatch.setattr(SemanticEncoder, "forward", lambda self, l: (calls.append(l.shape[0]), real(self, l))[1])
    resumed = build_feature_cache(squares, names, encoder, tmp_path, progress=False)
    assert calls == [1]  # only the last photo was left
    fresh = build_feature_cache(squares, names, encoder, tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(resumed, fresh)
    calls.clear()
    build_feature_cache(squares, names, encoder, tmp_path, progress=False)
    assert calls == []  # complete: reused as is
    build_feature_cache(squares, names[::-1], encoder, tmp_path, progress=False)
    assert sum(calls) == 5  # another photo list: another cache
    assert len(list(tmp_path.glob("semantic-*.npy"))) == 2


def test_crops_are_grid_aligned_with_their_features(squares) -> None:
    both = np.arange(10 * 2 * 4 * 4, dtype=np.float16).reshape(10, 2, 4, 4)
    features, mirrored = both[:5], both[5:]
    crops = SemanticCrops(squares, features, 16, mirrored)
    idx = torch.tensor([3, 1])
    rgb, feats = crops.take(idx, torch.tensor([1, 2]), torch.tensor([2, 0]), torch.tensor([False, True]))
    assert rgb.shape == (2, 3, 16, 16) and feats.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(rgb[0].permute(1, 2, 0).numpy(), squares[3, 8:24, 16:32])
    np.testing.assert_array_equal(feats[0].numpy(), features[3, :, 1:3, 2:4])
    np.testing.assert_array_equal(rgb[1].permute(1, 2, 0).numpy(), squares[1, :, ::-1][16:32, 0:16])
    np.testing.assert_array_equal(feats[1].numpy(), mirrored[1, :, 2:4, 0:2])  # the mirror image's own
    a = crops.sample(4, torch.Generator().manual_seed(0))
    b = crops.sample(4, torch.Generator().manual_seed(0))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    plain = SemanticCrops(squares, features, 16)  # without the mirror images' features: never mirrored
    rgb, _ = plain.sample(64, torch.Generator().manual_seed(0))
    assert not any(torch.equal(r, torch.from_numpy(np.ascontiguousarray(squares[i, :, ::-1][y:y + 16, x:x + 16]))
                                .permute(2, 0, 1)) for r in rgb for i in range(5) for y in (0, 8, 16)
                   for x in (0, 8, 16))
    with pytest.raises(ValueError):
        SemanticCrops(squares, features, 12)  # not on the 1/8 grid
