"""The artist's options, with their ranges, stored by each editor as plain strings (Krita: writeSetting)."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class Settings:
    """Everything an action or the daemon connection needs to know about the artist's choices.

    vibrancy: the colorizer's annealed-mean temperature (lower = bolder colors).
    harmonize: run Algorithm 1 over the segments after colorizing.
    segment_pass: the per-segment refinement pass of the colorizer.
    confine_hints: a hint colors only the segment it was painted on.
    padding: context sent around a selection, as a fraction of its longer side (at least `min_padding` pixels).
    feather: width in pixels of the soft inner edge where the result blends into the source.
    max_segments: how many segments auto-segment asks for (at most 255, see pixels.label_masks).
    daemon_command: what autostart runs (split like a shell would); empty = `chromaseg serve` from PATH.
    endpoint: where the daemon listens; empty = the bridge's default (CHROMASEG_ENDPOINT or the user's socket).
    autostart: start the daemon when nothing answers.
    """

    vibrancy: float = 0.6  # the shipped colorizer's tuned temperature (docs/model-card.md)
    harmonize: bool = False
    segment_pass: bool = True
    confine_hints: bool = False
    padding: float = 0.25
    min_padding: int = 16
    feather: float = 4.0
    max_segments: int = 32
    daemon_command: str = ""
    endpoint: str = ""
    autostart: bool = True

    def __post_init__(self) -> None:
        _check(0.01 <= self.vibrancy <= 10.0, "vibrancy must be between 0.01 and 10")
        _check(0.0 <= self.padding <= 4.0, "padding must be between 0 and 4 (a fraction of the selection)")
        _check(0 <= self.min_padding <= 4096, "min_padding must be between 0 and 4096 pixels")
        _check(0.0 <= self.feather <= 4096.0, "feather must be between 0 and 4096 pixels")
        _check(1 <= self.max_segments <= 255, "max_segments must be between 1 and 255")

    def to_strings(self) -> dict[str, str]:
        """Each field as a string, for an editor's settings store."""
        return {f.name: _format(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_strings(cls, stored: Mapping[str, str]) -> "Settings":
        """Rebuild from `to_strings`; missing, unknown or unreadable entries keep their defaults."""
        result = cls()
        for f in fields(cls):
            text = stored.get(f.name)
            if text is None or text == "":
                continue
            try:
                result = replace(result, **{f.name: _parse(type(getattr(result, f.name)), text)})
            except ValueError:
                continue
        return result

    def command(self) -> list[str] | None:
        """The autostart command as an argument list, or None for the bridge's default."""

        return shlex.split(self.daemon_command) or None


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _format(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _parse(kind: type, text: str) -> Any:
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    return kind(text)
