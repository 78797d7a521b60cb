"""What each op accepts (params and frames, checked in the socket loop before a job is queued) and the handlers that
run the long ones in the worker: decode frames to NumPy views, call chromaseg.core, encode result frames.

Handlers stay thin: the pixels work lives in core, so a better colorizer or segmenter lands there, not here.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from chromaseg.bridge.protocol import DTYPES, Descriptor, ErrorCode, ProtocolError, Request
from chromaseg.bridge.worker import INTERACTIVE, NORMAL, JobContext, Outcome

log = logging.getLogger("chromaseg.bridge.ops")

IMAGE_DTYPES = ("u8", "u16", "f32")
BAND_ROWS = 64  # rows per band of the banded passes: the unit of progress and cancellation


# --- specs ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A typed parameter with a default and an inclusive range (numbers) or a checker (everything else)."""

    kind: type | tuple[type, ...]
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    check: Callable[[Any], bool] | None = None
    hint: str = ""


@dataclass(frozen=True)
class FrameRule:
    """A frame an op takes: allowed dtypes and channel counts (0 = a 2-D HxW plane)."""

    dtypes: tuple[str, ...]
    channels: tuple[int, ...]
    required: bool = False


@dataclass(frozen=True)
class OpSpec:
    name: str
    params: Mapping[str, Param] = field(default_factory=dict)
    frames: Mapping[str, FrameRule] | None = field(default_factory=dict)  # None: any frames (echo)
    needs: str | None = None  # the model the op needs ("colorizer", "segmenter")


def _points(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= 256 and all(
        isinstance(p, list) and len(p) == 2 and all(_is_number(c) for c in p) for p in v
    )


def _box(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 4 and all(_is_number(c) for c in v)


def _labels(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= 256 and all(c in (0, 1) and type(c) is int for c in v)


def _is_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


_LAYER = FrameRule(IMAGE_DTYPES, (0, 3, 4), required=True)
_MASK = FrameRule(("u8",), (0,))
_LABELS = FrameRule(("u8", "u16", "i32"), (0,))

SPECS: dict[str, OpSpec] = {
    "ping": OpSpec("ping"),
    "info": OpSpec("info"),
    "echo": OpSpec("echo", frames=None),
    "cancel": OpSpec("cancel", {"target": Param(str, check=lambda v: 0 < len(v) <= 64, hint="a request id")}),
    "segment": OpSpec(
        "segment",
        {
            "points": Param(list, check=_points, hint="[[x, y], ...]"),
            "labels": Param(list, check=_labels, hint="[1 or 0 per point]"),
            "box": Param(list, check=_box, hint="[x0, y0, x1, y1]"),
            "max_segments": Param(int, 64, 1, 1024),
            "min_area": Param(int, None, 0, 1 << 40),
        },
        {"layer": _LAYER, "selection": _MASK},
        needs="segmenter",
    ),
    "colorize": OpSpec(
        "colorize",
        {
            "vibrancy": Param((int, float), None, 0.01, 10.0),
            "resolution": Param(int, None, 16, 4096),
            "feather": Param((int, float), None, 0.0, 4096.0),
            "harmonize": Param(bool, False),
            "segment_pass": Param(bool, False),
            "confine_hints": Param(bool, False),
        },
        {"layer": _LAYER, "selection": _MASK, "hints": FrameRule(IMAGE_DTYPES, (4,)), "segments": _LABELS},
        needs="colorizer",
    ),
    "harmonize": OpSpec(
        "harmonize",
        {
            "delta_a": Param((int, float), 8.0, 0.0, 256.0),
            "delta_b": Param((int, float), 8.0, 0.0, 256.0),
            "min_pixels": Param(int, 500, 0, 1 << 40),
        },
        {
            "layer": FrameRule(IMAGE_DTYPES, (3, 4), required=True),
            "segments": _LABELS,
            "selection": _MASK,
            "protect": _MASK,
        },
    ),
}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({"int": "integer", "float": "number", "str": "string"}.get(k.__name__, k.__name__) for k in kinds)


def _check_param(op: str, name: str, spec: Param, value: Any, rid: str) -> Any:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    ok = type(value) in kinds  # type(), not isinstance(): JSON true is not the integer 1 here
    if ok and type(value) in (int, float):
        ok = math.isfinite(value) and (spec.lo is None or value >= spec.lo) and (spec.hi is None or value <= spec.hi)
    if ok and spec.check is not None:
        ok = spec.check(value)
    if not ok:
        want = spec.hint or _type_name(spec.kind)
        if spec.lo is not None:
            want += f" in [{spec.lo:g}, {spec.hi:g}]"
        raise ProtocolError(ErrorCode.BAD_PARAMS, f"{op}: param {name!r} must be {want}, got {value!r:.80}", rid)
    return value


def validate(req: Request) -> dict[str, Any]:
    """Check params and frames of `req` against its op; returns the params with defaults filled in."""
    spec = SPECS[req.op]
    unknown = sorted(set(req.params) - set(spec.params))
    if unknown:
        raise ProtocolError(
            ErrorCode.UNKNOWN_FIELD,
            f"{req.op}: unknown param(s) {unknown}; it takes {sorted(spec.params) or 'none'}",
            req.id,
        )
    params = {}
    for name, p in spec.params.items():
        if name in req.params and req.params[name] is not None:
            params[name] = _check_param(req.op, name, p, req.params[name], req.id)
        else:
            params[name] = p.default
    if req.op == "cancel" and params["target"] is None:
        raise ProtocolError(ErrorCode.BAD_PARAMS, "cancel needs param 'target': the id of the request to cancel", req.id)
    if spec.frames is not None:
        _check_frames(req.op, spec.frames, req.frames, req.id)
    if req.op == "segment" and params["labels"] is not None and len(params["labels"]) != len(params["points"] or []):
        raise ProtocolError(ErrorCode.BAD_PARAMS, "segment: 'labels' needs one entry per point", req.id)
    return params


def _check_frames(op: str, rules: Mapping[str, FrameRule], frames: tuple[Descriptor, ...], rid: str) -> None:
    by_name = {d.name: d for d in frames}
    unknown = sorted(set(by_name) - set(rules))
    if unknown:
        raise ProtocolError(
            ErrorCode.UNKNOWN_FIELD, f"{op}: unknown frame(s) {unknown}; it takes {sorted(rules)}", rid
        )
    size = None
    for name, rule in rules.items():
        d = by_name.get(name)
        if d is None:
            if rule.required:
                raise ProtocolError(ErrorCode.FRAME_MISMATCH, f"{op} needs a frame named {name!r}", rid)
            continue
        if d.dtype not in rule.dtypes:
            raise ProtocolError(
                ErrorCode.BAD_DTYPE, f"{op}: frame {name!r} must be one of {list(rule.dtypes)}, got {d.dtype}", rid
            )
        channels = 0 if len(d.shape) == 2 else (d.shape[2] if len(d.shape) == 3 else -1)
        if channels not in rule.channels:
            forms = ["HxW" if c == 0 else f"HxWx{c}" for c in rule.channels]
            raise ProtocolError(
                ErrorCode.BAD_SHAPE, f"{op}: frame {name!r} must be {' or '.join(forms)}, got {list(d.shape)}", rid
            )
        if size is None:
            size = d.shape[:2]
        elif d.shape[:2] != size:
            raise ProtocolError(
                ErrorCode.BAD_SHAPE,
                f"{op}: frame {name!r} is {d.shape[0]}x{d.shape[1]} but the layer is {size[0]}x{size[1]}",
                rid,
            )


def priority(op: str, params: Mapping[str, Any], frames: tuple[Descriptor, ...]) -> int:
    """A prompted segment (a click on an already encoded image) goes ahead of colorizations and automatic runs."""
    if op == "segment" and (params.get("points") or params.get("box") or any(d.name == "selection" for d in frames)):
        return INTERACTIVE
    return NORMAL


def as_array(buffer: Any, d: Descriptor) -> np.ndarray:
    """A read-only NumPy view of a received frame (no copy)."""
    return np.frombuffer(buffer, dtype=DTYPES[d.dtype][1]).reshape(d.shape)


# --- models ---------------------------------------------------------------------------------------------------------


class Models:
    """The models the worker owns, loaded in the worker thread; status strings say why one is missing."""

    def __init__(self, colorizer_path: str | None = None) -> None:
        self._colorizer_path = colorizer_path
        self.colorizer: Any = None
        self.segmenter: Any = None
        self.status = {"colorizer": "loading", "segmenter": "loading"}
        self.device = "loading"

    def load(self) -> None:
        try:
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            self.device = "cpu"
        try:
            from chromaseg.core.colorize import get_model

            self.colorizer = get_model(self._colorizer_path)
            self.status["colorizer"] = f"ready ({self._colorizer_path or 'shipped weights'})"
        except Exception as exc:  # no weights yet: the op answers `unavailable` with this reason
            self.status["colorizer"] = f"unavailable: {type(exc).__name__}: {exc}"
        try:
            from chromaseg.core.segment import Segmenter

            self.segmenter = Segmenter.default()
            self.status["segmenter"] = f"ready ({self.segmenter.backend}: {self.segmenter.reason})"
        except Exception as exc:
            self.status["segmenter"] = f"unavailable: {type(exc).__name__}: {exc}"
        log.info("models: %s on %s", self.status, self.device)

    def segmenter_info(self) -> dict[str, str] | None:
        """The active segmentation backend ("sam:<entry>" or "classic") and why it was chosen (None while loading)."""
        seg = self.segmenter
        return None if seg is None else {"backend": seg.backend, "reason": seg.reason}

    def unavailable(self, need: str | None) -> str | None:
        """Why a model the op needs is missing (None when it is there or still loading)."""
        if need is None or self.status[need] == "loading" or getattr(self, need) is not None:
            return None
        return f"the {need} is not available in this daemon: {self.status[need]}"


# --- handlers (worker thread) ---------------------------------------------------------------------------------------

Handler = Callable[[JobContext, Models, dict[str, Any], dict[str, np.ndarray]], Outcome]


def _require(models: Models, need: str) -> Any:
    why = models.unavailable(need)
    if why is not None:
        raise ProtocolError(ErrorCode.UNAVAILABLE, why)
    return getattr(models, need)


def _core_labels(labels: np.ndarray) -> np.ndarray:
    """Wire label maps use 0 (and negatives) for "no segment"; core uses -1 and labels from 0."""
    out = labels.astype(np.int32) - 1
    out[out < 0] = -1
    return out


def segment(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    seg = _require(models, "segmenter")
    layer = a["layer"]
    prompted = params["points"] or params["box"] or "selection" in a
    ctx.progress("segment", 0, 1)
    if prompted:
        mask = seg.prompt(layer, points=params["points"], labels=params["labels"], box=params["box"],
                          mask=a.get("selection"))
        ctx.progress("segment", 1, 1)
        out = np.where(mask, np.uint8(255), np.uint8(0))
        return {"backend": seg.backend, "pixels": int(mask.sum())}, [("mask", out)]
    labels = seg.auto(layer, max_segments=params["max_segments"], min_area=params["min_area"])
    ctx.progress("segment", 1, 1)
    wire = labels.astype(np.int32) + 1  # core's -1 (none) becomes the wire's 0
    return {"backend": seg.backend, "segments": int(labels.max()) + 1}, [("segments", wire)]


def colorize(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    net = _require(models, "colorizer")
    from chromaseg.core.colorize import colorize as core_colorize

    needs_segments = params["harmonize"] or params["segment_pass"] or (params["confine_hints"] and "hints" in a)
    segmenter = _require(models, "segmenter") if needs_segments and "segments" not in a else None

    def progress(stage: str, done: int, total: int) -> None:
        ctx.check_cancel()  # between stages and segment crops
        ctx.progress(stage, done, total)

    out = core_colorize(
        a["layer"],
        hints=a.get("hints"),
        selection=a.get("selection"),
        vibrancy=params["vibrancy"],
        harmonize=params["harmonize"],
        segments=_core_labels(a["segments"]) if "segments" in a else None,
        segment_pass=params["segment_pass"],
        confine_hints=params["confine_hints"],
        segmenter=segmenter,
        model=net,
        feather=params["feather"],
        resolution=params["resolution"],
        progress=progress,
    )
    info = {"colorizer": models.status["colorizer"]}
    if segmenter is not None:
        info["segmenter"] = segmenter.backend
    return info, [("layer", out)]


def harmonize(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    """Lab in bands, Algorithm 1 over the given segments, compose with the original L in bands; alpha kept."""
    from chromaseg.core.color import from_unit_float, lab_to_srgb, srgb_to_lab
    from chromaseg.core.harmonize import harmonize as core_harmonize

    layer = a["layer"]
    h, w, channels = layer.shape
    if "segments" in a:
        labels, backend = _core_labels(a["segments"]), None
    else:  # segments made here, by the same backend the segment op uses
        seg = _require(models, "segmenter")
        ctx.progress("segment", 0, 1)
        labels, backend = seg.auto(layer), seg.backend
    bands = range(0, h, BAND_ROWS)
    total = 2 * len(bands) + 1
    lab = np.empty((h, w, 3), np.float32)
    for i, y in enumerate(bands):
        ctx.progress("harmonize", i, total)
        lab[y : y + BAND_ROWS] = srgb_to_lab(layer[y : y + BAND_ROWS, :, :3])
    ctx.progress("harmonize", len(bands), total)
    protect = a["protect"] > 0 if "protect" in a else None
    ab = core_harmonize(
        lab[..., 1:], labels, params["delta_a"], params["delta_b"], params["min_pixels"], protect
    )
    sel = a.get("selection")
    out = layer.copy()  # pixels whose a*, b* did not change stay bit-exact (no round trip through Lab)
    changed = 0
    for i, y in enumerate(bands, start=len(bands) + 1):
        ctx.progress("harmonize", i, total)
        band = slice(y, y + BAND_ROWS)
        old_ab, new_ab = lab[band, :, 1:], ab[band]
        if sel is not None:
            weight = sel[band, :, None].astype(np.float32) * np.float32(1 / 255)
            new_ab = old_ab + weight * (new_ab - old_ab)
        moved = np.any(new_ab != old_ab, axis=-1)
        if moved.any():
            target = np.concatenate([lab[band, :, :1][moved], new_ab[moved]], axis=-1)
            out[band][moved, :3] = from_unit_float(lab_to_srgb(target), layer.dtype)
            changed += int(moved.sum())
    ctx.progress("harmonize", total, total)
    info: dict[str, Any] = {"changed_pixels": changed}
    if backend is not None:
        info["segmenter"] = backend
    return info, [("layer", out)]


HANDLERS: dict[str, Handler] = {"segment": segment, "colorize": colorize, "harmonize": harmonize}
