"""A gimpfu-compatible shim for GIMP 3: write a plug-in the GIMP 2 way, run it on Gimp.PlugIn, test it without GIMP.

    from chromaseg.plugins.gimp.gimpfu import *
    register("python-fu-x", "blurb", "help", "me", "me", "2026", "_X...", "RGB*, GRAY*",
             [(PF_IMAGE, "image", "", None), (PF_DRAWABLE, "drawable", "", None),
              (PF_SLIDER, "amount", "Amount", 0.5, (0.0, 1.0, 0.01))], [], run_x, menu="<Image>/Filters/Colors/X")
    main()

The subset a plug-in like chromaseg needs, with gimpfu's names:
- `gimp.message`, `gimp.progress_init/update/pulse/set_text/end`, `gimp.Layer(image, name, w, h, type, opacity,
  mode)`, `gimp.Channel(image, name, w, h, opacity, (r, g, b))`, `gimp.GroupLayer(image, name)`, `gimp.Image(w, h,
  RGB)` (a new 8-bit image) and `gimp.Display(image)` (a window on it when the procedure runs interactively, else
  None: a script shows what it wants).
- `pdb.gimp_image_undo_group_start/end`, `pdb.gimp_image_clean_all`, `pdb.gimp_selection_bounds`,
  `pdb.gimp_image_insert_layer/channel`, `pdb.gimp_image_remove_channel`, `pdb.gimp_image_select_item`,
  `pdb.gimp_image_convert_rgb`, `pdb.gimp_image_get_layer_by_name`, `pdb.gimp_image_get_layer_by_tattoo`,
  `pdb.gimp_drawable_edit_fill(drawable, FILL_FOREGROUND)`, `pdb.gimp_context_get_foreground()` (sRGB, 0..1),
  `pdb.gimp_displays_flush`.
- images: `width`, `height`, `base_type`, `layers`, `channels`, `selection`; drawables: `name`, `width`, `height`,
  `offsets`, `has_alpha`, `bpp`, `mode`, `opacity`, `mask`, `parent`, `children`, `get_pixel_rgn(x, y, w, h, dirty,
  shadow)` with `rgn[x0:x1, y0:y1]` reads and writes, `merge_shadow`, `update`, `flush`, `create_mask`, `add_mask`,
  `tattoo`, `parasite_find(name)` (the parasite's data as bytes, or None) and `attach_new_parasite(name, flags, data)`.

One deliberate difference from gimpfu: a layer's pixel region is always perceptual RGBA ("R'G'B'A u8" on 8-bit
images, "R'G'B'A u16" on deeper ones, so `bpp` is 4 or 8) and a channel's is "Y u8": the plug-in never deals with
GIMP's many pixel formats, and 8-bit pixels round-trip exactly.

The backend is GIMP 3 (`gimp3.Gimp3Backend`, chosen by `main()`) or the in-memory one of the unit tests
(tests/plugins/gimp/memory.py's `MemoryBackend`, installed with `use_backend`).
"""
from __future__ import annotations

from typing import Any

from chromaseg.plugins.gimp.constants import *  # noqa: F401,F403  (gimpfu exports its constants)
from chromaseg.plugins.gimp.params import (  # noqa: F401  (gimpfu exports the PF_* names)
    PF_BOOL,
    PF_DRAWABLE,
    PF_FLOAT,
    PF_IMAGE,
    PF_INT,
    PF_OPTION,
    PF_SLIDER,
    PF_SPINNER,
    PF_STRING,
    PF_TOGGLE,
)
from chromaseg.plugins.gimp.registry import PROCEDURES, register  # noqa: F401

_active: Any = None


def use_backend(backend: Any) -> None:
    """Make `backend` the one `gimp` and `pdb` talk to (the GIMP 3 one in GIMP, the in-memory one in tests)."""
    global _active
    _active = backend


def backend() -> Any:
    if _active is None:
        raise RuntimeError("no gimpfu backend: call main() inside GIMP, or use_backend(MemoryBackend()) in tests")
    return _active


class _Namespace:
    """`gimp` / `pdb`: attribute lookups forwarded to the active backend's namespace of that name."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(getattr(backend(), self._name), attr)


gimp = _Namespace("gimp")
pdb = _Namespace("pdb")


def main() -> None:
    """Hand the registered procedures to GIMP 3 (the plug-in's entry calls this, as in gimpfu)."""
    from chromaseg.plugins.gimp.gimp3 import Gimp3Backend

    use_backend(Gimp3Backend())
    _active.main(PROCEDURES)
