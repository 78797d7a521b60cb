"""Requests checked against their op's contract in the socket loop, before a job is queued or a pixel is read:
params (types, ranges, defaults filled in), frames (names, dtypes, shapes) and a segment prompt's geometry. Also
how urgent a job is and the zero-copy view of a received frame.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from chromaseg.bridge.contract import OPS, FrameRule, Param
from chromaseg.bridge.daemon.worker import INTERACTIVE, NORMAL
from chromaseg.bridge.protocol import DTYPES, Descriptor, ErrorCode, ProtocolError, Request, preview


def _bad_params(op: str, message: str, rid: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_PARAMS, f"{op}: {message}", rid)


def _check_param(op: str, name: str, spec: Param, value: Any, rid: str) -> Any:
    """The contract's check (nothing there can raise on a hostile value), worded as a `bad_params` reply."""
    if not spec.accepts(value):
        raise _bad_params(op, f"param {name!r} must be {spec.describe()}, got {preview(value)}", rid)
    return value


def _check_params(op: str, specs: Mapping[str, Param], given: Mapping[str, Any], rid: str) -> dict[str, Any]:
    """The op's params with defaults filled in; JSON null means "the default"."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ProtocolError(
            ErrorCode.UNKNOWN_FIELD, f"{op}: unknown param(s) {preview(unknown)}; it takes {sorted(specs) or 'none'}",
            rid,
        )
    params = {}
    for name, spec in specs.items():
        value = given.get(name)
        if value is not None:
            params[name] = _check_param(op, name, spec, value, rid)
        elif spec.required:
            raise _bad_params(op, f"param {name!r} is required: {spec.hint}", rid)
        else:
            params[name] = spec.default
    return params


def validate(req: Request) -> dict[str, Any]:
    """Check params and frames of `req` against its op's contract; returns the params with defaults filled in."""
    op = OPS[req.op]
    params = _check_params(req.op, op.specs, req.params, req.id)
    if op.frames is not None:
        _check_frames(req.op, {name.value: rule for name, rule in op.frames.items()}, req.frames, req.id)
    if req.op == "segment":
        _check_prompt(params, {d.name: d for d in req.frames}, req.id)
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


def _check_prompt(params: dict[str, Any], frames: Mapping[str, Descriptor], rid: str) -> None:
    """A prompt must designate pixels of the layer: points inside it, one label per point, a box that covers at least
    one whole pixel of it (after the same rounding and clipping the segmenter applies), and something positive (a
    point labelled 1, a box or a selection). An empty point list means no points. Clicks painted on a `prompts`
    frame are pixels: the worker reads them (and refuses a frame without a positive click there)."""
    h, w = frames["layer"].shape[:2]
    points, labels, box = params["points"] or None, params["labels"], params["box"]
    if labels is not None and len(labels) != len(points or ()):
        raise _bad_params("segment", f"'labels' needs one entry per point ({len(points or ())} points, "
                                     f"{len(labels)} labels)", rid)
    for i, (x, y) in enumerate(points or ()):
        if not (0 <= x < w and 0 <= y < h):
            raise _bad_params("segment", f"point {i} ({preview(x)}, {preview(y)}) lies outside the {w}x{h} layer", rid)
    if box is not None:
        x0, y0, x1, y1 = box
        if not (x1 > x0 and y1 > y0):
            raise _bad_params("segment", f"'box' {preview(box)} must have x1 > x0 and y1 > y0", rid)
        cx0, cy0, cx1, cy1 = box_pixels(box, w, h)
        if cx1 <= cx0 or cy1 <= cy0:
            raise _bad_params("segment", f"'box' {preview(box)} covers no pixel of the {w}x{h} layer", rid)
    if points is not None and box is None and not {"selection", "prompts"} & set(frames) and 1 not in (labels or [1]):
        raise _bad_params("segment", "a prompt of negative points (label 0) alone selects nothing: add a positive "
                                     "point (label 1), a box or a selection", rid)


def box_pixels(box: list[Any], w: int, h: int) -> tuple[int, int, int, int]:
    """The pixels a box prompt covers, rounded and clipped as the segmenter does (exact for any JSON number)."""
    x0, y0, x1, y1 = (min(max(round(v), 0), side) for v, side in zip(box, (w, h, w, h)))
    return x0, y0, x1, y1


def priority(op: str, params: Mapping[str, Any], frames: tuple[Descriptor, ...]) -> int:
    """A prompted segment (a click on an already encoded image) goes ahead of colorizations and automatic runs."""
    if op == "segment" and (params.get("points") or params.get("box")
                            or any(d.name in ("selection", "prompts") for d in frames)):
        return INTERACTIVE
    return NORMAL


def as_array(buffer: Any, d: Descriptor) -> np.ndarray:
    """A read-only NumPy view of a received frame (no copy)."""
    return np.frombuffer(buffer, dtype=DTYPES[d.dtype][1]).reshape(d.shape)
