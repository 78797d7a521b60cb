"""Names of the layers and masks the plugins create: what made them and with which settings, so the layer stack
documents itself (two colorizations with different vibrancy can be told apart without opening anything)."""
from __future__ import annotations

from enum import Enum

from chromaseg.plugins.common.settings import Settings


class PaintedLayer(str, Enum):
    """The layers the artist paints prompts on, by their names. What is painted (alpha > 0) is read by the daemon's
    core, never interpreted here: on "Color hints" every painted pixel is a color hint; on "Object clicks" every
    painted dot is a click on the object, a red one a click on what is not the object."""

    HINTS = "Color hints"
    CLICKS = "Object clicks"

    def __str__(self) -> str:
        return self.value


HINT_LAYER_NAME = PaintedLayer.HINTS.value
CLICKS_LAYER_NAME = PaintedLayer.CLICKS.value
SEP = " · "
COLORIZED, HARMONIZED, SEGMENTS = "Colorized", "Harmonized", "Segments"  # the first word of what the plugin makes
MADE_BY_PLUGIN = (COLORIZED, HARMONIZED, SEGMENTS)


def colorized_name(source: str, settings: Settings, *, hints: bool, selection: bool) -> str:
    """E.g. "Colorized · Background · vibrancy 0.6 · harmonized · segment pass · hints · selection" ("vibrancy
    model" when the model's own was used); a published colorizer is named instead of the vibrancy it does not use
    ("Colorized · Background · siggraph17 · hints")."""
    if settings.colorizer is not None:
        parts = [COLORIZED, source, settings.colorizer]
    else:
        parts = [COLORIZED, source, f"vibrancy {'model' if settings.vibrancy is None else f'{settings.vibrancy:g}'}"]
    if settings.harmonize:
        parts.append("harmonized")
    if settings.segment_pass:
        parts.append("segment pass")
    if hints:
        parts.append("hints confined" if settings.confine_hints else "hints")
    if selection:
        parts.append(f"selection, feather {settings.feather:g}")
    return SEP.join(parts)


def harmonized_name(source: str, *, protected: bool, selection: bool) -> str:
    """E.g. "Harmonized · Colorized layer · hints kept"."""
    parts = [HARMONIZED, source]
    if protected:
        parts.append("hints kept")
    if selection:
        parts.append("selection")
    return SEP.join(parts)


def segments_name(source: str, count: int) -> str:
    """The group that holds one selection mask per segment."""
    return SEP.join([SEGMENTS, source, f"{count} found"])


def segment_name(label: int, pixels: int, kind: str | None = None) -> str:
    """One segment's mask: what the daemon's semantic prior says it is, when it knows ("Segment 2 · person"), and
    its size, so the artist can tell the big ones from specks."""
    named = f"Segment {label}" if kind is None else f"Segment {label}{SEP}{kind}"
    return f"{named} ({pixels} px)"


def made_by_plugin(name: str) -> bool:
    """Whether `name` is a result or segments layer's (it begins with what made it)."""
    return any(name.startswith(kind + SEP) for kind in MADE_BY_PLUGIN)


def derived_from(name: str, source: str) -> bool:
    """Whether the layer `name` was made from the layer `source`, directly ("Colorized · Background · ...") or through
    other results ("Harmonized · Colorized · Background · ...")."""
    for kind in MADE_BY_PLUGIN:
        if name.startswith(kind + SEP):
            rest = name[len(kind + SEP):]
            return rest == source or rest.startswith(source + SEP) or derived_from(rest, source)
    return False
