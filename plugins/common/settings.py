"""The artist's options, stored by each editor as plain strings (Krita: writeSetting).

The options that become op params take their ranges, defaults, steps and words from the op contract
(`chromaseg.bridge.contract`); `OPTIONS` is what both editors build their widgets from.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from chromaseg.bridge.contract import ColorizeParams, Param, SegmentParams, param_specs
from chromaseg.plugins.common.pixels import MAX_LABELS

_COLORIZE = param_specs(ColorizeParams)
_MAX_SEGMENTS = param_specs(SegmentParams)["max_segments"]

# Each checked option: the contract's param, narrowed where the plugin can take less (auto-segment's masks are cut
# from the label map's low byte), and the plugin's own ones.
OPTIONS: dict[str, Param] = {
    **{name: _COLORIZE[name] for name in ("vibrancy", "harmonize", "segment_pass", "confine_hints", "feather",
                                          "colorizer")},
    "max_segments": replace(_MAX_SEGMENTS, hi=min(_MAX_SEGMENTS.hi, MAX_LABELS)),
    # colorize's `preview` (px), always on for the Preview command, with the plugin's own default; Colorize sends none
    "preview_size": replace(_COLORIZE["preview"], default=384,
                            help="Long side of a Preview: a quick look at a scaled-down copy (never enlarged) that "
                                 "writes nothing to the document; Colorize works at full size."),
    "padding": Param((int, float), 0.25, 0.0, 4.0, step=0.01, label="Context %",
                     help="Context sent around a selection, as a share of its longer side."),
    "min_padding": Param((int,), 16, 0, 4096, step=1, label="Least context (px)",
                         help="Context sent around a selection at least, in pixels."),
}
MODEL_VIBRANCY = "Use the model's vibrancy"  # the toggle that leaves vibrancy to the daemon's colorizer (None)


@dataclass(frozen=True)
class Settings:
    """Everything an action or the daemon connection needs to know about the artist's choices.

    vibrancy: higher = bolder colors (0..1); None = the loaded model's own (the daemon's `info` says which).
    harmonize, segment_pass, confine_hints, feather: colorize's params of the same names.
    colorizer: a published colorizer the daemon has installed (`info` lists them); None = the shipped model.
    max_segments: how many segments auto-segment asks for.
    preview_size: the long side of a Preview (colorize's `preview` param), in pixels.
    padding: context sent around a selection, as a fraction of its longer side (at least `min_padding` pixels).
    daemon_command: what autostart runs (split like a shell would); empty = `chromaseg serve` from PATH.
    endpoint: where the daemon listens; empty = the bridge's default (CHROMASEG_ENDPOINT or the user's socket).
    autostart: start the daemon when nothing answers.
    """

    vibrancy: float | None = OPTIONS["vibrancy"].default
    harmonize: bool = OPTIONS["harmonize"].default
    segment_pass: bool = OPTIONS["segment_pass"].default
    confine_hints: bool = OPTIONS["confine_hints"].default
    padding: float = OPTIONS["padding"].default
    min_padding: int = OPTIONS["min_padding"].default
    feather: float = OPTIONS["feather"].default
    colorizer: str | None = OPTIONS["colorizer"].default
    max_segments: int = OPTIONS["max_segments"].default
    preview_size: int = OPTIONS["preview_size"].default
    daemon_command: str = ""
    endpoint: str = ""
    autostart: bool = True

    def __post_init__(self) -> None:
        for name, spec in OPTIONS.items():
            value = getattr(self, name)
            if not (value is None and spec.default is None):  # None: the model's own, where that is the default
                spec.checked(name, value)

    def to_strings(self) -> dict[str, str]:
        """Each field as a string, for an editor's settings store (None, "the model's own", as empty)."""
        return {f.name: _format(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_strings(cls, stored: Mapping[str, str]) -> "Settings":
        """Rebuild from `to_strings`; missing, unknown or unreadable entries keep their defaults."""
        result = cls()
        for f in fields(cls):
            text = stored.get(f.name)
            if text is None or text == "":
                continue
            kinds = OPTIONS[f.name].kind if f.name in OPTIONS else (type(getattr(result, f.name)),)
            try:
                result = replace(result, **{f.name: _parse(kinds, text)})
            except ValueError:
                continue
        return result

    def command(self) -> list[str] | None:
        """The autostart command as an argument list, or None for the bridge's default."""

        return shlex.split(self.daemon_command) or None


def _format(value: Any) -> str:
    if value is None:
        return ""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _parse(kinds: tuple[type, ...], text: str) -> Any:
    if bool in kinds:
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    return (float if float in kinds else kinds[0])(text)
