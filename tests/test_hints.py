"""Simulated hints (training / evaluation) and the parser of the artist's RGBA hint layer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from chromaseg.core.color import srgb_to_lab
from chromaseg.core.hints import (HintSampling, hint_layer_pixels, parse_hint_layer, random_hints,
                                  sample_hint_count, simulate_hints)


def test_hint_counts_are_geometric_with_hint_free_share() -> None:
    g = torch.Generator().manual_seed(0)
    s = HintSampling()
    counts = sample_hint_count(40000, s, g)
    assert counts.min() == 0 and counts.max() <= s.max_hints
    assert abs((counts == 0).float().mean().item() - s.p_no_hints) < 0.01
    positive = counts[counts > 0].float()
    assert abs(positive.mean().item() - 1 / s.p_geometric) < 0.25  # geometric mean 1/p (cap barely matters)
    assert abs((positive == 1).float().mean().item() - s.p_geometric) < 0.01


def test_dense_hint_counts_reach_the_dozens_a_restorer_places() -> None:
    g = torch.Generator().manual_seed(0)
    geometric = sample_hint_count(40000, HintSampling(), g)
    dense_sampling = HintSampling(dense_share=0.3)
    dense = sample_hint_count(40000, dense_sampling, g)
    assert (geometric[geometric > 0] >= 50).float().mean() < 0.003  # (7/8)^49 = 0.0014: the tail barely gets there
    hinted = dense[dense > 0]
    expected = 0.3 * (1 - np.log(50) / np.log(dense_sampling.max_hints + 1))  # log-uniform mass at >= 50
    assert abs((hinted >= 50).float().mean().item() - expected) < 0.01
    assert abs((dense == 0).float().mean().item() - dense_sampling.p_no_hints) < 0.01
    assert dense.max() <= dense_sampling.max_hints


def test_without_dense_hints_the_random_stream_is_unchanged() -> None:
    """A run started before dense hints existed resumes drawing exactly what it drew: two uniform draws per batch
    (the geometric count, the hint-free coin), nothing more."""
    used, reference = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    counts = sample_hint_count(64, HintSampling(), used)
    u, coin = torch.rand(64, generator=reference).clamp_min(1e-12), torch.rand(64, generator=reference)
    geometric = (torch.floor(torch.log(u) / np.log1p(-1 / 8)).long() + 1).clamp_max(128)
    assert torch.equal(counts, torch.where(coin < 0.25, 0, geometric))
    assert torch.equal(used.get_state(), reference.get_state())


def test_dense_share_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="dense_share"):
        HintSampling(dense_share=1.5)


def test_patches_carry_their_true_mean_color() -> None:
    g = torch.Generator().manual_seed(1)
    ab = torch.randn(3, 2, 40, 50) * 30
    counts = torch.tensor([0, 1, 5])
    hint_ab, mask = simulate_hints(ab, counts, fixed_size=6, generator=g)
    assert mask.shape == (3, 1, 40, 50) and hint_ab.shape == (3, 2, 40, 50)
    assert mask[0].sum() == 0 and (hint_ab[0] == 0).all()
    m1 = mask[1, 0].bool()
    assert m1.sum() == 36  # one 6x6 patch
    ys, xs = torch.nonzero(m1, as_tuple=True)
    patch = ab[1, :, ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    torch.testing.assert_close(hint_ab[1, :, m1], patch.mean(dim=(1, 2))[:, None].expand(2, 36))
    assert 0 < mask[2].sum() <= 5 * 36
    assert (hint_ab * (1 - mask) == 0).all()


def test_hints_are_center_biased_and_sizes_in_range() -> None:
    g = torch.Generator().manual_seed(2)
    ab = torch.zeros(256, 2, 64, 64)
    _, mask = simulate_hints(ab, torch.full((256,), 1), generator=g)
    m = mask[:, 0]
    area = m.sum(dim=(1, 2))
    assert area.min() >= 1 and area.max() <= 81
    center = m[:, 16:48, 16:48].sum()
    assert center > 0.4 * m.sum()  # uniform positions would put 25 % there; std = side / 4 about 47 %


def test_seeded_hints_are_reproducible() -> None:
    ab = torch.randn(4, 2, 32, 32) * 20
    a = random_hints(ab, generator=torch.Generator().manual_seed(5))
    b = random_hints(ab, generator=torch.Generator().manual_seed(5))
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_hint_layer_parser_full_and_reduced_resolution() -> None:
    layer = np.zeros((100, 80, 4), np.uint8)
    layer[10, 20] = (200, 30, 40, 255)  # one red pixel
    layer[50:60, 40:50] = (20, 60, 200, 10)  # a faint (alpha > 0) blue square
    mask, ab = hint_layer_pixels(layer)
    assert mask.sum() == 101 and ab.shape == (101, 2)
    red = srgb_to_lab(np.array([[200, 30, 40]], np.uint8))[0, 1:]
    blue = srgb_to_lab(np.array([[20, 60, 200]], np.uint8))[0, 1:]
    full_ab, full_mask = parse_hint_layer(layer)
    assert full_mask.sum() == 101
    np.testing.assert_allclose(full_ab[:, 10, 20], red, atol=1e-4)
    small_ab, small_mask = parse_hint_layer(layer, size=(10, 8))
    assert small_mask.sum() == 2  # the single pixel survives the 10x reduction
    np.testing.assert_allclose(small_ab[:, 1, 2], red, atol=1e-4)
    np.testing.assert_allclose(small_ab[:, 5, 4], blue, atol=1e-4)
    assert (small_ab[:, ~small_mask] == 0).all()


def test_hint_layer_must_be_rgba() -> None:
    with pytest.raises(ValueError):
        hint_layer_pixels(np.zeros((4, 4, 3), np.uint8))
    ab, m = parse_hint_layer(np.zeros((4, 4, 4), np.uint16), size=(2, 2))
    assert not m.any() and (ab == 0).all()
