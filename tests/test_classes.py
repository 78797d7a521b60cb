"""CCC color classes (Eq. 9-12), the rebalanced loss (Eq. 15-16) and decoding, with hand-computed values."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from chromaseg.core.classes import (GRID_CLASSES, ClassTable, ab_to_class, batch_class_weights, build_class_table,
                                    class_to_ab, class_weighted_cross_entropy, decode_annealed_mean, decode_mode,
                                    grid_centers, rebalance_log_weights, rebalanced_logits)
from chromaseg.core.color import lab_to_srgb


@pytest.mark.parametrize("a, b, c", [
    (-100, -100, 0), (99, 99, 399), (0, 0, 210), (-95.5, -100, 0), (-90, -100, 1), (-100, -90, 20),
    (5, -3, 9 * 20 + 10), (150, -150, 19), (-1e9, 1e9, 380), (99.99, 0, 10 * 20 + 19),
])
def test_eq9_exact(a, b, c):
    assert ab_to_class(np.float32(a), np.float32(b)) == c
    assert ab_to_class(torch.tensor(float(a)), torch.tensor(float(b))).item() == c


@pytest.mark.parametrize("c, a, b", [(0, -95, -95), (399, 95, 95), (210, 5, 5), (19, 95, -95), (380, -95, 95)])
def test_eq10_11_exact(c, a, b):
    assert class_to_ab(np.array(c)) == (a, b)
    ta, tb = class_to_ab(torch.tensor(c))
    assert (ta.item(), tb.item()) == (a, b)


def test_grid_centers():
    centers = grid_centers()
    assert centers.shape == (400, 2)
    np.testing.assert_array_equal(ab_to_class(centers[:, 0], centers[:, 1]), np.arange(400))


@settings(max_examples=100, deadline=None)
@given(st.floats(-300, 300), st.floats(-300, 300))
def test_center_of_a_class_is_within_half_a_bin(a, b):
    ca, cb = class_to_ab(ab_to_class(np.float64(a), np.float64(b)))
    assert abs(ca - np.clip(a, -100, 99)) <= 5 + 1e-9 and abs(cb - np.clip(b, -100, 99)) <= 5 + 1e-9


def test_class_to_ab_rejects_bad_input():
    with pytest.raises(ValueError):
        class_to_ab(np.array([400]))
    with pytest.raises(TypeError):
        class_to_ab(np.array([1.5]))


def test_reduction_keeps_frequent_classes_and_maps_the_rest_to_the_nearest():
    counts = np.zeros(GRID_CLASSES, np.int64)
    counts[210] = 900  # (5, 5)
    counts[215] = 95   # (55, 5)
    counts[212] = 5    # (25, 5): below 1 % -> dropped, nearer to 210 than to 215
    table = ClassTable.from_counts(counts, threshold_fraction=0.01)
    assert table.kept.tolist() == [210, 215] and table.num_classes == 2
    assert table.grid_to_class[210] == 0 and table.grid_to_class[215] == 1
    assert table.grid_to_class[212] == 0 and table.grid_to_class[214] == 1
    assert table.class_counts.tolist() == [905, 95]
    np.testing.assert_array_equal(table.centers, [[5, 5], [55, 5]])
    assert table.encode(np.array([54.0, 20.0]), np.array([3.0, 4.0])).tolist() == [1, 0]
    assert table.encode(torch.tensor([54.0]), torch.tensor([3.0])).tolist() == [1]


def test_reduction_errors():
    with pytest.raises(ValueError, match="all zero"):
        ClassTable.from_counts(np.zeros(GRID_CLASSES))
    with pytest.raises(ValueError, match="shape"):
        ClassTable.from_counts(np.ones(10))


def test_table_artifact_round_trip_and_versioning(tmp_path):
    counts = np.random.default_rng(0).integers(0, 1000, GRID_CLASSES)
    table = ClassTable.from_counts(counts, threshold_fraction=0.002, meta={"images": 3})
    path = tmp_path / "classes.json"
    table.save(path)
    loaded = ClassTable.load(path)
    np.testing.assert_array_equal(loaded.kept, table.kept)
    np.testing.assert_array_equal(loaded.grid_to_class, table.grid_to_class)
    np.testing.assert_array_equal(loaded.counts, counts)
    assert loaded.meta == {"images": 3}
    doc = json.loads(path.read_text())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="version 99"):
        ClassTable.load(path)


def _solid(path, lab_color):
    rgb = lab_to_srgb(np.array(lab_color, np.float32))
    Image.fromarray(np.full((40, 60, 3), np.rint(rgb * 255), np.uint8)).save(path)


def test_builder_on_a_folder_of_solid_images(tmp_path):
    _solid(tmp_path / "a.png", (50, 45, 25))   # class of (45, 25): b bin 12, a bin 14
    _solid(tmp_path / "b.png", (60, -35, 12))  # a bin 6, b bin 11
    (tmp_path / "notes.txt").write_text("not an image")
    table = build_class_table(tmp_path, threshold_fraction=0.1)
    assert table.kept.tolist() == [11 * 20 + 6, 12 * 20 + 14]
    assert table.meta["images"] == 2 and table.counts.sum() == 2 * 56 * 56


def test_builder_on_real_photos(train_photos):
    table = build_class_table(train_photos, threshold_fraction=1e-3)
    assert table.counts.sum() == len(train_photos) * 56 * 56
    assert 10 < table.num_classes < GRID_CLASSES
    assert table.grid_to_class[210] == np.searchsorted(table.kept, 210)  # near-neutral colors are always kept


def test_builder_without_images(tmp_path):
    with pytest.raises(FileNotFoundError):
        build_class_table(tmp_path)


def test_eq15_weights_exact():
    w = batch_class_weights(np.array([4, 1, 0, 3]), upsilon=0.5, phi=0.25)
    np.testing.assert_allclose(w, [4 / 3, 4 / 1.5, 4 / 1, 4 / 2.5])
    wt = batch_class_weights(torch.tensor([4, 1, 0, 3]), upsilon=0.5, phi=0.25)
    np.testing.assert_allclose(wt.numpy(), w, rtol=1e-6)
    k = 215
    counts = np.zeros(k)
    counts[0], counts[1] = 1000, 1
    w = batch_class_weights(counts)  # phi defaults to 1/K
    assert w[0] == pytest.approx(1 / (0.5 + 1 / k))
    assert w[1] == pytest.approx(1000 / (0.5 + 1000 / k))
    with pytest.raises(ValueError):
        batch_class_weights(counts, upsilon=0)


def test_eq16_loss_matches_hand_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 2, 2)
    target = torch.tensor([[[0, 0], [0, 1]], [[0, 0], [2, 2]]])
    counts = torch.tensor([5.0, 1.0, 2.0])
    w = 5 / (counts * 0.5 + 5 / 3)
    ce = F.cross_entropy(logits, target, reduction="none")
    expected = (ce * w[target]).sum() / w[target].sum()
    assert class_weighted_cross_entropy(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_eq16_with_one_class_is_plain_cross_entropy_and_ignores_unlabelled():
    logits = torch.randn(1, 4, 3, 3, requires_grad=True)
    target = torch.full((1, 3, 3), 2)
    loss = class_weighted_cross_entropy(logits, target)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    partial = target.clone()
    partial[0, 0] = -1
    expected = F.cross_entropy(logits, partial, ignore_index=-1)
    assert class_weighted_cross_entropy(logits, partial).item() == pytest.approx(expected.item(), rel=1e-6)


def test_rebalancing_raises_the_weight_of_rare_classes():
    logits = torch.zeros(1, 2, 1, 10)
    target = torch.tensor([[[0] * 9 + [1]]])
    logits[0, 0] = 2.0  # confident in the frequent class everywhere: the rare pixel is wrong
    plain = F.cross_entropy(logits, target)
    assert class_weighted_cross_entropy(logits, target) > plain


def test_decode_mode_and_annealed_mean():
    centers = np.array([[-50.0, 0.0], [50.0, 20.0]], np.float32)
    logits = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(decode_mode(logits, centers).flatten().numpy(), [-50, 0])
    p = torch.softmax(torch.tensor([1.0, 0.0]), 0).numpy()
    np.testing.assert_allclose(decode_annealed_mean(logits, centers, 1.0).flatten().numpy(),
                               p[0] * centers[0] + p[1] * centers[1], rtol=1e-5)
    # T = 0.5: p^2 renormalized.
    q = p**2 / (p**2).sum()
    np.testing.assert_allclose(decode_annealed_mean(logits, centers, 0.5).flatten().numpy(),
                               q[0] * centers[0] + q[1] * centers[1], rtol=1e-5)
    # Small T tends to the mode and stays finite.
    np.testing.assert_allclose(decode_annealed_mean(logits, centers, 1e-3).flatten().numpy(), [-50, 0], atol=1e-3)
    assert decode_annealed_mean(torch.randn(2, 2, 5, 7), centers).shape == (2, 2, 5, 7)
    with pytest.raises(ValueError):
        decode_annealed_mean(logits, centers, 0)


def test_lower_temperature_is_more_vivid():
    centers = torch.tensor(grid_centers()[[210, 215, 219]])
    logits = torch.tensor([1.0, 1.5, 2.0]).reshape(1, 3, 1, 1)  # the most likely class is the most chromatic
    chroma = [decode_annealed_mean(logits, centers, t).flatten()[0].item() for t in (1.0, 0.38, 0.1)]
    assert chroma[0] < chroma[1] < chroma[2]


def test_vibrancy_zero_undoes_the_rebalancing_prior():
    """A network trained with the rebalanced loss outputs W_c p(c) renormalized; vibrancy 0 recovers p (Bayes),
    vibrancy 1 leaves the output as trained, and the weights are those of Eq. 15 over the table's counts."""
    counts = np.array([900.0, 90.0, 9.0, 1.0])
    log_w = rebalance_log_weights(counts, upsilon=0.5)
    np.testing.assert_allclose(log_w.exp().numpy(), batch_class_weights(counts, 0.5), rtol=1e-6)
    p = torch.tensor([0.5, 0.3, 0.15, 0.05])
    trained = torch.log(p * log_w.exp() / (p * log_w.exp()).sum()).reshape(1, 4, 1, 1)
    undone = torch.softmax(rebalanced_logits(trained, log_w, 0.0), dim=1).flatten()
    np.testing.assert_allclose(undone.numpy(), p.numpy(), rtol=1e-5)
    assert rebalanced_logits(trained, log_w, 1.0) is trained
    half = torch.softmax(rebalanced_logits(trained, log_w, 0.5), dim=1).flatten()
    assert p[0] > half[0] > torch.softmax(trained, dim=1).flatten()[0]  # in between, monotonically
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match="vibrancy"):
            rebalanced_logits(trained, log_w, bad)
