"""A plain-torch ``torchvision::nms`` for torchvision builds whose compiled ops cannot load on this torch.

segment-anything, MobileSAM and timm import torchvision at import time, and the only torchvision that matches a CPU
torch 2.13 on some machines is a CUDA build whose ``_C`` extension fails to load; torchvision then dies at import
(``operator torchvision::nms does not exist``). SAM needs only nms/batched_nms from the compiled ops, so we define that
operator ourselves -- but only when the compiled one is missing, so a matching torch + torchvision pair is untouched.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

_LIBRARY: torch.library.Library | None = None  # kept alive: dropping it unregisters the operators
_STATE: str | None = None


def _compiled_ops_load() -> bool:
    """Load torchvision's compiled extension the way torchvision does; True when ``torchvision::nms`` then exists."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return False
    for lib in Path(spec.origin).parent.glob("_C.*"):
        try:
            torch.ops.load_library(str(lib))
        except (OSError, RuntimeError, ImportError):
            return False
    try:
        torch.ops.torchvision.nms
    except (AttributeError, RuntimeError):
        return False
    return True


def nms_reference(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS: indices of kept boxes in decreasing score order (same contract as torchvision.ops.nms)."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    boxes = boxes.float()
    order = torch.argsort(scores.float(), descending=True, stable=True)
    b = boxes[order]
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=torch.finfo(torch.float32).tiny)
    over = (iou > iou_threshold).cpu().numpy()
    suppressed = [False] * len(order)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in over[i, i + 1:].nonzero()[0]:
            suppressed[i + 1 + j] = True
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def _define_fallback() -> None:
    global _LIBRARY
    lib = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        lib.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl(name, nms_reference, "CPU")
    _LIBRARY = lib


def ensure_torchvision() -> str:
    """Make ``import torchvision`` work; returns "compiled" or "cpu-fallback" (which nms SAM will run).

    Must run before anything imports torchvision (segment_anything, mobile_sam, timm)."""
    global _STATE
    if _STATE is not None:
        return _STATE
    if "torchvision" in sys.modules or _compiled_ops_load():
        _STATE = "compiled"
        return _STATE
    _define_fallback()
    import torchvision.extension

    torchvision.extension._has_ops = lambda: True  # nms and qnms exist now; torchvision's guard only checks _C
    import torchvision  # noqa: F401

    _STATE = "cpu-fallback"
    return _STATE
