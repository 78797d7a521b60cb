"""gimpfu's constants for the calls the shim implements; each backend maps them onto its own values."""
from __future__ import annotations

# image base types (image.base_type)
RGB, GRAY, INDEXED = 0, 1, 2
# layer types (gimp.Layer)
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE = 0, 1, 2, 3
# layer modes (gimp.Layer, layer.mode)
LAYER_MODE_NORMAL = "normal"
LAYER_MODE_LCH_COLOR = "lch-color"
# layer.create_mask
ADD_MASK_WHITE, ADD_MASK_BLACK, ADD_MASK_SELECTION = 0, 1, 4
# pdb.gimp_image_select_item
CHANNEL_OP_ADD, CHANNEL_OP_SUBTRACT, CHANNEL_OP_REPLACE, CHANNEL_OP_INTERSECT = 0, 1, 2, 3

__all__ = [name for name in dir() if name.isupper()]
