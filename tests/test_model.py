"""The colorizer network: shapes for any input size, hint paths, registry and self-describing checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from chromaseg.core.classes import ClassTable, GRID_CLASSES
from chromaseg.core.model import (available_architectures, build_colorizer, load_checkpoint, read_checkpoint,
                                  save_checkpoint)


def small_table(k_keep: int = 30) -> ClassTable:
    counts = np.zeros(GRID_CLASSES, np.int64)
    counts[np.random.default_rng(0).choice(GRID_CLASSES, k_keep, replace=False)] = 1000
    counts[210] = 5000  # the neutral bin is always frequent
    return ClassTable.from_counts(counts, threshold_fraction=1e-4)


@pytest.mark.parametrize("h,w", [(64, 64), (37, 53), (1, 1), (9, 130)])
def test_logits_are_quarter_resolution_for_any_size(h: int, w: int) -> None:
    model = build_colorizer("ccc-mobile-tiny", 17).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, h, w) * 100)
    assert out.shape == (2, 17, -(-h // 4), -(-w // 4))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("h,w", [(33, 47), (64, 64)])
def test_dense_encoder_option(h: int, w: int, tmp_path) -> None:
    model = build_colorizer("ccc-dense", table=small_table(), width=8).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 1, h, w) * 100)
    assert out.shape == (1, model.config.num_classes, -(-h // 4), -(-w // 4))
    save_checkpoint(model, tmp_path / "d.pt")
    again = load_checkpoint(tmp_path / "d.pt")
    assert again.config.encoder == "dense"
    with torch.no_grad():
        torch.testing.assert_close(again(torch.ones(1, 1, h, w)), model(torch.ones(1, 1, h, w)))


def test_hints_change_the_prediction() -> None:
    torch.manual_seed(0)
    model = build_colorizer("ccc-mobile-tiny", 12).eval()
    l = torch.rand(1, 1, 32, 32) * 100
    ab = torch.full((1, 2, 32, 32), 40.0)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:14, 10:14] = 1
    with torch.no_grad():
        assert not torch.allclose(model(l), model(l, ab, mask))


def test_semantic_branch_requires_and_uses_features() -> None:
    model = build_colorizer("ccc-mobile-tiny", 10, semantic_channels=5).eval()
    l = torch.rand(1, 1, 40, 40) * 100
    with pytest.raises(ValueError):
        model(l)
    with torch.no_grad():
        out = model(l, semantic=torch.rand(1, 5, 5, 5))
    assert out.shape == (1, 10, 10, 10)


def test_registry() -> None:
    assert {"ccc-mobile", "ccc-mobile-tiny", "ccc-dense"} <= set(available_architectures())
    with pytest.raises(KeyError):
        build_colorizer("nope", 3)
    with pytest.raises(ValueError):
        build_colorizer("ccc-mobile")
    table = small_table()
    assert build_colorizer("ccc-mobile-tiny", table=table).config.num_classes == table.num_classes


def test_checkpoint_round_trip_rebuilds_the_exact_model(tmp_path) -> None:
    table = small_table()
    model = build_colorizer("ccc-mobile", table=table, width=8)
    # Move the BN statistics away from their defaults so the buffers are checked too.
    model.train()
    with torch.no_grad():
        model(torch.rand(4, 1, 24, 24) * 100)
    model.eval()
    path = tmp_path / "c.pt"
    save_checkpoint(model, path, extra={"note": "test"})
    again = load_checkpoint(path)
    assert again.arch == "ccc-mobile" and again.config == model.config
    np.testing.assert_array_equal(again.table.kept, table.kept)
    np.testing.assert_array_equal(again.centers.numpy(), table.centers)
    l = torch.rand(1, 1, 30, 22) * 100
    with torch.no_grad():
        torch.testing.assert_close(again(l), model(l))
    assert read_checkpoint(path)["extra"] == {"note": "test"}


def test_half_checkpoint_is_smaller_and_close(tmp_path) -> None:
    model = build_colorizer("ccc-mobile", table=small_table(), width=8).eval()
    save_checkpoint(model, tmp_path / "f.pt")
    save_checkpoint(model, tmp_path / "h.pt", half=True)
    assert (tmp_path / "h.pt").stat().st_size < (tmp_path / "f.pt").stat().st_size
    l = torch.rand(1, 1, 16, 16) * 100
    with torch.no_grad():
        torch.testing.assert_close(load_checkpoint(tmp_path / "h.pt")(l), model(l), atol=0.05, rtol=0.01)


def test_rejects_foreign_files(tmp_path) -> None:
    torch.save({"hello": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "x.pt")
