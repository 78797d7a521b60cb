"""The chromaseg plug-in for GIMP, in gimpfu style: its procedures under Filters > Colors > Chromaseg.

Each procedure turns its parameters into `plugins.common` Settings, builds the shared Plan for the action on a
`GimpDocument`, and runs it synchronously (job.run_plan) with GIMP's progress bar. Failures raise PluginError with a
message for the artist; nothing is written to the image unless the daemon's answer arrived.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from chromaseg.plugins.common import actions, naming
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.commands import BY_KEY
from chromaseg.plugins.common.adapter import SelectionMode
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.settings import MODEL_VIBRANCY, OPTIONS, Settings
from chromaseg.plugins.gimp.document import GimpDocument
from chromaseg.plugins.gimp.gimpfu import (
    LAYER_MODE_LCH_COLOR,
    LAYER_MODE_NORMAL,
    PF_DRAWABLE,
    PF_IMAGE,
    PF_OPTION,
    PF_SLIDER,
    PF_SPINNER,
    PF_STRING,
    PF_TOGGLE,
    gimp,
    register,
)
from chromaseg.plugins.gimp.job import run_plan
from chromaseg.plugins.gimp.preview import AFTER, open_preview

MENU = "<Image>/Filters/Colors/Chromaseg"
AUTHOR = "chromaseg"
DATE = "2026"
IMAGE_TYPES = "RGB*, GRAY*"
DEFAULTS = Settings()
LAYER_MODES = (LAYER_MODE_NORMAL, LAYER_MODE_LCH_COLOR)
SELECTION_MODES = (SelectionMode.REPLACE, SelectionMode.ADD, SelectionMode.SUBTRACT)

# The settings every procedure starts from (its parameters override the artist's choices); the daemon's autostart
# command comes from the installer's manifest (plugins.common.daemon).
base_settings = DEFAULTS


def _ranged(kind: str, name: str) -> tuple:
    """A slider or spinner from the op contract (through `OPTIONS`): its words, default, range and step. Vibrancy's
    default is the model's own, which only the daemon knows: its slider starts mid-range and the toggle beside it
    (on by default) says whether the slider is used."""
    spec = OPTIONS[name]
    return (kind, name, spec.label, spec.start, (spec.lo, spec.hi, spec.step))


def _toggle(name: str) -> tuple:
    return (PF_TOGGLE, name, OPTIONS[name].label, OPTIONS[name].default)


_TARGET = [(PF_IMAGE, "image", "Input image", None), (PF_DRAWABLE, "drawable", "Input drawable", None)]
_ENDPOINT = (PF_STRING, "endpoint", "Daemon endpoint (empty: the default socket)", "")
_HINT_LAYER = (PF_STRING, "hint_layer", "Hint layer (painted pixels are hints)", naming.HINT_LAYER_NAME)
# GIMP's dialog is fixed when the plug-in registers, so the choice is a name (the daemon refuses an unknown one and
# names the fetch command for one it lacks); the Krita docker lists what the daemon has installed.
_COLORIZER = (PF_STRING, "colorizer", f"{OPTIONS['colorizer'].label} (empty: the shipped model; or e.g. siggraph17, "
                                      "ddcolor-tiny once fetched)", "")
_COLORIZE_OPTIONS = [  # after the target: what colorize and its preview take, in this order
    _HINT_LAYER,
    _COLORIZER,
    (PF_TOGGLE, "model_vibrancy", MODEL_VIBRANCY, DEFAULTS.vibrancy is None),
    _ranged(PF_SLIDER, "vibrancy"),
    _ranged(PF_SLIDER, "feather"),
    _toggle("harmonize"),
    _toggle("segment_pass"),
    _toggle("confine_hints"),
]
_COLORIZE_PARAMS = _TARGET + _COLORIZE_OPTIONS + [
    (PF_OPTION, "layer_mode", "Result layer mode", 1, ["Normal", "LCh color"]),
    _ENDPOINT,
]
_PREVIEW_PARAMS = _TARGET + _COLORIZE_OPTIONS + [_ranged(PF_SPINNER, "preview_size"), _ENDPOINT]


def _settings(endpoint: str, **choices: Any) -> Settings:
    return replace(base_settings, endpoint=endpoint, **choices)


def _colorize_settings(endpoint: str, colorizer: str, model_vibrancy: bool, vibrancy: float, feather: float,
                       harmonize: bool, segment_pass: bool, confine_hints: bool, **more: Any) -> Settings:
    return _settings(endpoint, vibrancy=None if model_vibrancy else vibrancy, feather=feather, harmonize=harmonize,
                     segment_pass=segment_pass, confine_hints=confine_hints, colorizer=colorizer.strip() or None,
                     **more)


def _colorize(image: Any, drawable: Any, hint_layer: str, colorizer: str, model_vibrancy: bool, vibrancy: float,
              feather: float, harmonize: bool, segment_pass: bool, confine_hints: bool, layer_mode: int, endpoint: str,
              *, selection_only: bool) -> str:
    settings = _colorize_settings(endpoint, colorizer, model_vibrancy, vibrancy, feather, harmonize, segment_pass,
                                  confine_hints)
    doc = GimpDocument(image, drawable, hint_layer=hint_layer, result_mode=LAYER_MODES[layer_mode])
    return _run_telling_conversion(doc, actions.colorize(doc, settings, selection_only=selection_only), settings)


def preview(image: Any, drawable: Any, hint_layer: str, colorizer: str, model_vibrancy: bool, vibrancy: float,
            feather: float, harmonize: bool, segment_pass: bool, confine_hints: bool, preview_size: int,
            endpoint: str) -> str:
    """Colorize layer (or Colorize selection, when something is selected) at a long side of `preview_size`, opened
    as a new image (plugins.gimp.preview); the artist's image is only read. The status bar says what to do next."""
    settings = _colorize_settings(endpoint, colorizer, model_vibrancy, vibrancy, feather, harmonize, segment_pass,
                                  confine_hints, preview_size=preview_size)
    plan = actions.preview(GimpDocument(image, drawable, hint_layer=hint_layer), settings)
    run_plan(plan, settings)
    shown = plan.preview
    open_preview(shown)
    what, command = ("the selection of ", "Colorize selection") if shown.selection else ("", "Colorize layer")
    message = (f"Preview {shown.width}x{shown.height} of {what}{shown.layer!r} opened as a new image (hide its "
               f"{AFTER!r} layer to see before); your image is unchanged, {command} colorizes it at full size.")
    gimp.progress_init(message)
    gimp.progress_end()
    return message


def _run_telling_conversion(doc: GimpDocument, plan: Plan, settings: Settings) -> str:
    """Runs the plan; when it had to convert a grayscale image to RGB, GIMP shows the one-line note saying so."""
    note = doc.conversion_note()
    message = run_plan(plan, settings)
    if note:
        gimp.message(note)
    return message


def colorize_layer(image: Any, drawable: Any, *values: Any) -> str:
    """The whole layer; a selection, if any, is ignored (use Colorize selection)."""
    return _colorize(image, drawable, *values, selection_only=False)


def colorize_selection(image: Any, drawable: Any, *values: Any) -> str:
    """The selected part, with context around it sent to the colorizer and a feathered edge."""
    return _colorize(image, drawable, *values, selection_only=True)


def select_object(image: Any, drawable: Any, mode: int, endpoint: str) -> str:
    settings = _settings(endpoint)
    doc = GimpDocument(image, drawable)
    return run_plan(actions.select_object(doc, settings, SELECTION_MODES[mode]), settings)


def auto_segment(image: Any, drawable: Any, output: int, max_segments: int, endpoint: str) -> str:
    settings = _settings(endpoint, max_segments=max_segments)
    doc = GimpDocument(image, drawable, segments_as_channels=output == 1)
    return run_plan(actions.auto_segment(doc, settings), settings)


def select_segment(image: Any, drawable: Any) -> str:
    """No daemon: the active segment (a layer of a segments group, or a segments channel) becomes the selection. The
    status bar says which, as it shows the daemon commands' last line."""
    message = actions.select_segment(GimpDocument(image, drawable, source=BY_KEY["select_segment"].source))
    gimp.progress_init(message)
    gimp.progress_end()
    return message


def harmonize(image: Any, drawable: Any, hint_layer: str, layer_mode: int, endpoint: str) -> str:
    settings = _settings(endpoint)
    doc = GimpDocument(image, drawable, hint_layer=hint_layer, result_mode=LAYER_MODES[layer_mode],
                       source=BY_KEY["harmonize_layer"].source)
    return _run_telling_conversion(doc, actions.harmonize(doc, settings), settings)


def add_hint_layer(image: Any, drawable: Any, hint_layer: str) -> str:
    return actions.add_painted_layer(GimpDocument(image, drawable, hint_layer=hint_layer), PaintedLayer.HINTS)


def list_hints(image: Any, drawable: Any, hint_layer: str, endpoint: str) -> str:
    """The hints, listed in a message (GIMP shows it as a dialog when run from the menu)."""
    settings = _settings(endpoint)
    outcome = actions.list_hints(GimpDocument(image, drawable, hint_layer=hint_layer))
    message = outcome if isinstance(outcome, str) else run_plan(outcome, settings)
    gimp.message(message)
    return message


def add_clicks_layer(image: Any, drawable: Any) -> str:
    return actions.add_painted_layer(GimpDocument(image, drawable), PaintedLayer.CLICKS)


def hint_at_selection(image: Any, drawable: Any, hint_layer: str) -> str:
    """No daemon: the foreground color fills the selection on the hint layer; the status bar says which color."""
    message = actions.hint_at_selection(GimpDocument(image, drawable, hint_layer=hint_layer), base_settings)
    gimp.progress_init(message)
    gimp.progress_end()
    return message


def _register(name: str, label: str, blurb: str, params: list[tuple], function: Any) -> None:
    register(f"python-fu-chromaseg-{name}", blurb, blurb, AUTHOR, AUTHOR, DATE, label, IMAGE_TYPES,
             params, [], function, menu=MENU)


_register("colorize-layer", "_Colorize layer...", BY_KEY["colorize_layer"].tooltip, _COLORIZE_PARAMS, colorize_layer)
_register("colorize-selection", "Colorize _selection...", BY_KEY["colorize_selection"].tooltip, _COLORIZE_PARAMS,
          colorize_selection)
_register("select-object", "Select _object...", BY_KEY["select_object"].tooltip,
          _TARGET + [(PF_OPTION, "mode", "Combine with the selection", 0, ["Replace", "Add", "Subtract"]), _ENDPOINT],
          select_object)
_register("auto-segment", "_Auto-segment...", BY_KEY["auto_segment"].tooltip,
          _TARGET + [(PF_OPTION, "output", "Segments as", 0, ["Layer group of masks", "Channels"]),
                     _ranged(PF_SPINNER, "max_segments"), _ENDPOINT],
          auto_segment)
_register("select-segment", "Select s_egment", BY_KEY["select_segment"].tooltip, _TARGET, select_segment)
_register("harmonize", "_Harmonize...", BY_KEY["harmonize_layer"].tooltip,
          _TARGET + [(PF_STRING, "hint_layer", "Keep the colors painted on this layer", naming.HINT_LAYER_NAME),
                     (PF_OPTION, "layer_mode", "Result layer mode", 0, ["Normal", "LCh color"]), _ENDPOINT],
          harmonize)
_register("add-hint-layer", "Add _hint layer", BY_KEY["hint_layer"].tooltip,
          _TARGET + [_HINT_LAYER], add_hint_layer)
_register("hint-at-selection", "Add hint at selectio_n", BY_KEY["hint_at_selection"].tooltip,
          _TARGET + [_HINT_LAYER], hint_at_selection)
_register("list-hints", "_List hints", BY_KEY["list_hints"].tooltip, _TARGET + [_HINT_LAYER, _ENDPOINT], list_hints)
_register("add-clicks-layer", "Add object _clicks layer", BY_KEY["clicks_layer"].tooltip, _TARGET, add_clicks_layer)
_register("preview", "_Preview colorization...",
          "A quick low-resolution look at Colorize layer (or Colorize selection when something is selected), opened "
          "as a new image: 'After' over 'Before', hide 'After' to compare; nothing is written to your image.",
          _PREVIEW_PARAMS, preview)
