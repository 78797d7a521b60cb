"""The artist's commands, one list for every editor: a key, menu text, a tooltip, and what running it means.

`Command.run(doc, settings)` returns a `Plan` when the daemon must do the work (the editor hands it to a `Runner`), or
a status line when it was done at once in the document (the hint layer, Select Segment).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from chromaseg.plugins.common import actions
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.adapter import DocumentAdapter, SelectionMode, SourceRole
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.settings import Settings

Outcome = Union[Plan, str]


@dataclass(frozen=True)
class Command:
    key: str
    label: str
    tooltip: str
    run: Callable[[DocumentAdapter, Settings], Outcome]
    source: SourceRole = SourceRole.PAINT_LAYER


COMMANDS: tuple[Command, ...] = (
    Command("colorize_layer", "Colorize Layer", "Colorize the active layer into a new layer above it.",
            lambda doc, s: actions.colorize(doc, s, selection_only=False)),
    Command("colorize_selection", "Colorize Selection",
            "Colorize the selected region (with context around it and a feathered edge) into a new, masked layer.",
            lambda doc, s: actions.colorize(doc, s, selection_only=True)),
    Command("hint_layer", "Add Color Hint Layer",
            "Add the 'Color hints' layer: every pixel painted on it is a color hint for colorize.",
            lambda doc, s: actions.add_painted_layer(doc, PaintedLayer.HINTS)),
    Command("hint_at_selection", "Add Hint at Selection",
            "Fill the selection with the foreground color on the 'Color hints' layer: a color point of the "
            "selection's size, no brush needed.",
            lambda doc, s: actions.hint_at_selection(doc, s)),
    Command("list_hints", "List Hints",
            "List the hints painted for the layer as the colorizer reads them: each dab's color, place and size.",
            lambda doc, s: actions.list_hints(doc)),
    Command("clicks_layer", "Add Object Clicks Layer",
            "Add the 'Object clicks' layer: a dot painted on it is a click on the object, a red dot a click on what "
            "is not the object.",
            lambda doc, s: actions.add_painted_layer(doc, PaintedLayer.CLICKS)),
    Command("select_object", "Select Object",
            "Replace the selection by the object inside it (a box or a rough lasso around it), refined by the dots on "
            "'Object clicks'; or by the object the dots are on when nothing is selected.",
            lambda doc, s: actions.select_object(doc, s, SelectionMode.REPLACE)),
    Command("select_object_add", "Add Object to Selection",
            "Add the object the dots on 'Object clicks' are on to the selection (red dots: not the object).",
            lambda doc, s: actions.select_object(doc, s, SelectionMode.ADD)),
    Command("select_object_subtract", "Subtract Object from Selection",
            "Cut the object the dots on 'Object clicks' are on out of the selection (red dots: not the object).",
            lambda doc, s: actions.select_object(doc, s, SelectionMode.SUBTRACT)),
    Command("auto_segment", "Auto-Segment",
            "Find the objects of the layer (or the selected region) as a group of selection masks to pick from.",
            lambda doc, s: actions.auto_segment(doc, s)),
    Command("select_segment", "Select Segment",
            "Make the active segment of an Auto-Segment group the selection (replacing it).",
            lambda doc, s: actions.select_segment(doc), SourceRole.ACTIVE_SEGMENT),
    Command("harmonize_layer", "Harmonize Layer",
            "Harmonize the colors of an already colored layer per object (CCC Algorithm 1) into a new layer.",
            lambda doc, s: actions.harmonize(doc, s), SourceRole.ACTIVE_RESULT),
    Command("preview", "Preview Colorization",
            "A quick low-resolution look at Colorize Layer (or Colorize Selection when something is selected), with "
            "a before/after toggle; nothing is written to the document.",
            lambda doc, s: actions.preview(doc, s)),
)

BY_KEY: dict[str, Command] = {c.key: c for c in COMMANDS}
