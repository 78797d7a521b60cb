"""gimpfu's constants for the calls the shim implements, as enums whose members carry gimpfu's names (and values);
each backend maps them onto its own. The module-level names are what `from gimpfu import *` gives a plug-in."""
from __future__ import annotations

from enum import Enum, IntEnum


class ImageBaseType(IntEnum):
    """image.base_type"""

    RGB = 0
    GRAY = 1
    INDEXED = 2


class ImageType(IntEnum):
    """gimp.Layer's type"""

    RGB_IMAGE = 0
    RGBA_IMAGE = 1
    GRAY_IMAGE = 2
    GRAYA_IMAGE = 3


class AddMaskType(IntEnum):
    """layer.create_mask"""

    ADD_MASK_WHITE = 0
    ADD_MASK_BLACK = 1
    ADD_MASK_SELECTION = 4


class ChannelOps(IntEnum):
    """pdb.gimp_image_select_item"""

    CHANNEL_OP_ADD = 0
    CHANNEL_OP_SUBTRACT = 1
    CHANNEL_OP_REPLACE = 2
    CHANNEL_OP_INTERSECT = 3


class LayerMode(str, Enum):
    """gimp.Layer's mode and layer.mode: GIMP 3's nick of the mode (gimpfu's ints name GIMP 2's modes)."""

    LAYER_MODE_NORMAL = "normal"
    LAYER_MODE_LCH_COLOR = "lch-color"


class FillType(IntEnum):
    """pdb.gimp_drawable_edit_fill"""

    FILL_FOREGROUND = 0


class ParasiteFlags(IntEnum):
    """drawable.attach_new_parasite"""

    PARASITE_PERSISTENT = 1


RGB, GRAY, INDEXED = ImageBaseType
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE = ImageType
ADD_MASK_WHITE, ADD_MASK_BLACK, ADD_MASK_SELECTION = AddMaskType
CHANNEL_OP_ADD, CHANNEL_OP_SUBTRACT, CHANNEL_OP_REPLACE, CHANNEL_OP_INTERSECT = ChannelOps
LAYER_MODE_NORMAL, LAYER_MODE_LCH_COLOR = LayerMode
(PARASITE_PERSISTENT,) = ParasiteFlags
(FILL_FOREGROUND,) = FillType

__all__ = [name for name in dir() if name.isupper()]
