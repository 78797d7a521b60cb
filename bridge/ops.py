"""Requests checked against their op's contract (params and frames, in the socket loop before a job is queued) and
the handlers that run the jobs in the worker: decode frames to NumPy views, call chromaseg.core, encode result
frames.

Handlers stay thin: the pixels work lives in core, so a better colorizer or segmenter lands there, not here.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import numpy as np

from chromaseg.bridge.contract import OPS, ColorizerInfo, FrameRule, Param
from chromaseg.bridge.protocol import DTYPES, Descriptor, ErrorCode, ProtocolError, Request, preview
from chromaseg.bridge.worker import INTERACTIVE, NORMAL, JobContext, Outcome

log = logging.getLogger("chromaseg.bridge.ops")

BAND_ROWS = 64  # rows per band of the banded passes: the unit of progress and cancellation
_LUT_LABELS = 1 << 16  # label maps with labels below this are renumbered through a lookup table of this size at most

# Distinct segments a client's `segments` frame may hold. Per-segment tables (harmonize's histograms, the segment
# pass's boxes) are sized by this, never by the label values a client chose.
MAX_SEGMENTS = 4096


# --- validation (socket loop) ---------------------------------------------------------------------------------------


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
    point labelled 1, a box or a selection). An empty point list means no points."""
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
    if points is not None and box is None and "selection" not in frames and 1 not in (labels or [1]):
        raise _bad_params("segment", "a prompt of negative points (label 0) alone selects nothing: add a positive "
                                     "point (label 1), a box or a selection", rid)


def box_pixels(box: list[Any], w: int, h: int) -> tuple[int, int, int, int]:
    """The pixels a box prompt covers, rounded and clipped as the segmenter does (exact for any JSON number)."""
    x0, y0, x1, y1 = (min(max(round(v), 0), side) for v, side in zip(box, (w, h, w, h)))
    return x0, y0, x1, y1


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
        self._colorizer_info: ColorizerInfo | None = None
        self.status = {"colorizer": "loading", "segmenter": "loading"}
        self.device = "loading"

    def load(self) -> None:
        try:
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            self.device = "cpu"
        try:
            from chromaseg.core.colorize import default_model_path, get_model, model_resolution, model_vibrancy

            net = get_model(self._colorizer_path)
            self._colorizer_info = ColorizerInfo(model_vibrancy(net), model_resolution(net),
                                                 str(self._colorizer_path or default_model_path()))
            self.colorizer = net
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

    def colorizer_info(self) -> dict[str, Any] | None:
        """The loaded colorizer's own defaults (what colorize's model-owned params become) and its file; None while
        loading or when there is none."""
        info = self._colorizer_info
        return None if info is None else info.to_dict()

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


def _unit_floats(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """f32 frames made safe per pixel: NaN or infinity is a `bad_frame` (one such pixel would spread through the
    filters into the whole result); finite values outside [0, 1] are clipped (a copy), so a wild value cannot reach
    its neighbours either. Checked in bands, so the check itself allocates little."""
    out = dict(arrays)
    for name, a in arrays.items():
        if a.dtype.kind != "f":
            continue
        in_range = True
        for y in range(0, a.shape[0], BAND_ROWS):
            band = a[y : y + BAND_ROWS]
            if not np.isfinite(band).all():
                raise ProtocolError(
                    ErrorCode.BAD_FRAME, f"frame {name!r} holds NaN or infinite values (from row {y}): f32 frames "
                    "must be finite, in [0, 1]"
                )
            in_range = in_range and band.min() >= 0 and band.max() <= 1
        if not in_range:
            out[name] = np.clip(a, 0, 1)
    return out


def _core_labels(labels: np.ndarray) -> np.ndarray:
    """A wire label map (0 and negatives = no segment) as core's: int32, -1 = none, segments numbered 0..n-1.

    Work and memory follow the pixel count, never the label values a client chose, and more than MAX_SEGMENTS
    distinct segments is a `bad_frame` before any per-segment table exists.
    """
    top = int(labels.max())
    if top <= 0:
        return np.full(labels.shape, -1, np.int32)
    ids = np.maximum(labels, 0)
    if top < _LUT_LABELS:  # u8, u16 and small i32 labels: a lookup table, no sort
        present = np.zeros(top + 1, bool)
        present[ids] = True
        present[0] = False
        _check_segment_count(int(np.count_nonzero(present)))
        return (np.cumsum(present, dtype=np.int32) - 1)[ids]
    values, inverse = np.unique(ids, return_inverse=True)
    has_none = bool(values[0] == 0)
    _check_segment_count(values.size - has_none)
    return (inverse.reshape(labels.shape) - has_none).astype(np.int32)


def _check_segment_count(count: int) -> None:
    if count > MAX_SEGMENTS:
        raise ProtocolError(
            ErrorCode.BAD_FRAME, f"frame 'segments' holds {count} distinct segments; the limit is {MAX_SEGMENTS}"
        )


def _check_selection_prompt(selection: np.ndarray, box: list[Any] | None) -> None:
    """A selection used as a prompt must select something, and inside the box when there is one."""
    if not selection.any():
        raise ProtocolError(ErrorCode.BAD_PARAMS, "segment: the selection is empty; select part of the object, "
                                                  "or prompt with points or a box")
    if box is not None:
        h, w = selection.shape
        x0, y0, x1, y1 = box_pixels(box, w, h)
        if not selection[y0:y1, x0:x1].any():
            raise ProtocolError(ErrorCode.BAD_PARAMS, "segment: the selection has no pixel inside the box")


def run_job(op: str, models: Models, params: dict[str, Any], arrays: dict[str, np.ndarray],
            ctx: JobContext) -> Outcome:
    """The worker's entry point: content checks every op shares (they read pixels, so they run here, off the socket
    loop), then the op's handler."""
    return HANDLERS[op](ctx, models, params, _unit_floats(arrays))


def segment(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    seg = _require(models, "segmenter")
    layer = a["layer"]
    prompted = params["points"] or params["box"] or "selection" in a
    if "selection" in a:
        _check_selection_prompt(a["selection"], params["box"])
    ctx.progress("segment", 0, 1)
    if prompted:
        try:
            mask = seg.prompt(layer, points=params["points"] or None, labels=params["labels"] or None,
                              box=params["box"], mask=a.get("selection"))
        except ValueError as exc:  # the segmenter's word for a prompt it cannot use (e.g. a region too thin)
            raise ProtocolError(ErrorCode.BAD_PARAMS, f"segment: the segmenter cannot use this prompt: {exc}") from None
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
