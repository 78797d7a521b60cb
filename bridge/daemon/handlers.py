"""The op handlers the worker runs: decode frames to NumPy views, call chromaseg.core, encode result frames.

Handlers stay thin: the pixels work (colorizing, harmonizing in Lab, blending into a selection, protect masks, the
"does this need segments" decision) lives in core, so a better colorizer or segmenter lands there, not here. What
stays is the wire's side: content checks of received frames and the wire's label maps as core's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from chromaseg.bridge.contract import MAX_LISTED_HINTS, MAX_PROMPT_POINTS
from chromaseg.bridge.daemon.models import Models
from chromaseg.bridge.daemon.validation import box_pixels
from chromaseg.bridge.daemon.worker import JobContext, Outcome
from chromaseg.bridge.protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from chromaseg.core.segment.clicks import Clicks

BAND_ROWS = 64  # rows per band of the float check: bounds what the check itself allocates
_LUT_LABELS = 1 << 16  # label maps with labels below this are renumbered through a lookup table of this size at most

# Distinct segments a client's `segments` frame may hold. Per-segment tables (harmonize's histograms, the segment
# pass's boxes) are sized by this, never by the label values a client chose.
MAX_SEGMENTS = 4096

Handler = Callable[[JobContext, Models, dict[str, Any], dict[str, np.ndarray]], Outcome]


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


def core_labels(labels: np.ndarray) -> np.ndarray:
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
    """A prompt's mask (on the segmenter's current image, set only when the layer changed), or automatic segments
    with each one's class name."""
    seg = models.require("segmenter")
    layer = a["layer"]
    points, labels, clicks = _prompt_points(params, a)
    prompted = bool(points) or params["box"] is not None or "selection" in a
    if "selection" in a:
        _check_selection_prompt(a["selection"], params["box"])
    ctx.progress("segment", 0, 1)
    if prompted:
        models.segmenter_on(layer)
        try:
            mask = seg.prompt(points=points or None, labels=labels or None, box=params["box"],
                              mask=a.get("selection"))
        except ValueError as exc:  # the segmenter's word for a prompt it cannot use (e.g. a region too thin)
            raise ProtocolError(ErrorCode.BAD_PARAMS, f"segment: the segmenter cannot use this prompt: {exc}") from None
        ctx.progress("segment", 1, 1)
        out = np.where(mask, np.uint8(255), np.uint8(0))
        info: dict[str, Any] = {"backend": seg.backend, "pixels": int(mask.sum())}
        if clicks is not None:
            info["clicks"] = {"positive": clicks.positive, "negative": clicks.negative, "dropped": clicks.dropped}
        return info, [("mask", out)]
    auto = seg.auto(layer, max_segments=params["max_segments"], min_area=params["min_area"])
    classes = seg.segment_classes(auto, layer)
    ctx.progress("segment", 1, 1)
    wire = auto.astype(np.int32) + 1  # core's -1 (none) becomes the wire's 0
    return {"backend": seg.backend, "segments": int(auto.max()) + 1, "classes": classes}, [("segments", wire)]


def _prompt_points(params: dict[str, Any], a: dict[str, np.ndarray]) -> tuple[list, list, Clicks | None]:
    """The prompt's points and labels: the params' (a point without labels is positive), then the clicks painted
    on the `prompts` frame, if one came (core reads them; up to MAX_PROMPT_POINTS points in all). A prompts frame
    must hold a positive click, unless the params or a box or selection already say where the object is."""
    from chromaseg.core.segment.clicks import clicks_from_layer

    points = list(params["points"] or ())
    labels = list(params["labels"] or [1] * len(points))
    if "prompts" not in a:
        return points, labels, None
    clicks = clicks_from_layer(a["prompts"], max_clicks=MAX_PROMPT_POINTS - len(points))
    if len(clicks) == 0 and clicks.dropped == 0:
        raise ProtocolError(ErrorCode.BAD_PARAMS, "segment: nothing is painted on the prompts frame: paint a dot on "
                                                  "the object (any color but red; red dots exclude)")
    if 1 not in labels and not clicks.positive and params["box"] is None and "selection" not in a:
        raise ProtocolError(ErrorCode.BAD_PARAMS, "segment: the prompts frame has no positive click: paint a "
                                                  "non-red dot on the object (red dots only exclude)")
    return points + clicks.points.tolist(), labels + clicks.labels.tolist(), clicks


def colorize(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    """The loaded Colorizer, or the published one the request names, on the layer (or on its preview: core scales
    the layer, hints, selection and segments together); the daemon's segmenter is lent when core says the request
    needs segments and the client sent none."""
    from chromaseg.core.colorize import needs_segments
    from chromaseg.core.hints import hint_mask
    from chromaseg.core.preview import scale_inputs

    colorizer = models.colorizer_for(params["colorizer"], ctx.progress)
    has_hints = "hints" in a and bool(hint_mask(a["hints"]).any())
    needed = needs_segments(harmonize=params["harmonize"], segment_pass=params["segment_pass"],
                            confine_hints=params["confine_hints"], has_hints=has_hints)
    segmenter = models.require("segmenter") if needed and "segments" not in a else None
    segments = core_labels(a["segments"]) if "segments" in a else None
    side = params["preview"] or max(a["layer"].shape[:2])  # no preview: the layer's own size, the arrays as they are
    inputs = scale_inputs(a["layer"], side, hints=a.get("hints"), selection=a.get("selection"), segments=segments)

    def progress(stage: str, done: int, total: int) -> None:
        ctx.check_cancel()  # between stages and segment crops
        ctx.progress(stage, done, total)

    out = colorizer.colorize(
        inputs.layer,
        hints=inputs.hints,
        selection=inputs.selection,
        vibrancy=params["vibrancy"],
        harmonize=params["harmonize"],
        segments=inputs.segments,
        segment_pass=params["segment_pass"],
        confine_hints=params["confine_hints"],
        segmenter=segmenter,
        feather=params["feather"] * inputs.scale,
        resolution=params["resolution"],
        progress=progress,
    )
    info: dict[str, Any] = {"colorizer": models.status["colorizer"] if params["colorizer"] is None else
                            f"ready ({params['colorizer']}: {colorizer.path})"}
    if segmenter is not None:
        info["segmenter"] = segmenter.backend
    if params["preview"] is not None:
        info["preview"] = [inputs.size[1], inputs.size[0]]
    return info, [("layer", out)]


def harmonize(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    """Algorithm 1 over the given segments, or the daemon segmenter's automatic ones; alpha kept."""
    from chromaseg.core.harmonize import harmonize_layer

    layer = a["layer"]
    if "segments" in a:
        labels, backend = core_labels(a["segments"]), None
    else:  # segments made here, by the same backend the segment op uses
        seg = models.require("segmenter")
        ctx.progress("segment", 0, 1)
        labels, backend = seg.auto(layer), seg.backend
    out, changed = harmonize_layer(layer, labels, params["delta_a"], params["delta_b"], params["min_pixels"],
                                   protect=a.get("protect"), selection=a.get("selection"), hints=a.get("hints"),
                                   progress=ctx.progress)
    info: dict[str, Any] = {"changed_pixels": changed}
    if backend is not None:
        info["segmenter"] = backend
    return info, [("layer", out)]


def hints(ctx: JobContext, models: Models, params: dict[str, Any], a: dict[str, np.ndarray]) -> Outcome:
    """The dabs painted on a hint layer, as the colorizer will read them: where, how large, which color; so an
    editor can list the hints without reading pixels itself."""
    from chromaseg.core.dabs import hex_color, painted_dabs

    dabs = painted_dabs(a["hints"]).largest(MAX_LISTED_HINTS)
    listed = [{"x": int(x), "y": int(y), "pixels": int(n), "color": hex_color(rgb)}
              for (x, y), n, rgb in zip(dabs.points, dabs.areas, dabs.colors)]
    return {"hints": listed, "dropped": dabs.dropped}, []


HANDLERS: dict[str, Handler] = {"segment": segment, "colorize": colorize, "harmonize": harmonize, "hints": hints}
