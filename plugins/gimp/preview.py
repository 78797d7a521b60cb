"""A colorize preview in GIMP: the procedure dialog cannot show a live image, so the preview opens as a new image
beside the artist's (nothing is written to theirs): "Before" at the bottom and "After" above it, visible, so hiding
"After" is the before/after toggle. The new image is marked clean: closing it asks nothing."""
from __future__ import annotations

from typing import Any

from chromaseg.plugins.common.preview import PreviewImage
from chromaseg.plugins.gimp.gimpfu import LAYER_MODE_NORMAL, RGB, RGBA_IMAGE, gimp, pdb

BEFORE, AFTER = "Before", "After"


def open_preview(shown: PreviewImage) -> Any:
    """The new image holding the preview (an 8-bit RGB image, RGBA8 layers), shown in a window when the procedure
    runs interactively."""
    w, h = shown.width, shown.height
    image = gimp.Image(w, h, RGB)
    for name, data in ((BEFORE, shown.before), (AFTER, shown.after)):
        layer = gimp.Layer(image, name, w, h, RGBA_IMAGE, 100.0, LAYER_MODE_NORMAL)
        pdb.gimp_image_insert_layer(image, layer, None, 0)  # on top: After above Before
        layer.get_pixel_rgn(0, 0, w, h, True, False)[0:w, 0:h] = data
        layer.flush()
    pdb.gimp_image_clean_all(image)
    gimp.Display(image)
    pdb.gimp_displays_flush()
    return image
