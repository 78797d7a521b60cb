"""Krita's own words, as its Python API spells them (`Node.type()`, `colorModel()`, `colorDepth()`), as enums.

They are `str` enums: a member compares equal to the string Krita returns and is passed to Krita as that string.
"""
from __future__ import annotations

from enum import Enum


class NodeType(str, Enum):
    PAINT_LAYER = "paintlayer"
    GROUP_LAYER = "grouplayer"
    TRANSPARENCY_MASK = "transparencymask"
    SELECTION_MASK = "selectionmask"
    FILTER_MASK = "filtermask"
    TRANSFORM_MASK = "transformmask"
    COLORIZE_MASK = "colorizemask"

    @property
    def is_mask(self) -> bool:
        return self.name.endswith("_MASK")


MASK_TYPES = frozenset(t.value for t in NodeType if t.is_mask)


class ColorModel(str, Enum):
    RGBA = "RGBA"
    GRAYA = "GRAYA"


class ColorDepth(str, Enum):
    U8 = "U8"
    U16 = "U16"
    F16 = "F16"
    F32 = "F32"

    @property
    def is_float(self) -> bool:
        return self.value.startswith("F")
