"""The segmenter: the classical fallback on real photos, and random-init SAM through the real predictor, automatic
generator, embedding cache and weights registry."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromaseg.core.segment import Segmenter
from chromaseg.core.segment.cache import EmbeddingCache, content_key
from chromaseg.core.segment.labels import cap_labels
from chromaseg.core.segment.registry import BUILTIN, entries

@pytest.fixture(scope="module")
def photos(train_photos: list[Path]) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in train_photos[:4]]


def test_default_without_weights_is_classic(tmp_path: Path) -> None:
    seg = Segmenter.default(tmp_path)
    assert seg.backend == "classic"
    assert "no SAM checkpoint" in seg.reason


@pytest.mark.parametrize("max_segments", [8, 64])
def test_classic_auto_caps_and_covers(photos: list[np.ndarray], max_segments: int) -> None:
    seg = Segmenter.classic()
    for rgb in photos:
        labels = seg.auto(rgb, max_segments=max_segments)
        assert labels.shape == rgb.shape[:2] and labels.dtype == np.int32
        n = labels.max() + 1
        assert 1 <= n <= max_segments
        assert (labels >= 0).mean() >= 0.9


def test_classic_accepts_gray_uint16_float_rgba(photos: list[np.ndarray]) -> None:
    seg = Segmenter.classic()
    rgb = photos[0]
    variants = [rgb.mean(axis=2).astype(np.uint8), (rgb.astype(np.uint16) * 257),
                rgb.astype(np.float32) / 255, np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])]
    for image in variants:
        assert seg.auto(image, max_segments=16).max() < 16
        assert seg.prompt(image, box=(10, 10, 100, 100)).shape == rgb.shape[:2]


def test_classic_min_area(photos: list[np.ndarray]) -> None:
    labels = Segmenter.classic().auto(photos[1], max_segments=64, min_area=2000)
    assert np.bincount(labels[labels >= 0]).min() >= 2000 * 0.5  # nearest-neighbour upsampling blurs areas a little


def test_classic_box_prompt_inside_box(photos: list[np.ndarray]) -> None:
    seg = Segmenter.classic()
    for rgb in photos:
        h, w = rgb.shape[:2]
        box = (w // 5, h // 6, 4 * w // 5, 5 * h // 6)
        mask = seg.prompt(rgb, box=box)
        assert mask.dtype == bool and mask.shape == (h, w)
        outside = mask.copy()
        outside[box[1]:box[3], box[0]:box[2]] = False
        assert not outside.any()


def test_classic_box_prompt_finds_object() -> None:
    rng = np.random.default_rng(0)
    image = (rng.normal(60, 5, (200, 300, 3))).clip(0, 255).astype(np.uint8)
    image[60:140, 100:200] = (220, 40, 40)
    mask = Segmenter.classic().prompt(image, box=(80, 40, 220, 160))
    truth = np.zeros(image.shape[:2], bool)
    truth[60:140, 100:200] = True
    assert (mask & truth).sum() / (mask | truth).sum() > 0.9


def test_classic_points_and_selection_prompts(photos: list[np.ndarray]) -> None:
    seg = Segmenter.classic()
    rgb = photos[2]
    h, w = rgb.shape[:2]
    m = seg.prompt(rgb, points=[(w // 2, h // 2), (5, 5)], labels=[1, 0])
    assert m.shape == (h, w)
    sel = np.zeros((h, w), bool)
    sel[h // 4:3 * h // 4, w // 4:3 * w // 4] = True
    refined = seg.prompt(rgb, mask=sel)
    assert refined.shape == (h, w) and refined.any()


def test_prompt_validation(photos: list[np.ndarray]) -> None:
    seg = Segmenter.classic()
    with pytest.raises(ValueError):
        seg.prompt(photos[0])
    with pytest.raises(ValueError):
        seg.prompt(photos[0], box=(50, 50, 50, 80))
    with pytest.raises(ValueError):
        seg.prompt(photos[0], mask=np.zeros((3, 3), bool))


def test_set_the_image_once_then_prompt_many_times(photos: list[np.ndarray]) -> None:
    seg = Segmenter.classic()
    rgb = photos[2]
    h, w = rgb.shape[:2]
    with pytest.raises(ValueError, match="set_image"):
        seg.prompt(points=[(w // 2, h // 2)])
    seg.set_image(rgb)
    assert seg.holds(rgb) and seg.holds(rgb.copy()) and not seg.holds(rgb[:, ::-1])
    box = (w // 5, h // 6, 4 * w // 5, 5 * h // 6)
    assert np.array_equal(seg.prompt(box=box), Segmenter.classic().prompt(rgb, box=box))
    assert seg.prompt(points=[(w // 2, h // 2)]).shape == (h, w)
    seg.auto(photos[0])  # automatic segments of another image leave the one set alone
    assert seg.holds(rgb) and np.array_equal(seg.prompt(box=box), Segmenter.classic().prompt(rgb, box=box))


def test_sam_prompts_after_auto_answer_about_the_image_set(tiny_sam_dir: Path, photos: list[np.ndarray]) -> None:
    seg = Segmenter.default(tiny_sam_dir, device="cpu")
    rgb = photos[0]
    h, w = rgb.shape[:2]
    box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    seg.set_image(rgb)
    first = seg.prompt(box=box)
    seg.auto(photos[1], max_segments=2)  # the generator fills the predictor with its own crops
    assert np.array_equal(seg.prompt(box=box), first)


def test_cap_labels_merges_small_into_neighbours() -> None:
    labels = np.arange(100).reshape(10, 10) // 10  # ten stripes
    labels[0, 0] = -1
    out = cap_labels(labels, 3)
    assert set(np.unique(out)) == {-1, 0, 1, 2} and out[0, 0] == -1


def test_embedding_cache_lru_budget() -> None:
    import torch

    from chromaseg.core.segment.cache import Embedding

    cache = EmbeddingCache(max_bytes=3 * 4096)
    for i in range(4):
        cache.put(str(i), Embedding(torch.zeros(1024), (1, 1), (1, 1)))
    assert len(cache) == 3 and cache.get("0") is None and cache.get("3") is not None
    assert (cache.hits, cache.misses) == (1, 1)
    a = np.zeros((4, 4), np.uint8)
    assert content_key(a) != content_key(a.astype(np.uint16)) != content_key(a.reshape(2, 8))


def test_builtin_registry_lists_sources() -> None:
    names = {e.name for e in BUILTIN}
    assert {"mobilesam", "sam-vit_b", "sam-vit_l", "sam-vit_h", "deeplabv3-mnv2"} <= names
    assert all(f.url for e in BUILTIN for f in e.files)


def test_default_picks_registered_checkpoint(tiny_sam_dir: Path, photos: list[np.ndarray]) -> None:
    seg = Segmenter.default(tiny_sam_dir, device="cpu")
    assert seg.backend == "sam:tiny-vit_b", seg.reason
    rgb = photos[0]
    h, w = rgb.shape[:2]
    box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    first = seg.prompt(rgb, box=box)
    assert (seg.cache.hits, seg.cache.misses) == (0, 1)
    second = seg.prompt(rgb, points=[(w // 2, h // 2)], labels=[1])
    assert (seg.cache.hits, seg.cache.misses) == (1, 1)  # the encoder ran once: the second prompt hit the cache
    assert first.shape == second.shape == (h, w)
    outside = first.copy()
    outside[box[1]:box[3], box[0]:box[2]] = False
    assert not outside.any()
    sel = np.zeros((h, w), bool)
    sel[h // 3:2 * h // 3, w // 3:2 * w // 3] = True
    assert seg.prompt(rgb, mask=sel).shape == (h, w)
    assert seg.cache.hits == 2


def test_sam_set_image_fills_the_cache_once(tiny_sam_dir: Path, photos: list[np.ndarray]) -> None:
    seg = Segmenter.default(tiny_sam_dir, device="cpu")
    rgb = photos[1]
    seg.set_image(rgb)
    seg.prompt(rgb, points=[(10, 10)], labels=[1])
    assert (seg.cache.hits, seg.cache.misses) == (1, 1)


def test_sam_auto_generator_caps(tiny_sam_dir: Path, photos: list[np.ndarray]) -> None:
    from chromaseg.core.segment.sam_backend import SamBackend, load_sam

    entry = entries(tiny_sam_dir)["tiny-vit_b"]
    model = load_sam(entry, tiny_sam_dir / "tiny.pt")
    seg = Segmenter(SamBackend(model, "vit_b", "sam:tiny", points_per_side=8), "test")
    labels = seg.auto(photos[0], max_segments=4)
    assert labels.shape == photos[0].shape[:2] and labels.dtype == np.int32
    assert labels.max() < 4 and labels.min() >= -1


def test_damaged_checkpoint_falls_back(tiny_sam_dir: Path, tmp_path: Path) -> None:
    raw = json.loads((tiny_sam_dir / "registry.json").read_text())
    raw["entries"][0]["files"][0]["sha256"] = "0" * 64
    (tmp_path / "registry.json").write_text(json.dumps(raw))
    (tmp_path / "tiny.pt").write_bytes((tiny_sam_dir / "tiny.pt").read_bytes())
    seg = Segmenter.default(tmp_path, device="cpu")
    assert seg.backend == "classic" and "tiny-vit_b not used" in seg.reason


def test_mobilesam_vit_t_runs() -> None:
    from chromaseg.core.segment.registry import ModelEntry, WeightFile
    from chromaseg.core.segment.sam_backend import SamBackend, build_sam

    model = build_sam(ModelEntry("t", "sam", (WeightFile("x"),), "vit_t")).eval()
    seg = Segmenter(SamBackend(model, "vit_t", "sam:t"), "test")
    image = np.zeros((64, 96, 3), np.uint8)
    assert seg.prompt(image, box=(10, 10, 50, 40)).shape == (64, 96)
