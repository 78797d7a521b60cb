"""What each automatic segment is: the PASCAL VOC class DeepLab's prior gives at least half of its pixels
(`Prior.segment_classes`, `Segmenter.segment_classes`), None without a prior."""
from __future__ import annotations

import numpy as np
import pytest

from chromaseg.core.segment import Segmenter
from chromaseg.core.segment.classic_backend import ClassicBackend
from chromaseg.core.segment.prior import BACKGROUND, Prior
from chromaseg.core.semantic import NUM_CLASSES, VOC_CLASSES

PERSON, DOG = VOC_CLASSES.index("person"), VOC_CLASSES.index("dog")


def prior_of(classes: np.ndarray) -> Prior:
    """A prior whose argmax is ``classes`` (h, w) at its own resolution."""
    probs = np.full((NUM_CLASSES, *classes.shape), 0.01, np.float32)
    np.put_along_axis(probs, classes[None].astype(np.int64), 0.8, axis=0)
    return Prior(probs)


def test_a_class_covering_half_a_segment_names_it() -> None:
    classes = np.zeros((4, 8), np.int64)
    classes[:, :2] = PERSON  # segment 0: all person
    classes[:2, 2:4] = DOG  # segment 1: half dog
    classes[:1, 4:6] = DOG  # segment 2: a quarter dog
    labels = np.repeat(np.array([[0, 0, 1, 1, 2, 2, 3, -1]]), 4, 0)  # segment 3: background
    big_labels = np.kron(labels, np.ones((5, 5), np.int64))  # the label map is 5x the prior's size
    assert prior_of(classes).segment_classes(big_labels) == ["person", "dog", None, None]


def test_label_gaps_and_no_segment_give_none_or_nothing() -> None:
    p = prior_of(np.full((3, 3), PERSON))
    labels = np.full((9, 9), -1)
    assert p.segment_classes(labels) == []
    labels[:3] = 2  # labels 0 and 1 have no pixel
    assert p.segment_classes(labels) == [None, None, "person"]


def test_background_never_names_a_segment() -> None:
    p = prior_of(np.full((2, 2), BACKGROUND))
    assert p.segment_classes(np.zeros((10, 10), np.int32)) == [None]


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    """A gray image with a bright figure on the left, a dark block on the right, and a prior that sees a person
    where the figure is (at 1/8 of the image, as DeepLab's output)."""
    image = np.full((96, 128), 60, np.uint8)
    image[16:80, 16:48] = 220
    image[24:72, 80:120] = 120
    classes = np.zeros((12, 16), np.int64)
    classes[2:10, 2:6] = PERSON
    return image, classes


def test_the_classic_segmenter_names_the_segment_its_prior_calls_a_person() -> None:
    image, classes = synthetic()
    impl = ClassicBackend(None)
    impl.prior = lambda rgb8: prior_of(classes)  # an injected DeepLab prior
    seg = Segmenter(impl, "test")
    labels = seg.auto(image, max_segments=8)
    names = seg.segment_classes(labels, image)
    assert len(names) == labels.max() + 1
    figure = np.bincount(labels[16:80, 16:48].ravel()).argmax()
    assert names[figure] == "person"
    assert [n for i, n in enumerate(names) if i != figure] == [None] * (len(names) - 1)
    seg.set_image(image)
    assert seg.segment_classes(labels) == names  # on the image set


def test_without_a_prior_every_segment_is_none() -> None:
    image, _ = synthetic()
    seg = Segmenter(ClassicBackend(None), "no DeepLab")
    labels = seg.auto(image, max_segments=8)
    assert seg.segment_classes(labels, image) == [None] * (labels.max() + 1)

    class NoPrior:  # a backend that knows no classes (SAM)
        name = "sam:test"

    assert Segmenter(NoPrior(), "sam").segment_classes(labels, image) == [None] * (labels.max() + 1)


def test_labels_of_another_size_or_no_image_are_refused() -> None:
    image, _ = synthetic()
    seg = Segmenter(ClassicBackend(None), "test")
    with pytest.raises(ValueError, match="no image"):
        seg.segment_classes(np.zeros((96, 128), np.int32))
    with pytest.raises(ValueError, match="labels"):
        seg.segment_classes(np.zeros((10, 10), np.int32), image)
