"""Names of the layers and masks the plugins create: what made them and with which settings, so the layer stack
documents itself (two colorizations with different vibrancy can be told apart without opening anything)."""
from __future__ import annotations

from chromaseg.plugins.common.settings import Settings

HINT_LAYER_NAME = "Color hints"
SEP = " · "


def colorized_name(source: str, settings: Settings, *, hints: bool, selection: bool) -> str:
    """E.g. "Colorized · Background · vibrancy 0.6 · harmonized · segment pass · hints · selection" ("vibrancy model"
    when the model's own was used)."""
    vibrancy = "model" if settings.vibrancy is None else f"{settings.vibrancy:g}"
    parts = ["Colorized", source, f"vibrancy {vibrancy}"]
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
    parts = ["Harmonized", source]
    if protected:
        parts.append("hints kept")
    if selection:
        parts.append("selection")
    return SEP.join(parts)


def segments_name(source: str, count: int) -> str:
    """The group that holds one selection mask per segment."""
    return SEP.join(["Segments", source, f"{count} found"])


def segment_name(label: int, pixels: int) -> str:
    """One segment's mask, with its size so the artist can tell the big ones from specks."""
    return f"Segment {label} ({pixels} px)"
