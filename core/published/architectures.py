"""The published architectures by name, each with its upstream file layout: build one, or load a file into it.

In the manner of segment-anything's ``sam_model_registry``: the name picks the constructor and its upstream
configuration; ``load_published(name, path)`` is the one way a file becomes a model (strict checks, eval mode).
DDColor's large weights (``ddcolor_paper``, ``ddcolor_modelscope``, ``ddcolor_artistic``) share one configuration
and differ only in training data, so their names are aliases of ``ddcolor-large``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from chromaseg.core.published import ddcolor, siggraph17
from chromaseg.core.published.upstream_format import UpstreamFormat, check_strictly, load_strictly, read_state_dict

DDCOLOR_LEGACY_HEAD_CLASSES = 4


def _ddcolor_legacy_head(config: ddcolor.DDColorConfig) -> dict[str, tuple[int, ...]]:
    """DDColor's first release (May 2023) kept a 4-way classifier on the ConvNeXt and loaded its files strictly;
    upstream dropped it in Aug 2023 (commit 1a190e2) and switched to strict=False, so files trained before then
    carry ``encoder.arch.head_cls``. It never influenced the colors: accepted at its exact shape and discarded."""
    width = config.encoder.dims[-1]
    return {"encoder.arch.head_cls.weight": (DDCOLOR_LEGACY_HEAD_CLASSES, width),
            "encoder.arch.head_cls.bias": (DDCOLOR_LEGACY_HEAD_CLASSES,)}


@dataclass(frozen=True)
class PublishedArchitecture:
    name: str
    build: Callable[[], nn.Module]
    file_format: UpstreamFormat
    working_size: int
    takes_hints: bool  # SIGGRAPH17 reads the artist's hints; DDColor's output is corrected by hint propagation
    fill_missing_batch_counts: bool = False
    legacy_tensors: Callable[[], dict[str, tuple[int, ...]]] = dict


SIGGRAPH17 = PublishedArchitecture(
    "siggraph17", siggraph17.Siggraph17Colorizer, UpstreamFormat.RAW_STATE_DICT, siggraph17.WORKING_SIZE,
    takes_hints=True, fill_missing_batch_counts=True)


def _ddcolor(name: str, config: ddcolor.DDColorConfig) -> PublishedArchitecture:
    return PublishedArchitecture(
        name, lambda: ddcolor.DDColor(config), UpstreamFormat.BASICSR_PARAMS, ddcolor.WORKING_SIZE,
        takes_hints=False, legacy_tensors=lambda: _ddcolor_legacy_head(config))


DDCOLOR_TINY = _ddcolor("ddcolor-tiny", ddcolor.DDCOLOR_TINY)
DDCOLOR_LARGE = _ddcolor("ddcolor-large", ddcolor.DDCOLOR_LARGE)

ARCHITECTURES: dict[str, PublishedArchitecture] = {
    "siggraph17": SIGGRAPH17,
    "ddcolor-tiny": DDCOLOR_TINY,
    "ddcolor-large": DDCOLOR_LARGE,
    "ddcolor-paper": DDCOLOR_LARGE,
    "ddcolor-modelscope": DDCOLOR_LARGE,
    "ddcolor-artistic": DDCOLOR_LARGE,
}


def architecture(name: str) -> PublishedArchitecture:
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown published architecture {name!r} (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[name]


def _storage_free(arch: PublishedArchitecture) -> nn.Module:
    """The architecture on the meta device: its state dict gives the expected names and shapes, and loading assigns
    the file's tensors, so no random initialization is computed only to be overwritten."""
    with torch.device("meta"):
        return arch.build()


def _strictness(arch: PublishedArchitecture) -> dict:
    return {"fill_missing_batch_counts": arch.fill_missing_batch_counts, "legacy_tensors": arch.legacy_tensors()}


def load_published(name: str, path: str | os.PathLike) -> nn.Module:
    """A file in ``name``'s upstream layout -> its model in eval mode; CheckpointError (one line) when the file is
    unreadable, laid out otherwise, or has a missing, unexpected or misshapen tensor."""
    arch = architecture(name)
    state = read_state_dict(path, arch.file_format)
    return load_strictly(_storage_free(arch), state, f"{path} ({arch.name})", **_strictness(arch))


def check_published_file(name: str, path: str | os.PathLike) -> None:
    """The checks of ``load_published`` without building the model: what ``chromaseg weights verify`` runs on
    files whose upstream publishes no hash."""
    arch = architecture(name)
    state = read_state_dict(path, arch.file_format)
    check_strictly(state, _storage_free(arch).state_dict(), f"{path} ({arch.name})", **_strictness(arch))
