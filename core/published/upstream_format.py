"""Reading published weight files in their upstream layout, and refusing any that do not fit the architecture exactly.

Two layouts exist: a raw state dict (SIGGRAPH17) and BasicSR's ``{'params': state_dict}`` (DDColor). A file is
accepted only when every tensor the architecture needs is present with its exact shape and nothing else is there,
with two explicit, named exceptions an architecture may declare:

* missing BatchNorm ``num_batches_tracked`` counters (files saved before PyTorch 0.4.1 lack them; the counter only
  matters for training with momentum=None, so it is filled with 0), and
* legacy tensors: ones upstream's older code saved and its current architecture dropped (checked by shape, then
  discarded).

Every refusal is one line naming the file and the first offending key, so a truncated download or the wrong file
for an architecture is told apart at a glance.
"""
from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

BATCH_COUNT_SUFFIX = ".num_batches_tracked"


class UpstreamFormat(Enum):
    RAW_STATE_DICT = "a raw state dict"
    BASICSR_PARAMS = "{'params': state_dict}"


class CheckpointError(ValueError):
    """A weights file that cannot be used for the requested architecture (message: one line)."""


def _shape(shape: torch.Size | tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def read_state_dict(path: str | os.PathLike, file_format: UpstreamFormat) -> dict[str, torch.Tensor]:
    """The tensors of a file in ``file_format``; CheckpointError when it is unreadable or laid out otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load's failures on damaged files span zipfile, pickle, EOF and runtime errors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"{path}: not a readable PyTorch weights file (truncated or corrupt?): {reason}") from None
    if file_format is UpstreamFormat.BASICSR_PARAMS:
        if not isinstance(content, Mapping) or "params" not in content:
            found = sorted(content)[:5] if isinstance(content, Mapping) else type(content).__name__
            raise CheckpointError(f"{path}: expected {file_format.value}, found {found}")
        content = content["params"]
    if not isinstance(content, Mapping):
        raise CheckpointError(f"{path}: expected {file_format.value}, found {type(content).__name__}")
    for key, value in content.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: {key!r} is a {type(value).__name__}, not a tensor "
                                  f"(expected {file_format.value})")
    return dict(content)


def _problems(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor],
              fill_missing_batch_counts: bool, legacy_tensors: Mapping[str, tuple[int, ...]]) -> list[str]:
    problems = []
    for key, tensor in expected.items():
        if key not in state:
            if not (fill_missing_batch_counts and key.endswith(BATCH_COUNT_SUFFIX)):
                problems.append(f"missing tensor {key!r} of shape {_shape(tensor.shape)}")
        elif state[key].shape != tensor.shape:
            problems.append(f"tensor {key!r} has shape {_shape(state[key].shape)}, expected {_shape(tensor.shape)}")
    for key, tensor in state.items():
        if key in expected:
            continue
        if key not in legacy_tensors:
            problems.append(f"unexpected tensor {key!r} of shape {_shape(tensor.shape)}")
        elif tuple(tensor.shape) != tuple(legacy_tensors[key]):
            problems.append(f"legacy tensor {key!r} has shape {_shape(tensor.shape)}, "
                            f"expected {_shape(legacy_tensors[key])}")
    return problems


def check_strictly(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str, *,
                   fill_missing_batch_counts: bool = False,
                   legacy_tensors: Mapping[str, tuple[int, ...]] | None = None) -> None:
    """CheckpointError naming ``source`` and the first offending key unless ``state`` has exactly the tensors of
    ``expected`` (a state dict, possibly of a model on the meta device) up to the declared exceptions."""
    problems = _problems(state, expected, fill_missing_batch_counts, legacy_tensors or {})
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckpointError(f"{source}: {problems[0]}{more}")


def load_strictly(model: nn.Module, state: Mapping[str, torch.Tensor], source: str, *,
                  fill_missing_batch_counts: bool = False,
                  legacy_tensors: Mapping[str, tuple[int, ...]] | None = None) -> nn.Module:
    """Load ``state`` into ``model`` after ``check_strictly``; returns the model in eval mode.

    The file's tensors are assigned (cast to the model's dtypes), not copied, so ``model`` may be built on the meta
    device: a large model then never holds a random initialization it would overwrite at once.
    """
    expected = model.state_dict()
    check_strictly(state, expected, source, fill_missing_batch_counts=fill_missing_batch_counts,
                   legacy_tensors=legacy_tensors)
    complete = {key: (state[key] if key in state else torch.zeros((), dtype=torch.long)).to(tensor.dtype)
                for key, tensor in expected.items()}
    model.load_state_dict(complete, strict=True, assign=True)
    return model.eval()
