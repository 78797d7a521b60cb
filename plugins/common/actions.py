"""The artist's commands as `Plan`s: the daemon request built from the document, and how its answer is written back.

Building a plan reads the document (and refuses early, with a PluginError, when the command cannot work); nothing is
written until the daemon has answered and `Plan.apply` runs, so a failed or cancelled job leaves the document as it
was. Pixels go out in the editor's layout converted to wire RGBA, and come back converted the other way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from chromaseg.bridge.client import Frame, Params, Reply
from chromaseg.bridge.contract import ColorizeParams, HarmonizeParams, NoParams, SegmentParams
from chromaseg.plugins.common import naming
from chromaseg.plugins.common.adapter import DocumentAdapter, SelectionMode
from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect, context_margin, mask_bbox
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import (
    PixelFormat,
    alpha_mask,
    any_set,
    from_wire,
    label_masks,
    to_wire,
    wire_itemsize,
)
from chromaseg.plugins.common.preview import PreviewImage, preview_shape, rgba8, sample_nearest
from chromaseg.plugins.common.settings import OPTIONS, Settings


@dataclass
class Plan:
    """One request to the daemon and what to do with its reply.

    `apply(reply)` writes the result into the document (one undo step) and returns a status line for the artist; a
    Preview's writes nothing and sets `preview` instead, the images the editor shows.
    Keep the plan alive until the job is done: `frames` are sent without copying.
    """

    title: str
    op: str
    params: Params
    frames: dict[str, Frame]
    apply: Callable[[Reply], str] = field(repr=False)
    preview: PreviewImage | None = field(default=None, repr=False)  # what a Preview's apply leaves for the editor


@dataclass(frozen=True)
class Region:
    """The part of the layer a command works on, and the selection inside it (None: the whole region)."""

    rect: Rect
    selection: bytes | None


def _whole_layer(doc: DocumentAdapter) -> Region:
    bounds = doc.layer_bounds()
    if bounds.empty:
        raise PluginError(f"The layer {doc.layer_name()!r} is empty: there is nothing to work on.")
    return Region(bounds, None)


def _selected(doc: DocumentAdapter, settings: Settings, *, context: bool) -> Region | None:
    """The selection's tight box (plus context when asked), clamped to the layer; None when nothing is selected."""
    loose = doc.selection_bounds()
    if loose is None or loose.empty:
        return None
    box = mask_bbox(doc.read_selection(loose), loose)
    if box is None:
        return None
    layer = doc.layer_bounds()
    if context:
        box = box.pad(context_margin(box, settings.padding, settings.min_padding), layer)
    else:
        box = box.intersect(layer)
    if box.empty:
        raise PluginError(f"The selection does not touch the layer {doc.layer_name()!r}.")
    return Region(box, doc.read_selection(box))


def _require_selection(doc: DocumentAdapter, settings: Settings, what: str) -> Region:
    region = _selected(doc, settings, context=True)
    if region is None:
        raise PluginError(f"{what} needs a selection: select a region first (a box or a rough lasso is enough).")
    return region


def _layer_frame(doc: DocumentAdapter, rect: Rect, fmt: PixelFormat) -> Frame:
    return Frame(to_wire(doc.read_layer(rect), fmt), fmt.wire_dtype, (rect.h, rect.w, 4))


def _painted(doc: DocumentAdapter, kind: PaintedLayer, rect: Rect) -> Frame | None:
    """The hint or clicks layer as a wire frame, or None when it is missing or nothing is painted on it in `rect`."""
    read = doc.read_painted(kind, rect)
    if read is None:
        return None
    data, fmt = read
    rgba = to_wire(data, fmt)
    if not any_set(alpha_mask(rgba, wire_itemsize(fmt.wire_dtype))):
        return None
    return Frame(rgba, fmt.wire_dtype, (rect.h, rect.w, 4))


def _mask_frame(mask: bytes, rect: Rect) -> Frame:
    return Frame(mask, "u8", (rect.h, rect.w))


def _result_pixels(reply: Reply, fmt: PixelFormat, rect: Rect) -> bytes:
    frame = reply.frames.get("layer")
    if frame is None or frame.dtype != fmt.wire_dtype or tuple(frame.shape) != (rect.h, rect.w, 4):
        got = None if frame is None else f"{frame.dtype} {list(frame.shape)}"
        raise PluginError(f"The daemon sent an unexpected result ({got}); the document is unchanged.")
    return bytes(from_wire(frame.data, fmt))


def _colorize_request(doc: DocumentAdapter, settings: Settings, region: Region, fmt: PixelFormat,
                      preview: int | None = None) -> tuple[dict[str, Frame], ColorizeParams]:
    """Colorize's frames (the layer, the selection, painted hints) and params for `region`."""
    frames = {"layer": _layer_frame(doc, region.rect, fmt)}
    if region.selection is not None:
        frames["selection"] = _mask_frame(region.selection, region.rect)
    hints = _painted(doc, PaintedLayer.HINTS, region.rect)
    if hints is not None:
        frames["hints"] = hints
    params = ColorizeParams(
        vibrancy=settings.vibrancy, harmonize=settings.harmonize, segment_pass=settings.segment_pass,
        confine_hints=settings.confine_hints, feather=None if region.selection is None else settings.feather,
        colorizer=settings.colorizer, preview=preview,
    )
    return frames, params


def colorize(doc: DocumentAdapter, settings: Settings, *, selection_only: bool) -> Plan:
    """Colorize the active layer, or only the selection (with context around it and a feathered edge)."""
    fmt = doc.pixel_format()
    region = _require_selection(doc, settings, "Colorize selection") if selection_only else _whole_layer(doc)
    frames, params = _colorize_request(doc, settings, region, fmt)
    name = naming.colorized_name(
        doc.layer_name(), settings, hints="hints" in frames, selection=region.selection is not None
    )
    note = doc.conversion_note()

    def apply(reply: Reply) -> str:
        doc.add_result_layer(name, region.rect, _result_pixels(reply, fmt, region.rect), region.selection)
        return _noted(f"Added layer {name!r}.", note)

    title = "Colorize selection" if selection_only else "Colorize layer"
    return Plan(title, "colorize", params, frames, apply)


def preview(doc: DocumentAdapter, settings: Settings, side: int | None = None) -> Plan:
    """A quick look at Colorize: the selection's region (with context, as Colorize Selection sends it) when there is
    a selection, else the whole layer, colorized by the daemon at a long side of at most `side` pixels (the settings'
    `preview_size` when not given). Its apply writes nothing to the document: it leaves the before/after images in
    `plan.preview` for the editor to show, and says so in its status line."""
    side = settings.preview_size if side is None else OPTIONS["preview_size"].checked("preview_size", side)
    fmt = doc.pixel_format()
    region = _selected(doc, settings, context=True) or _whole_layer(doc)
    frames, params = _colorize_request(doc, settings, region, fmt, preview=side)
    layer = doc.layer_name()
    rect, dtype = region.rect, fmt.wire_dtype

    def apply(reply: Reply) -> str:
        w, h = preview_shape(reply.result, rect.w, rect.h, side)
        frame = reply.frames.get("layer")
        if frame is None or frame.dtype != dtype or tuple(frame.shape) != (h, w, 4):
            got = None if frame is None else f"{frame.dtype} {list(frame.shape)}"
            raise PluginError(f"The daemon sent an unexpected preview ({got} for {dtype} [{h}, {w}, 4]); the "
                              "document is unchanged.")
        source = sample_nearest(frames["layer"].data, rect.w, rect.h, 4 * wire_itemsize(dtype), w, h)
        plan.preview = PreviewImage(w, h, rgba8(source, dtype), rgba8(frame.data, dtype), layer,
                                    selection=region.selection is not None)
        what = "the selection of " if region.selection is not None else ""
        return f"Preview {w}x{h} of {what}{layer!r}: the document is unchanged; Apply colorizes at full size."

    plan = Plan("Preview", "colorize", params, frames, apply)
    return plan


def harmonize(doc: DocumentAdapter, settings: Settings) -> Plan:
    """Algorithm 1 on an already colored layer (within the selection when there is one); painted hints are kept."""
    fmt = doc.pixel_format()
    region = _selected(doc, settings, context=True) or _whole_layer(doc)
    frames = {"layer": _layer_frame(doc, region.rect, fmt)}
    if region.selection is not None:
        frames["selection"] = _mask_frame(region.selection, region.rect)
    hints = _painted(doc, PaintedLayer.HINTS, region.rect)
    if hints is not None:  # the daemon keeps its painted pixels as they are
        frames["hints"] = hints
    name = naming.harmonized_name(doc.layer_name(), protected=hints is not None, selection=region.selection is not None)
    note = doc.conversion_note()

    def apply(reply: Reply) -> str:
        doc.add_result_layer(name, region.rect, _result_pixels(reply, fmt, region.rect), region.selection)
        changed = reply.result.get("changed_pixels")
        return _noted(f"Added layer {name!r} ({changed} pixels changed).", note)

    return Plan("Harmonize layer", "harmonize", HarmonizeParams(), frames, apply)


_DONE = {SelectionMode.REPLACE: "replaced", SelectionMode.ADD: "was added to", SelectionMode.SUBTRACT: "was cut from"}
_CLICKS = f"dots painted on the {PaintedLayer.CLICKS.value!r} layer (Add Object Clicks Layer; red dots: not the object)"


def select_object(doc: DocumentAdapter, settings: Settings, mode: SelectionMode) -> Plan:
    """The object a prompt designates replaces, is added to or is cut from the selection.

    Replace takes the selection (a box or a rough lasso) as the prompt, refined by the clicks painted inside it, or
    the clicks alone when nothing is selected. Add and Subtract take the clicks only: the selection is what the new
    object is combined with, never part of its prompt (a box beside a selected head would otherwise prompt for the
    head and the background between them)."""
    # Add needs nothing of the selection (the editor combines); Subtract only that one exists.
    selected = None if mode is SelectionMode.ADD else _selected(doc, settings, context=True)
    if mode is SelectionMode.SUBTRACT and selected is None:
        raise PluginError("Subtract object needs a selection to cut the object from; nothing is selected.")
    region = selected if mode is SelectionMode.REPLACE and selected is not None else _whole_layer(doc)
    frames = {"layer": _layer_frame(doc, region.rect, doc.pixel_format())}
    clicks = _painted(doc, PaintedLayer.CLICKS, region.rect)
    if clicks is not None:
        frames["prompts"] = clicks
    if region is selected:
        assert region.selection is not None
        frames["selection"] = _mask_frame(region.selection, region.rect)
    elif clicks is None:
        if mode is SelectionMode.REPLACE:
            raise PluginError(f"Select object needs a prompt: select a box or a rough lasso around the object, or "
                              f"use {_CLICKS}.")
        raise PluginError(f"{mode.value.capitalize()} object takes the object from {_CLICKS}; the selection is what "
                          "it is combined with. Paint a dot on the object first.")

    def apply(reply: Reply) -> str:
        frame = reply.frames.get("mask")
        if frame is None or frame.dtype != "u8" or tuple(frame.shape) != (region.rect.h, region.rect.w):
            raise PluginError("The daemon sent no usable object mask; the selection is unchanged.")
        mask = bytes(frame.data)
        if not any_set(mask):
            raise PluginError("No object was found there; the selection is unchanged.")
        doc.set_selection(region.rect, mask, mode)
        return f"The object ({mask.count(255)} px{_clicks_used(reply)}) {_DONE[mode]} the selection."

    return Plan(f"Select object ({mode.value})", "segment", SegmentParams(), frames, apply)


def _clicks_used(reply: Reply) -> str:
    """", from 2 clicks and 1 not-object click" when the daemon used painted clicks."""
    clicks = reply.result.get("clicks")
    if not isinstance(clicks, dict):
        return ""
    pos, neg = clicks.get("positive"), clicks.get("negative")
    if not isinstance(pos, int) or not isinstance(neg, int):
        return ""
    said = f", from {pos} click{'s' * (pos != 1)}"
    return said + (f" and {neg} not-object click{'s' * (neg != 1)}" if neg else "")


def auto_segment(doc: DocumentAdapter, settings: Settings) -> Plan:
    """Segments of the layer (or of the selected region) as a group of pickable selection masks."""
    region = _selected(doc, settings, context=False) or _whole_layer(doc)
    rect = region.rect
    layer = _layer_frame(doc, rect, doc.pixel_format())
    source = doc.layer_name()

    def apply(reply: Reply) -> str:
        frame = reply.frames.get("segments")
        if frame is None or frame.dtype != "i32" or tuple(frame.shape) != (rect.h, rect.w):
            raise PluginError("The daemon sent no usable segments; the document is unchanged.")
        count = min(int(reply.result.get("segments", settings.max_segments)), settings.max_segments)
        masks = label_masks(frame.data, count)
        if not masks:
            raise PluginError("No segments were found; the document is unchanged.")
        kinds = _segment_classes(reply, count)
        named = [(naming.segment_name(label, mask.count(255), kinds[label - 1]), mask) for label, mask in masks]
        name = naming.segments_name(source, len(named))
        doc.add_segment_masks(name, rect, named)
        return f"Added {name!r}: pick a segment's mask to select it."

    return Plan("Auto-segment", "segment", SegmentParams(max_segments=settings.max_segments), {"layer": layer}, apply)


def _segment_classes(reply: Reply, count: int) -> list[str | None]:
    """What each segment 1..count is ("person"), as the daemon's semantic prior says; None where it does not know."""
    said = reply.result.get("classes")
    said = said if isinstance(said, list) else []
    return [kind if isinstance(kind, str) and kind else None for kind in said[:count]] + [None] * (count - len(said))


NO_SEGMENT = "Select Segment: make a segment of an Auto-Segment group active first."


def select_segment(doc: DocumentAdapter) -> str:
    """The active segment's mask replaces the selection (no daemon needed): the artist picks a segment and gets it
    as the selection in one action, ready for Colorize Selection."""
    found = doc.active_segment()
    if found is None:
        raise PluginError(NO_SEGMENT)
    name, rect, mask = found
    if rect.empty or not any_set(mask):
        raise PluginError(f"Select Segment: {name!r} is empty; the selection is unchanged.")
    doc.select_active_segment(rect, mask)
    return f"Selected {name!r}."


_PAINT_NEXT = {PaintedLayer.HINTS: "paint colors on it, then colorize",
               PaintedLayer.CLICKS: "paint a dot on the object (red dots: not the object), then Select Object"}


def add_painted_layer(doc: DocumentAdapter, kind: PaintedLayer) -> str:
    """Create the hint or clicks layer (no daemon needed); the status line says what to do next."""
    note = doc.conversion_note()
    if doc.add_painted_layer(kind):
        return _noted(f"Added {doc.painted_layer_name(kind)!r}: {_PAINT_NEXT[kind]}.", note)
    return f"{doc.painted_layer_name(kind)!r} already exists: {_PAINT_NEXT[kind]}."


def hint_at_selection(doc: DocumentAdapter, settings: Settings) -> str:
    """A color point without brush settings: the foreground color fills the selection on the hint layer (a small
    selection is a dab of that size)."""
    if _selected(doc, settings, context=False) is None:
        raise PluginError("Add hint at selection: select where the color goes first (a small ellipse is a dab).")
    note = doc.conversion_note()
    color = doc.paint_hint_at_selection()
    return _noted(f"Painted a {color} hint over the selection on {doc.painted_layer_name(PaintedLayer.HINTS)!r}.",
                  note)


def list_hints(doc: DocumentAdapter) -> Plan | str:
    """The hints painted for the layer, as the daemon's core reads them (one per connected dab): where, how large,
    which color. A status line at once when nothing is painted."""
    rect = _whole_layer(doc).rect
    hints = _painted(doc, PaintedLayer.HINTS, rect)
    if hints is None:
        return (f"No hints yet: paint on {doc.painted_layer_name(PaintedLayer.HINTS)!r} or use Add Hint at "
                "Selection.")

    def apply(reply: Reply) -> str:
        listed = [h for h in reply.result.get("hints", []) if isinstance(h, dict)]
        words = [f"{h.get('color')} at ({rect.x + int(h.get('x', 0))}, {rect.y + int(h.get('y', 0))}), "
                 f"{h.get('pixels')} px" for h in listed]
        dropped = reply.result.get("dropped", 0)
        more = f"; and {dropped} smaller" if isinstance(dropped, int) and dropped > 0 else ""
        return f"{len(listed)} hint{'s' * (len(listed) != 1)}: " + "; ".join(words) + more

    return Plan("List hints", "hints", NoParams(), {"hints": hints}, apply)


def _noted(message: str, note: str) -> str:
    return f"{message} {note}" if note else message
