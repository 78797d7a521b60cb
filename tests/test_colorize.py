"""Inference: guided upsampling, gamut fitting, and colorize()'s contract (shape, dtype, alpha, L, hints, selection)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from chromaseg.core.classes import ClassTable, GRID_CLASSES
from chromaseg.core.color import lab_to_srgb, srgb_to_lab
from chromaseg.core.colorize import colorize, feather_weights, fit_chroma, get_model, model_size
from chromaseg.core.guided import guided_coefficients, guided_upsample, upsample_rows
from chromaseg.core.model import build_colorizer, save_checkpoint


@pytest.fixture(scope="module")
def model(vivid_colorizer):
    return vivid_colorizer


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 120 * np.sin(xx / (7 + c) + yy / (11 + c) + c) for c in range(3)], -1)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def lightness(img: np.ndarray) -> np.ndarray:
    rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, -1)
    return srgb_to_lab(rgb[..., :3])[..., 0]


# --- guided filter ------------------------------------------------------------------------------------------------


def test_upsample_rows_matches_a_whole_bilinear_resize() -> None:
    x = np.random.default_rng(0).normal(size=(7, 9, 2)).astype(np.float32)
    whole = cv2.resize(x, (50, 31), interpolation=cv2.INTER_LINEAR)
    bands = np.concatenate([upsample_rows(x, (31, 50), a, min(a + 8, 31)) for a in range(0, 31, 8)])
    np.testing.assert_allclose(bands, whole, atol=1e-5)


def test_guided_filter_reproduces_a_linear_function_of_the_guide() -> None:
    guide = np.random.default_rng(1).uniform(size=(40, 30)).astype(np.float32)
    src = np.stack([3 * guide + 1, -2 * guide], -1)
    a, b = guided_coefficients(guide, src, radius=2, eps=1e-8)
    np.testing.assert_allclose(a * guide[..., None] + b, src, atol=1e-3)


def test_guided_upsampling_keeps_colors_inside_edges() -> None:
    # A sharp vertical edge at a non-multiple of the reduction; chroma +40 left, -40 right.
    big = np.zeros((64, 64), np.float32)
    big[:, :29] = 1.0
    small_src = np.where(cv2.resize(big, (16, 16), interpolation=cv2.INTER_AREA) > 0.5, 40.0, -40.0)
    out = guided_upsample(big, small_src[..., None].astype(np.float32), radius=2, eps=1e-4)
    plain = cv2.resize(small_src.astype(np.float32), (64, 64), interpolation=cv2.INTER_LINEAR)
    edge_err_guided = np.abs(out[:, 26:32, 0] - np.where(big[:, 26:32] > 0, 40, -40)).mean()
    edge_err_plain = np.abs(plain[:, 26:32] - np.where(big[:, 26:32] > 0, 40, -40)).mean()
    assert edge_err_guided < 0.5 * edge_err_plain


# --- colorize -----------------------------------------------------------------------------------------------------


def test_fit_chroma_keeps_l() -> None:
    rng = np.random.default_rng(2)
    lab = np.stack([rng.uniform(0, 100, 5000), rng.uniform(-110, 110, 5000), rng.uniform(-110, 110, 5000)], -1)
    rgb = fit_chroma(lab.astype(np.float32))
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert np.abs(srgb_to_lab(rgb)[:, 0] - lab[:, 0]).max() <= 0.2 + 1e-3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [0, 3, 4])
def test_same_shape_dtype_alpha_and_l(model, dtype, channels) -> None:
    base = photo(37, 51)
    if channels == 0:
        img8 = base[..., 1]
    elif channels == 4:
        img8 = np.concatenate([base, np.arange(37 * 51, dtype=np.uint8).reshape(37, 51, 1)], -1)
    else:
        img8 = base
    img = {np.uint8: img8, np.uint16: img8.astype(np.uint16) * 257,
           np.float32: img8.astype(np.float32) / 255}[dtype]
    out = colorize(img, model=model)
    assert out.dtype == img.dtype
    assert out.shape == ((37, 51, 3) if channels == 0 else img.shape)
    if channels == 4:
        assert np.array_equal(out[..., 3], img[..., 3])
    assert np.abs(lightness(out) - lightness(img)).max() <= 0.5
    assert srgb_to_lab(out[..., :3])[..., 1:].std() > 1.0  # it did add color


def test_hinted_pixels_take_the_hint_color(model) -> None:
    img = photo(48, 64)[..., 0]
    hints = np.zeros((48, 64, 4), np.uint8)
    hints[20:26, 30:36] = (200, 40, 40, 255)
    out = colorize(img, hints=hints, model=model)
    got = srgb_to_lab(out[20:26, 30:36])[..., 1:]
    want = srgb_to_lab(np.array([[200, 40, 40]], np.uint8))[0, 1:]
    gray_l = lightness(img)[20:26, 30:36]
    # Where the hint's chroma exists at the pixel's lightness it is kept; elsewhere only reduced, never turned.
    lab = np.concatenate([gray_l[..., None], np.broadcast_to(want, (6, 6, 2))], -1).astype(np.float32)
    reachable = np.abs(srgb_to_lab(lab_to_srgb(lab))[..., 0] - gray_l) <= 0.2
    assert reachable.sum() > 5
    assert np.abs(got[reachable] - want).max() < 1.5
    hue_err = np.abs(np.arctan2(got[..., 1], got[..., 0]) - np.arctan2(want[1], want[0]))
    assert hue_err.max() < 0.1
    assert not np.array_equal(out, colorize(img, model=model))


def test_selection_leaves_outside_unchanged_with_a_soft_edge(model) -> None:
    img = photo(60, 60)
    sel = np.zeros((60, 60), np.uint8)
    sel[10:50, 10:50] = 255
    out = colorize(img, selection=sel, feather=4, model=model)
    assert np.array_equal(out[sel == 0], img[sel == 0])
    full = colorize(img, model=model)
    assert np.array_equal(out[20:40, 20:40], full[20:40, 20:40])
    w = feather_weights(sel, (60, 60), 4)
    assert w[10, 30] < 0.5 and w[14, 30] == 1 and 0 < w[11, 30] < 1


def skewed_colorizer():
    """A random colorizer whose training counts favor the low-chroma classes, as photos do (so the class
    rebalancing, which vibrancy keeps or undoes, is far from uniform)."""
    from chromaseg.core.classes import GRID_CLASSES, ClassTable, grid_centers
    from chromaseg.core.model import build_colorizer

    chroma = np.hypot(*grid_centers().T)
    counts = np.where(np.arange(GRID_CLASSES) % 7 == 0, (1e6 * np.exp(-chroma / 15)).astype(np.int64) + 1, 0)
    torch.manual_seed(0)
    net = build_colorizer("ccc-mobile-tiny", table=ClassTable.from_counts(counts, 1e-9)).eval()
    with torch.no_grad():  # spread, uncertain predictions: the prior then decides much of the mean
        net.head.weight.mul_(0.05)
        net.head.bias.normal_(0, 1)
    return net


def test_vibrancy_changes_saturation() -> None:
    net, img = skewed_colorizer(), photo(40, 40)
    chroma = [np.hypot(*np.moveaxis(srgb_to_lab(colorize(img, vibrancy=v, model=net))[..., 1:], -1, 0)).mean()
              for v in (0.0, 0.5, 1.0)]
    assert chroma[0] < 0.75 * min(chroma[1:])  # undoing the rebalancing mutes; keeping it is bolder
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="vibrancy"):
            colorize(img, vibrancy=bad, model=net)


def test_harmonize_option(model) -> None:
    img = photo(40, 40)
    labels = np.zeros((40, 40), np.int32)
    out = colorize(img, harmonize=True, segments=labels, model=model)
    assert out.shape == img.shape
    with pytest.raises(ValueError, match="segments label map"):
        colorize(img, harmonize=True, segments=labels[:20], model=model)


def test_tiled_path_and_model_resolution(model, monkeypatch) -> None:
    import chromaseg.core.colorize as mod

    img = photo(70, 45)
    whole = colorize(img, model=model, resolution=32)
    monkeypatch.setattr(mod, "TILE_ROWS", 16)
    assert np.array_equal(colorize(img, model=model, resolution=32), whole)
    assert model_size(4096, 2048, 384) == (384, 192) and model_size(10, 20, 384) == (10, 20)


def test_the_checkpoint_sets_the_default_resolution(model, tmp_path, monkeypatch) -> None:
    import chromaseg.core.colorize as mod

    save_checkpoint(model, tmp_path / "r.pt", extra={"resolution": 24})
    net = get_model(tmp_path / "r.pt")
    assert mod.Colorizer.of(net).resolution == 24 and mod.Colorizer.of(model).resolution == mod.DEFAULT_RESOLUTION
    seen = []
    real = mod.predict_ab
    monkeypatch.setattr(mod, "predict_ab", lambda m, l, *a: seen.append(l.shape) or real(m, l, *a))
    colorize(photo(48, 96), model=net)
    colorize(photo(48, 96), model=net, resolution=64)
    assert seen == [(12, 24), (32, 64)]


def test_the_checkpoint_sets_the_default_vibrancy(tmp_path) -> None:
    import chromaseg.core.colorize as mod

    net = skewed_colorizer()
    save_checkpoint(net, tmp_path / "t.pt", extra={"vibrancy": 0.3, "temperature": 0.9})
    saved = get_model(tmp_path / "t.pt")
    assert mod.Colorizer.of(saved).vibrancy == 0.3 and mod.Colorizer.of(net).vibrancy == mod.DEFAULT_VIBRANCY
    assert mod.Colorizer.of(saved).temperature == 0.9
    img = photo(40, 56)
    assert np.array_equal(colorize(img, model=saved), colorize(img, model=saved, vibrancy=0.3))
    assert not np.array_equal(colorize(img, model=saved), colorize(img, model=saved, vibrancy=1.0))


def test_checkpoint_path_is_loaded_once(model, tmp_path) -> None:
    save_checkpoint(model, tmp_path / "m.pt")
    assert get_model(tmp_path / "m.pt") is get_model(str(tmp_path / "m.pt"))


def test_a_colorizer_is_loaded_once_and_colorizes_like_the_function(model, tmp_path) -> None:
    from chromaseg.core.colorize import Colorizer

    img = photo(16, 16)
    colorizer = Colorizer.of(model)
    assert Colorizer.of(model) is colorizer and colorizer.net is model
    assert np.array_equal(colorizer.colorize(img), colorize(img, model=model))
    save_checkpoint(model, tmp_path / "c.pt", extra={"vibrancy": 0.25, "resolution": 40})
    loaded = Colorizer.load(tmp_path / "c.pt")
    assert loaded is Colorizer.load(str(tmp_path / "c.pt")) and loaded.path == tmp_path / "c.pt"
    assert (loaded.vibrancy, loaded.resolution) == (0.25, 40)
    assert loaded.info() == {"vibrancy": 0.25, "resolution": 40, "path": str(tmp_path / "c.pt")}
    # the daemon moves it to its device (CUDA when there is one, with bf16 autocast; the CPU here): same result
    before = loaded.colorize(img)
    assert loaded.to("cpu") is loaded and np.array_equal(loaded.colorize(img), before)


def test_rejects_bad_inputs(model) -> None:
    with pytest.raises(ValueError):
        colorize(np.zeros((4, 4, 2), np.uint8), model=model)
    with pytest.raises(TypeError):
        colorize(np.zeros((4, 4, 3), np.int32), model=model)
    with pytest.raises(ValueError):
        colorize(np.zeros((4, 4, 3), np.uint8), hints=np.zeros((5, 4, 4), np.uint8), model=model)


SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def test_semantic_checkpoint_carries_its_encoder_and_needs_no_weights_folder(tmp_path, monkeypatch) -> None:
    from chromaseg.core.semantic import DeepLabV3MobileNetV2, SemanticColorizer, SemanticEncoder

    counts = np.zeros(GRID_CLASSES, np.int64)
    counts[::9] = 10
    net = build_colorizer("ccc-mobile-tiny", table=ClassTable.from_counts(counts, 1e-3), semantic_channels=8)
    encoder = SemanticEncoder(DeepLabV3MobileNetV2(), 8)
    torch.nn.init.normal_(encoder.projection.weight)
    save_checkpoint(net, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="semantic encoder"):
        get_model(tmp_path / "bare.pt")
    save_checkpoint(net, tmp_path / "sem.pt", encoder=encoder)
    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(tmp_path / "nothing"))
    loaded = get_model(tmp_path / "sem.pt")
    assert isinstance(loaded, SemanticColorizer)
    for k, v in encoder.state_dict().items():  # shipped as float16
        torch.testing.assert_close(loaded.encoder.state_dict()[k], v.half().float() if v.dim() else v, msg=k)
    out = colorize(photo(40, 56), model=tmp_path / "sem.pt")
    assert out.shape == (40, 56, 3)


def test_shipped_weights_are_the_default_and_fit_the_budget(monkeypatch) -> None:
    import chromaseg.core.colorize as mod
    from chromaseg.core.weights import ASSETS

    monkeypatch.setenv("CHROMASEG_WEIGHTS", "/nonexistent")  # the shipped model must work on its own
    path = mod.default_model_path()
    assert path == ASSETS / "colorizer.pt"
    shipped = [ASSETS / n for n in ("colorizer.pt", "class_table.json", "model-card.md")]
    assert sum(p.stat().st_size for p in shipped) <= 25 * 2**20
    net = get_model()
    np.testing.assert_array_equal(ClassTable.load(ASSETS / "class_table.json").kept, net.table.kept)
    assert 0 <= mod.Colorizer.of(net).vibrancy < 1  # measured on validation photos (docs/model-card.md)
    img = photo(50, 70)
    out = colorize(img)
    assert out.shape == img.shape and np.abs(lightness(out) - lightness(img)).max() <= 0.5


# --- preview (core/preview.py) ---------------------------------------------------------------------------------------


def test_preview_size_rounds_keeps_at_least_a_pixel_and_never_enlarges() -> None:
    from chromaseg.core.preview import preview_size

    assert preview_size(200, 300, 64) == (43, 64)  # 200 * 64 / 300 = 42.67
    assert preview_size(300, 200, 64) == (64, 43)
    assert preview_size(1, 5000, 32) == (1, 32)
    assert preview_size(40, 56, 1024) == (40, 56) and preview_size(64, 64, 64) == (64, 64)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_preview_inputs_scale_together_each_as_its_meaning_survives(dtype) -> None:
    from chromaseg.core.preview import scale_inputs

    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    layer = (photo(200, 300).astype(np.float64) / 255 * top).astype(dtype)
    sel = np.zeros((200, 300), np.uint8)
    sel[:, :150] = 255
    sel[:, 150:153] = 255  # a sliver: partial values at the preview's edge
    labels = np.repeat(np.arange(300, dtype=np.int32)[None] // 100, 200, 0) * 7 - 1  # -1, 6, 13
    hints = np.zeros((200, 300, 4), dtype)
    hints[50, 60] = (0, 0, top, top)
    small = scale_inputs(layer, 64, hints=hints, selection=sel, segments=labels)
    assert small.size == (43, 64) and small.scale == 64 / 300
    assert small.layer.shape == (43, 64, 3) and small.layer.dtype == dtype
    assert small.selection.dtype == np.uint8 and 0 < small.selection[:, 32].min() < 255
    assert small.selection[:, :32].min() == 255 and small.selection[:, 33:].max() == 0
    assert small.segments.dtype == np.int32 and set(np.unique(small.segments)) == {-1, 6, 13}
    assert small.hints.shape == (43, 64, 4) and small.hints.dtype == np.float32
    painted = small.hints[..., 3] > 0
    assert painted.sum() == 1 and painted[50 * 43 // 200, 60 * 64 // 300]
    assert np.allclose(small.hints[painted][0, :3], (0, 0, 1))


def test_preview_hints_keep_every_dab_painted_in_its_own_color() -> None:
    from chromaseg.core.preview import scale_hints

    hints = np.zeros((4096, 4096, 4), np.uint8)
    hints[1000, 1000] = (255, 0, 0, 255)  # one pixel of 16384 in its preview pixel
    hints[3000, 3000] = (0, 255, 0, 1)  # nearly transparent: still a hint
    hints[2000:2003, 2000] = (0, 0, 255, 255)
    hints[2000:2003, 2001] = (255, 255, 255, 128)  # two colors in one preview pixel: premultiplied mean
    out = scale_hints(hints, 32, 32)
    assert np.count_nonzero(out[..., 3] > 0) == 3
    assert np.allclose(out[7, 7, :3], (1, 0, 0)) and np.allclose(out[23, 23, :3], (0, 1, 0))
    assert np.allclose(out[15, 15, :3], (1 / 3, 1 / 3, 1), atol=1e-3)
    assert out[7, 7, 3] == pytest.approx(1 / 16384)


def test_a_preview_larger_than_the_layer_is_the_layer_itself() -> None:
    from chromaseg.core.preview import scale_inputs

    layer, hints = photo(40, 56), np.zeros((40, 56, 4), np.uint8)
    same = scale_inputs(layer, 1024, hints=hints)
    assert same.layer is layer and same.hints is hints and same.scale == 1.0 and same.size == (40, 56)


def test_a_one_pixel_hint_on_a_large_layer_colors_the_preview_around_it(model) -> None:
    """512x512 layer, a 1-pixel blue dab, preview 64: the dab is one preview pixel, and its color dominates there
    and around it compared with the same preview colorized without hints."""
    from chromaseg.core.preview import scale_inputs

    yy, xx = np.mgrid[0:512, 0:512]
    layer = np.stack([127 + 60 * np.sin(xx / (37 + c) + yy / (51 + c) + c) for c in range(3)], -1).astype(np.uint8)
    hints = np.zeros((512, 512, 4), np.uint8)
    hints[300, 200] = (30, 60, 230, 255)
    small = scale_inputs(layer, 64, hints=hints)
    (y, x), = np.argwhere(small.hints[..., 3] > 0)
    with_hint = colorize(small.layer, hints=small.hints, model=model)
    without = colorize(small.layer, model=model)
    want = srgb_to_lab(np.array([[30, 60, 230]], np.uint8))[0, 1:]
    near = (slice(y - 3, y + 4), slice(x - 3, x + 4))
    off = [np.linalg.norm(srgb_to_lab(out[near])[..., 1:] - want, axis=-1).mean() for out in (with_hint, without)]
    assert off[0] < 0.5 * off[1]
    assert np.linalg.norm(srgb_to_lab(with_hint[y, x])[1:] - want) < 2
