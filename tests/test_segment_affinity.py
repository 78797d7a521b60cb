"""A click's object bounded by DeepLab's features (`Prior.resembles`): the classic backend keeps a click to the
cells whose backbone and ASPP features look like those under it, so two touching objects of one gray level are told
apart where their features say so; a prior without features (or no prior) keeps the previous behaviour."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from chromaseg.core.segment import Segmenter
from chromaseg.core.segment.classic_backend import ClassicBackend
from chromaseg.core.segment.objects_eval import iou
from chromaseg.core.segment.prior import BACKGROUND, Prior, compute_prior
from chromaseg.core.semantic import NUM_CLASSES

H, W, CELL = 120, 160, 8  # image size and the prior's cell


def two_touching_objects() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gray photo: two touching dark rectangles, a little apart in gray, on a light background."""
    image = np.full((H, W), 200, np.uint8)
    left, right = np.zeros((H, W), bool), np.zeros((H, W), bool)
    left[32:88, 32:80] = True
    right[32:88, 80:128] = True
    image[left] = 60
    image[right] = 90
    return image, left, right


def prior_with_features(left: np.ndarray, right: np.ndarray) -> Prior:
    """No VOC class anywhere; features: one direction per object and one for the background (unit vectors)."""
    ph, pw = H // CELL, W // CELL
    probs = np.zeros((NUM_CLASSES, ph, pw), np.float32)
    probs[BACKGROUND] = 1
    which = np.zeros((ph, pw), np.int64)
    which[left[CELL // 2::CELL, CELL // 2::CELL]] = 1
    which[right[CELL // 2::CELL, CELL // 2::CELL]] = 2
    features = np.eye(3, dtype=np.float16)[which].transpose(2, 0, 1)
    return Prior(probs, features, features)


def click(prior: Prior | None, image: np.ndarray, x: int, y: int) -> np.ndarray:
    backend = ClassicBackend(None)
    backend.set_image(image)
    backend._prior = prior
    return Segmenter(backend, "test").prompt(image, points=[(x, y)], labels=[1])


def test_a_click_selects_the_object_whose_features_it_is_on() -> None:
    image, left, right = two_touching_objects()
    prior = prior_with_features(left, right)
    # the features are 1/8-resolution cells, so the object's outermost pixels may be lost, never the other object
    on_left = click(prior, image, 56, 60)
    assert iou(on_left, left) > 0.5 and on_left[60, 56] and not (on_left & right).any()
    on_right = click(prior, image, 104, 60)
    assert iou(on_right, right) > 0.5 and on_right[60, 104] and not (on_right & left).any()


def test_without_features_a_click_still_selects_around_itself() -> None:
    image, left, right = two_touching_objects()
    for prior in (Prior(prior_with_features(left, right).probs), None):
        mask = click(prior, image, 56, 60)
        assert mask[60, 56] and not (mask & right).any()


def test_resembles_is_where_both_features_match_any_click() -> None:
    _, left, right = two_touching_objects()
    prior = prior_with_features(left, right)
    like = prior.resembles(np.array([[56.0, 60.0]]), (H, W))
    assert like.shape == (H, W) and like[60, 56] and not like[60, 104] and not like[5, 5]
    both = prior.resembles(np.array([[56.0, 60.0], [104.0, 60.0]]), (H, W))
    assert both[60, 56] and both[60, 104] and not both[5, 5]
    assert Prior(prior.probs).resembles(np.array([[56.0, 60.0]]), (H, W)) is None


class TinyDeepLab(nn.Module):
    """The two modules the prior listens to (``blocks``, ``projection``) and logits on the same 1/8 grid."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Conv2d(3, 5, CELL, stride=CELL)
        self.projection = nn.Conv2d(5, 4, 1)
        self.logits = nn.Conv2d(4, NUM_CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(torch.relu(self.projection(self.blocks(x))))


class LogitsOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, NUM_CLASSES, CELL, stride=CELL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_compute_prior_catches_unit_features_and_leaves_no_hooks() -> None:
    torch.manual_seed(0)
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    net = TinyDeepLab()
    prior = compute_prior(net, rgb)
    assert prior.backbone.shape == (5, H // CELL, W // CELL) and prior.aspp.shape == (4, H // CELL, W // CELL)
    norms = np.linalg.norm(prior.backbone.astype(np.float32), axis=0)
    assert np.allclose(norms, 1, atol=1e-2)
    assert (prior.aspp >= 0).all()  # after the ASPP's ReLU
    assert not net.blocks._forward_hooks and not net.projection._forward_hooks
    plain = compute_prior(LogitsOnly(), rgb)
    assert plain.backbone is None and plain.aspp is None and plain.probs.shape == (NUM_CLASSES, H // CELL, W // CELL)
