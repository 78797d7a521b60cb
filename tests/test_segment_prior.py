"""The no-weights object selection on gray photos: DeepLab's class prior (found in the shipped checkpoint or the
weights directory, computed once per image) plus superpixels bounded by the prompt, and the same backend with no
DeepLab at all."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from chromaseg.core.segment import Segmenter, prior
from chromaseg.core.segment.classic_backend import ClassicBackend
from chromaseg.core.segment.objects_eval import box_mask, interior_point, iou, read_objects

PEOPLE = ("000000000110", "000000000294", "000000000326")  # photos whose largest object is a person


@pytest.fixture(scope="module")
def objects_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "objects"


@pytest.fixture(scope="module")
def deeplab(shared_dir: Path) -> object:
    from chromaseg.core.semantic import load_deeplab

    model = load_deeplab(shared_dir / "models")
    assert model is not None, "../shared/models holds the DeepLab IR"
    return model


@pytest.fixture(scope="module")
def people(objects_dir: Path) -> list[tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]]:
    """(gray photo, true mask, box) of each photo's largest object, a person."""
    out = []
    for case in read_objects(objects_dir):
        if case.image in PEOPLE and case.mask_path.name.endswith(".obj0.png"):
            gray = np.asarray(Image.open(objects_dir / f"{case.image}.jpg").convert("L"))
            out.append((gray, np.asarray(Image.open(case.mask_path)) > 127, case.box))
    assert len(out) == len(PEOPLE)
    return out


def test_find_deeplab_prefers_the_checkpoint_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    import chromaseg.core.model as model
    import chromaseg.core.semantic as semantic

    net = object()
    monkeypatch.setattr(model, "load_checkpoint", lambda path: SimpleNamespace(encoder=SimpleNamespace(deeplab=net)))
    monkeypatch.setattr(semantic, "load_deeplab", lambda folder=None: pytest.fail("the checkpoint had one"))
    assert prior.find_deeplab() is net


def test_find_deeplab_falls_back_to_the_weights_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    import chromaseg.core.model as model
    import chromaseg.core.semantic as semantic

    net = object()
    monkeypatch.setattr(model, "load_checkpoint", lambda path: SimpleNamespace())  # a colorizer without encoder
    monkeypatch.setattr(semantic, "load_deeplab", lambda folder=None: net)
    assert prior.find_deeplab() is net
    monkeypatch.setattr(semantic, "load_deeplab", lambda folder=None: None)
    assert prior.find_deeplab() is None


def test_find_deeplab_reads_the_ir(monkeypatch: pytest.MonkeyPatch, shared_dir: Path) -> None:
    from chromaseg.core.semantic import DeepLabV3MobileNetV2

    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(shared_dir / "models"))
    assert isinstance(prior.find_deeplab(), DeepLabV3MobileNetV2)


def test_prior_is_computed_once_per_image(deeplab: object, people: list) -> None:
    seg = Segmenter(ClassicBackend(deeplab), "test")
    gray, truth, box = people[0]
    seg.set_image(gray)
    seg.prompt(gray, box=box)
    seg.prompt(gray, points=[interior_point(truth)], labels=[1])
    assert (seg.priors.misses, seg.priors.hits) == (1, 2)
    seg.prompt(gray[:, ::-1].copy(), box=box)  # other content, other entry
    assert seg.priors.misses == 2


@pytest.mark.parametrize("with_deeplab", [True, False])
def test_box_and_click_follow_the_person(deeplab: object, people: list, with_deeplab: bool) -> None:
    seg = Segmenter(ClassicBackend(deeplab if with_deeplab else None), "test")
    box_scores, click_scores, rect_scores = [], [], []
    for gray, truth, box in people:
        by_box = seg.prompt(gray, box=box)
        assert not (by_box & ~box_mask(truth.shape, box)).any()  # a box prompt never leaves its box
        box_scores.append(iou(by_box, truth))
        click_scores.append(iou(seg.prompt(gray, points=[interior_point(truth)], labels=[1]), truth))
        rect_scores.append(iou(box_mask(truth.shape, box), truth))
    assert np.mean(box_scores) > np.mean(rect_scores)
    assert np.mean(click_scores) > (0.5 if with_deeplab else 0.2)


def test_clicks_add_and_subtract(deeplab: object, people: list) -> None:
    seg = Segmenter(ClassicBackend(deeplab), "test")
    gray, truth, box = people[0]
    base = seg.prompt(gray, box=box)
    ys, xs = np.nonzero(base)
    inside_pt = (int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    minus = seg.prompt(gray, box=box, points=[inside_pt], labels=[0])
    assert not minus[inside_pt[1], inside_pt[0]] and not (minus & ~base).any()
    ys, xs = np.nonzero(box_mask(truth.shape, box) & ~base)
    outside_pt = (int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    plus = seg.prompt(gray, box=box, points=[outside_pt], labels=[1])
    assert plus[outside_pt[1], outside_pt[0]] and not (base & ~plus).any()


def test_selection_is_refined_toward_the_object(deeplab: object, people: list) -> None:
    seg = Segmenter(ClassicBackend(deeplab), "test")
    gray, truth, box = people[1]
    rough = box_mask(truth.shape, box)
    refined = seg.prompt(gray, mask=rough)
    assert iou(refined, truth) > iou(rough, truth)


def test_auto_makes_a_person_one_segment(deeplab: object, people: list) -> None:
    def largest_share(seg: Segmenter, gray: np.ndarray, truth: np.ndarray) -> float:
        labels = seg.auto(gray, max_segments=64)
        return np.bincount(labels[truth & (labels >= 0)]).max() / truth.sum()

    with_prior, without = Segmenter(ClassicBackend(deeplab), "t"), Segmenter(ClassicBackend(None), "t")
    for gray, truth, _ in people:
        labels = with_prior.auto(gray, max_segments=64)
        assert labels.max() < 64 and (labels >= 0).all()
        assert largest_share(with_prior, gray, truth) >= 0.6
        assert largest_share(with_prior, gray, truth) > largest_share(without, gray, truth)


def test_classic_without_deeplab(monkeypatch: pytest.MonkeyPatch, people: list) -> None:
    monkeypatch.setattr(prior, "find_deeplab", lambda: None)
    seg = Segmenter.classic()
    assert seg.priors is None and "no DeepLab prior" in seg.reason
    gray, truth, box = people[0]
    seg.set_image(gray)
    assert seg.prompt(gray, box=box).any()
    assert seg.prompt(gray, points=[interior_point(truth)], labels=[1]).any()


def test_eval_objects_cli(objects_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture) -> None:
    from chromaseg.cli.main import main

    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(tmp_path / "no-weights"))
    out = tmp_path / "report.json"
    assert main(["eval-objects", "--dir", str(objects_dir), "--limit", "2", "--backend", "classic-no-prior",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 2 and report["objects"] == len(report["rows"]) > 0
    for key in ("box_miou", "click_miou", "rectangle_miou"):
        assert 0 <= report[key] <= 1
    assert "rectangle baseline" in capsys.readouterr().out
