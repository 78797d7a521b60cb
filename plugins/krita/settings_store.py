"""Settings kept in Krita's own configuration (kritarc, group "chromaseg"), as strings."""
from __future__ import annotations

from dataclasses import fields

from krita import Krita

from chromaseg.plugins.common.settings import Settings

GROUP = "chromaseg"


def load_settings() -> Settings:
    """The stored settings; anything missing or unreadable keeps its default."""
    k = Krita.instance()
    return Settings.from_strings({f.name: k.readSetting(GROUP, f.name, "") for f in fields(Settings)})


def save_settings(settings: Settings) -> None:
    k = Krita.instance()
    for name, value in settings.to_strings().items():
        k.writeSetting(GROUP, name, value)
