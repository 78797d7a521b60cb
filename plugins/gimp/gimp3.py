"""The GIMP 3 gimpfu backend: registered procedures become typed ImageProcedures of a Gimp.PlugIn, and the gimpfu
calls map onto libgimp through GObject introspection. Imported only inside GIMP (it needs `gi` with Gimp 3.0).

Pixels go through Gegl buffers in perceptual formats ("R'G'B'A u8" / "R'G'B'A u16", "Y u8" for channels and
masks), which round-trip 8-bit values exactly; shadow buffers back `get_pixel_rgn(..., shadow=True)`.

It runs past 400 lines because it is one table: a few lines of libgimp per gimpfu call the shim offers, plus the
procedure registration that only this backend has; split, each half would import the other's private helpers.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402

from chromaseg.plugins.gimp import constants as C  # noqa: E402
from chromaseg.plugins.gimp.params import (  # noqa: E402
    PF_FLOAT,
    PF_INT,
    PF_OPTION,
    PF_STRING,
    PF_TOGGLE,
    Param,
)
from chromaseg.plugins.gimp.pixel_region import PixelRgn  # noqa: E402
from chromaseg.plugins.gimp.registry import Procedure  # noqa: E402

_MODES = {C.LAYER_MODE_NORMAL: Gimp.LayerMode.NORMAL, C.LAYER_MODE_LCH_COLOR: Gimp.LayerMode.LCH_COLOR}
_BASE_TYPES = {Gimp.ImageBaseType.RGB: C.RGB, Gimp.ImageBaseType.GRAY: C.GRAY, Gimp.ImageBaseType.INDEXED: C.INDEXED}
_GIMP_BASE_TYPES = {ours: theirs for theirs, ours in _BASE_TYPES.items()}
_LAYER_TYPES = {C.RGB_IMAGE: Gimp.ImageType.RGB_IMAGE, C.RGBA_IMAGE: Gimp.ImageType.RGBA_IMAGE,
                C.GRAY_IMAGE: Gimp.ImageType.GRAY_IMAGE, C.GRAYA_IMAGE: Gimp.ImageType.GRAYA_IMAGE}
_MASK_TYPES = {C.ADD_MASK_WHITE: Gimp.AddMaskType.WHITE, C.ADD_MASK_BLACK: Gimp.AddMaskType.BLACK,
               C.ADD_MASK_SELECTION: Gimp.AddMaskType.SELECTION}
_FILL_TYPES = {C.FILL_FOREGROUND: Gimp.FillType.FOREGROUND}
_U8_PRECISIONS = (Gimp.Precision.U8_LINEAR, Gimp.Precision.U8_NON_LINEAR, Gimp.Precision.U8_PERCEPTUAL)
_RW = GObject.ParamFlags.READWRITE
_INT_RANGE = (-(2**31), 2**31 - 1)
_FLOAT_RANGE = (-1e12, 1e12)


# --- objects --------------------------------------------------------------------------------------------------------


class _Wrapped:
    """A GIMP object behind a gimpfu-style wrapper: equal when GIMP's ids are, with its size."""

    def __init__(self, item: Any) -> None:
        self.item = item

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.item.get_id() == self.item.get_id()

    @property
    def width(self) -> int:
        return self.item.get_width()

    @property
    def height(self) -> int:
        return self.item.get_height()


class GImage(_Wrapped):
    """A Gimp.Image seen through gimpfu's attributes."""

    @property
    def base_type(self) -> int:
        return _BASE_TYPES[self.item.get_base_type()]

    @property
    def bits(self) -> int:
        """8 for 8-bit images; 16 for every deeper precision (the shim hands those out as u16)."""
        return 8 if self.item.get_precision() in _U8_PRECISIONS else 16

    @property
    def layers(self) -> list["GDrawable"]:
        return [wrap(layer) for layer in self.item.get_layers()]

    @property
    def channels(self) -> list["GDrawable"]:
        return [wrap(channel) for channel in self.item.get_channels()]

    @property
    def selection(self) -> "GDrawable":
        return GDrawable(self.item.get_selection())


class GDrawable(_Wrapped):
    """A layer, layer group, channel, layer mask or the selection; pixel regions read and write its Gegl buffers."""

    def __init__(self, item: Gimp.Drawable) -> None:
        super().__init__(item)
        self._buffers: dict[bool, Gegl.Buffer] = {}

    @property
    def name(self) -> str:
        return self.item.get_name()

    @property
    def offsets(self) -> tuple[int, int]:
        _, x, y = self.item.get_offsets()
        return x, y

    @property
    def has_alpha(self) -> bool:
        return self.item.has_alpha()

    @property
    def is_layer(self) -> bool:
        return isinstance(self.item, Gimp.Layer)

    @property
    def bpp(self) -> int:
        """Bytes per pixel of this drawable's pixel regions (see `format`)."""
        if not self.is_layer:
            return 1
        return 4 if GImage(self.item.get_image()).bits == 8 else 8

    @property
    def format(self) -> str:
        if not self.is_layer:
            return "Y u8"
        return "R'G'B'A u8" if self.bpp == 4 else "R'G'B'A u16"

    @property
    def mode(self) -> str:
        mode = self.item.get_mode()
        return next((name.value for name, value in _MODES.items() if value == mode), str(mode))

    @property
    def tattoo(self) -> int:
        """The item's id that stays with it when the image is saved and opened again."""
        return self.item.get_tattoo()

    def parasite_find(self, name: str) -> bytes | None:
        """The data of the item's parasite `name` (None when it has none)."""
        parasite = self.item.get_parasite(name)
        return None if parasite is None else bytes(parasite.get_data())

    def attach_new_parasite(self, name: str, flags: int, data: bytes) -> None:
        self.item.attach_parasite(Gimp.Parasite.new(name, int(flags), list(data)))

    @property
    def opacity(self) -> float:
        return self.item.get_opacity()

    @property
    def mask(self) -> "GDrawable | None":
        mask = self.item.get_mask() if self.is_layer else None
        return None if mask is None else GDrawable(mask)

    @property
    def parent(self) -> "GDrawable | None":
        parent = self.item.get_parent()
        return None if parent is None else wrap(parent)

    @property
    def children(self) -> list["GDrawable"] | None:
        if not self.item.is_group_layer():
            return None
        return [wrap(child) for child in self.item.get_children()]

    def set_offsets(self, x: int, y: int) -> None:
        self.item.set_offsets(x, y)

    def create_mask(self, mask_type: int) -> "GDrawable":
        return GDrawable(self.item.create_mask(_MASK_TYPES[mask_type]))

    def add_mask(self, mask: "GDrawable") -> None:
        self.item.add_mask(mask.item)

    def get_pixel_rgn(self, x: int, y: int, w: int, h: int, dirty: bool = True, shadow: bool = False) -> PixelRgn:
        return PixelRgn(self, x, y, w, h, dirty, shadow)

    def read_rect(self, x: int, y: int, w: int, h: int, shadow: bool) -> bytes:
        data = self._buffer(shadow).get(Gegl.Rectangle.new(x, y, w, h), 1.0, self.format, Gegl.AbyssPolicy.CLAMP)
        return bytes(data)

    def write_rect(self, x: int, y: int, w: int, h: int, data: bytes, shadow: bool) -> None:
        self._buffer(shadow).set(Gegl.Rectangle.new(x, y, w, h), self.format, data)

    def flush(self) -> None:
        """Push written tiles to GIMP's core (main and shadow buffers)."""
        for buffer in self._buffers.values():
            buffer.flush()

    def merge_shadow(self, undo: bool = True) -> None:
        """Commit what was written to the shadow buffer (one undo step when `undo`).

        The plug-in's buffer proxies cache tiles: they are dropped, so later reads see the merged pixels."""
        self.flush()
        self._buffers.clear()
        self.item.merge_shadow(undo)

    def update(self, x: int, y: int, w: int, h: int) -> None:
        self.item.update(x, y, w, h)

    def _buffer(self, shadow: bool) -> Gegl.Buffer:
        if shadow not in self._buffers:
            self._buffers[shadow] = self.item.get_shadow_buffer() if shadow else self.item.get_buffer()
        return self._buffers[shadow]


def wrap(item: Any) -> GDrawable:
    return GDrawable(item)


def _color(rgb: tuple[float, float, float]) -> Gegl.Color:
    color = Gegl.Color.new("black")
    color.set_rgba(rgb[0], rgb[1], rgb[2], 1.0)
    return color


def _srgb(linear: float) -> float:
    c = min(max(float(linear), 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


# --- namespaces -----------------------------------------------------------------------------------------------------


class _Gimp:
    """`gimp`: messages, the progress bar, object constructors."""

    message = staticmethod(Gimp.message)
    interactive = False  # the running procedure was started from GIMP's interface (set for each run)

    @staticmethod
    def progress_init(text: str = "") -> None:
        Gimp.progress_init(text)

    @staticmethod
    def progress_update(fraction: float) -> None:
        Gimp.progress_update(min(max(float(fraction), 0.0), 1.0))

    @staticmethod
    def progress_pulse() -> None:
        Gimp.progress_pulse()

    @staticmethod
    def progress_set_text(text: str) -> None:
        Gimp.progress_set_text(text)

    @staticmethod
    def progress_end() -> None:
        Gimp.progress_end()

    @staticmethod
    def Layer(image: GImage, name: str, width: int, height: int, type: int, opacity: float, mode: str) -> GDrawable:
        return GDrawable(Gimp.Layer.new(image.item, name, width, height, _LAYER_TYPES[type], opacity, _MODES[mode]))

    @staticmethod
    def Image(width: int, height: int, type: int) -> GImage:
        """A new 8-bit image (GIMP's default precision), not shown until a display opens."""
        return GImage(Gimp.Image.new(width, height, _GIMP_BASE_TYPES[type]))

    @classmethod
    def Display(cls, image: GImage) -> Any:
        """A window on `image` when the procedure runs interactively; None otherwise (a script shows what it
        wants, and GIMP without its interface has no windows)."""
        return Gimp.Display.new(image.item) if cls.interactive else None

    @staticmethod
    def GroupLayer(image: GImage, name: str) -> GDrawable:
        return GDrawable(Gimp.GroupLayer.new(image.item, name))

    @staticmethod
    def Channel(image: GImage, name: str, width: int, height: int, opacity: float,
                color: tuple[float, float, float]) -> GDrawable:
        return GDrawable(Gimp.Channel.new(image.item, name, width, height, opacity, _color(color)))


class _Pdb:
    """`pdb`: the procedures the plug-in calls, on libgimp's object API."""

    @staticmethod
    def gimp_image_undo_group_start(image: GImage) -> None:
        image.item.undo_group_start()

    @staticmethod
    def gimp_image_undo_group_end(image: GImage) -> None:
        image.item.undo_group_end()

    @staticmethod
    def gimp_selection_bounds(image: GImage) -> tuple[bool, int, int, int, int]:
        _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image.item)
        return non_empty, x1, y1, x2, y2

    @staticmethod
    def gimp_image_insert_layer(image: GImage, layer: GDrawable, parent: GDrawable | None, position: int) -> None:
        image.item.insert_layer(layer.item, None if parent is None else parent.item, position)

    @staticmethod
    def gimp_image_insert_channel(image: GImage, channel: GDrawable, parent: Any, position: int) -> None:
        image.item.insert_channel(channel.item, None, position)

    @staticmethod
    def gimp_image_remove_channel(image: GImage, channel: GDrawable) -> None:
        image.item.remove_channel(channel.item)

    @staticmethod
    def gimp_image_select_item(image: GImage, operation: int, item: GDrawable) -> None:
        image.item.select_item(Gimp.ChannelOps(operation), item.item)

    @staticmethod
    def gimp_image_clean_all(image: GImage) -> None:
        image.item.clean_all()

    @staticmethod
    def gimp_image_convert_rgb(image: GImage) -> None:
        image.item.convert_rgb()

    @staticmethod
    def gimp_image_get_layer_by_name(image: GImage, name: str) -> GDrawable | None:
        layer = image.item.get_layer_by_name(name)
        return None if layer is None else wrap(layer)

    @staticmethod
    def gimp_image_get_layer_by_tattoo(image: GImage, tattoo: int) -> GDrawable | None:
        layer = image.item.get_layer_by_tattoo(tattoo)
        return None if layer is None else wrap(layer)

    @staticmethod
    def gimp_drawable_edit_fill(drawable: GDrawable, fill_type: int) -> None:
        drawable.item.edit_fill(_FILL_TYPES[fill_type])

    @staticmethod
    def gimp_context_get_foreground() -> tuple[float, float, float]:
        """The foreground color as sRGB (0..1): Gegl gives linear RGB, encoded here with the sRGB curve."""
        r, g, b, _ = Gimp.context_get_foreground().get_rgba()
        return tuple(_srgb(c) for c in (r, g, b))

    @staticmethod
    def gimp_displays_flush() -> None:
        Gimp.displays_flush()


# --- procedures -----------------------------------------------------------------------------------------------------


def _arg_name(param: Param) -> str:
    """GIMP wants canonical argument names (lowercase, digits, '-')."""
    return param.name.replace("_", "-")


def _add_argument(procedure: Gimp.Procedure, param: Param) -> None:
    name, nick, blurb = _arg_name(param), param.description, param.description
    if param.kind == PF_TOGGLE:
        procedure.add_boolean_argument(name, nick, blurb, param.default, _RW)
    elif param.kind == PF_STRING:
        procedure.add_string_argument(name, nick, blurb, param.default, _RW)
    elif param.kind == PF_OPTION:
        choice = Gimp.Choice.new()
        for index, label in enumerate(param.options):
            choice.add(_option_nick(label), index, label, "")
        procedure.add_choice_argument(name, nick, blurb, choice, _option_nick(param.options[param.default]), _RW)
    elif param.is_integer:
        lo, hi = (param.lo, param.hi) if param.kind != PF_INT else _INT_RANGE
        procedure.add_int_argument(name, nick, blurb, int(lo), int(hi), int(param.default), _RW)
    elif param.kind == PF_FLOAT or param.lo is None:
        procedure.add_double_argument(name, nick, blurb, *_FLOAT_RANGE, float(param.default), _RW)
    else:
        procedure.add_double_argument(name, nick, blurb, float(param.lo), float(param.hi), float(param.default), _RW)


def _option_nick(label: str) -> str:
    """A choice's nick, what scripts pass: the label in lowercase with dashes ("LCh color" -> "lch-color")."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def _value(config: Gimp.ProcedureConfig, param: Param) -> Any:
    value = config.get_property(_arg_name(param))
    if param.kind == PF_OPTION:
        return [_option_nick(label) for label in param.options].index(value)
    if param.kind == PF_STRING and value is None:  # GIMP hands an empty string argument back as None
        return ""
    return param.check(value)


def _run_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, title: str) -> bool:
    """GIMP's generated dialog for the procedure's arguments; False when the artist cancelled."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    GimpUi.init(procedure.get_name())
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    dialog.fill(None)
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


def _make_run(spec: Procedure) -> Callable[..., Any]:
    def run(procedure, run_mode, image, drawables, config, run_data):  # noqa: ANN001, ANN202 (GIMP's signature)
        def fail(message: str) -> Any:
            return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))

        if len(drawables) != 1:
            return fail(f"{spec.label.strip('._').replace('_', '')}: select exactly one layer.")
        if run_mode == Gimp.RunMode.INTERACTIVE and spec.params:
            if not _run_dialog(procedure, config, spec.label.replace("_", "").rstrip(".")):
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        _Gimp.interactive = run_mode != Gimp.RunMode.NONINTERACTIVE
        try:
            values = [_value(config, p) for p in spec.params]
            spec.function(GImage(image), wrap(drawables[0]), *values)
        except Exception as exc:  # the procedure's error is the artist's message (a bug keeps its type name)
            return fail(str(exc) or type(exc).__name__)
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    return run


_PROCEDURES: dict[str, Procedure] = {}


class ChromasegPlugIn(Gimp.PlugIn):
    """The plug-in GIMP talks to: one ImageProcedure per registered gimpfu procedure."""

    def do_query_procedures(self) -> list[str]:
        return list(_PROCEDURES)

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        spec = _PROCEDURES[name]
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _make_run(spec), None)
        procedure.set_image_types(spec.imagetypes)
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label(spec.label)
        procedure.add_menu_path(spec.menu)
        procedure.set_documentation(spec.blurb, spec.help, name)
        procedure.set_attribution(spec.author, spec.copyright, spec.date)
        for param in spec.params:
            _add_argument(procedure, param)
        return procedure


class Gimp3Backend:
    """gimpfu's `gimp` and `pdb` on libgimp; `main` hands the procedures to GIMP."""

    gimp = _Gimp()
    pdb = _Pdb()

    def main(self, procedures: dict[str, Procedure]) -> None:
        _PROCEDURES.update(procedures)
        Gimp.main(ChromasegPlugIn.__gtype__, sys.argv)
