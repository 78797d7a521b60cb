"""The in-memory gimpfu backend: images, layers, channels, selection, undo groups and progress as plain Python
objects, so the plug-in's actions run in unit tests exactly as they do in GIMP (through the same gimpfu calls).

Layer pixels are stored as perceptual RGBA at the image's depth (8 or 16 bits), channels and masks as u8, which is
what the GIMP 3 backend's pixel regions hand out. Every change is recorded as an undo step; `undo_steps` counts the
steps, treating an undo group as one, so a test can check that an action is one undoable step.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from chromaseg.plugins.gimp import constants as C
from chromaseg.plugins.gimp.pixel_region import PixelRgn
from chromaseg.plugins.gimp.registry import PROCEDURES, ProcedureError


_TATTOOS = itertools.count(1)


class _Pixels:
    """A w x h raster of `bpp`-byte pixels plus an optional shadow copy (pixel-region storage)."""

    def __init__(self, w: int, h: int, bpp: int, fill: bytes) -> None:
        self.width, self.height, self.bpp = w, h, bpp
        self.data = bytearray(fill * (w * h))
        self.shadow: bytearray | None = None

    def read_rect(self, x: int, y: int, w: int, h: int, shadow: bool) -> bytes:
        src = self._buffer(shadow)
        row = self.width * self.bpp
        return b"".join(bytes(src[(y + r) * row + x * self.bpp : (y + r) * row + (x + w) * self.bpp])
                        for r in range(h))

    def write_rect(self, x: int, y: int, w: int, h: int, data: bytes, shadow: bool) -> None:
        dst = self._buffer(shadow)
        row, span = self.width * self.bpp, w * self.bpp
        for r in range(h):
            dst[(y + r) * row + x * self.bpp : (y + r) * row + (x + w) * self.bpp] = data[r * span : (r + 1) * span]
        if not shadow:
            self._changed("write pixels")

    def _buffer(self, shadow: bool) -> bytearray:
        if not shadow:
            return self.data
        if self.shadow is None:
            self.shadow = bytearray(self.data)
        return self.shadow

    def get_pixel_rgn(self, x: int, y: int, w: int, h: int, dirty: bool = True, shadow: bool = False) -> PixelRgn:
        return PixelRgn(self, x, y, w, h, dirty, shadow)

    def merge_shadow(self, undo: bool = True) -> None:
        """Commit the shadow where the image is selected (everywhere when nothing is), as GIMP's filters do."""
        if self.shadow is None:
            return
        covered = self._selected()
        if covered is None:
            self.data[:] = self.shadow
        else:
            for i, inside in enumerate(covered):
                if inside:
                    self.data[i * self.bpp : (i + 1) * self.bpp] = self.shadow[i * self.bpp : (i + 1) * self.bpp]
        self.shadow = None
        self._changed("merge shadow")

    def _selected(self) -> list[bool] | None:
        """Per pixel of this drawable, whether the image's selection covers it; None when nothing is selected."""
        image = self.image
        if self is image.selection or image.selection_empty():
            return None
        x0, y0 = self.offsets
        return [0 <= x0 + x < image.width and 0 <= y0 + y < image.height
                and image.selection.data[(y0 + y) * image.width + x0 + x] > 0
                for y in range(self.height) for x in range(self.width)]

    def update(self, x: int, y: int, w: int, h: int) -> None:
        """GIMP redraws the area; nothing to do in memory."""

    def flush(self) -> None:
        """GIMP pushes buffered tiles to the core; nothing to do in memory."""

    image: "MemImage"
    offsets: tuple[int, int]

    def _changed(self, what: str) -> None:
        raise NotImplementedError


class MemChannel(_Pixels):
    """A channel, layer mask or the selection: u8 coverage (0..255)."""

    def __init__(self, image: "MemImage", name: str, w: int, h: int, opacity: float = 100.0,
                 color: tuple[float, float, float] = (0.0, 0.0, 0.0), value: int = 0) -> None:
        super().__init__(w, h, 1, bytes([value]))
        self.image, self.name, self.opacity, self.color = image, name, opacity, color
        self.offsets = (0, 0)
        self.parent = None

    def _changed(self, what: str) -> None:
        self.image.record(f"{what} ({self.name})")


class MemLayer(_Pixels):
    """A layer (or, with `children`, a layer group) of perceptual RGBA pixels."""

    def __init__(self, image: "MemImage", name: str, w: int, h: int, type: int = C.RGBA_IMAGE,
                 opacity: float = 100.0, mode: str = C.LAYER_MODE_NORMAL, group: bool = False) -> None:
        super().__init__(w, h, 4 * image.bits // 8, bytes(4 * image.bits // 8))
        self.image, self.name, self.type, self.opacity, self.mode = image, name, type, opacity, mode
        self.offsets = (0, 0)
        self.mask: MemChannel | None = None
        self.parent: MemLayer | None = None
        self.children: list[MemLayer] | None = [] if group else None
        self.visible = True
        self.tattoo = next(_TATTOOS)
        self.parasites: dict[str, tuple[int, bytes]] = {}

    @property
    def has_alpha(self) -> bool:
        return self.type in (C.RGBA_IMAGE, C.GRAYA_IMAGE)

    def set_offsets(self, x: int, y: int) -> None:
        self.offsets = (x, y)
        self.image.record(f"move ({self.name})")

    def create_mask(self, mask_type: int) -> MemChannel:
        """A mask the layer's size: white, black, or the selection under the layer (white when nothing is selected)."""
        if mask_type not in (C.ADD_MASK_WHITE, C.ADD_MASK_BLACK, C.ADD_MASK_SELECTION):
            raise ValueError(f"unsupported mask type {mask_type}")
        mask = MemChannel(self.image, f"{self.name} mask", self.width, self.height,
                          value=0 if mask_type == C.ADD_MASK_BLACK else 255)
        if mask_type == C.ADD_MASK_SELECTION and not self.image.selection_empty():
            x, y = self.offsets
            sel = self.image.selection
            mask.data[:] = sel.read_rect(x, y, self.width, self.height, False)  # tests keep layers on the canvas
        return mask

    def add_mask(self, mask: MemChannel) -> None:
        if self.mask is not None:
            raise ValueError(f"layer {self.name!r} already has a mask")
        self.mask = mask
        self.image.record(f"add mask ({self.name})")

    def parasite_find(self, name: str) -> bytes | None:
        found = self.parasites.get(name)
        return None if found is None else found[1]

    def attach_new_parasite(self, name: str, flags: int, data: bytes) -> None:
        self.parasites[name] = (int(flags), bytes(data))
        self.image.record(f"attach parasite {name} ({self.name})")

    def _changed(self, what: str) -> None:
        self.image.record(f"{what} ({self.name})")


class MemImage:
    """An image: a layer tree (index 0 = top), channels, the selection and the undo history."""

    def __init__(self, width: int, height: int, base_type: int = C.RGB, bits: int = 8) -> None:
        if bits not in (8, 16):
            raise ValueError("the in-memory backend models 8 and 16-bit images")
        self.width, self.height, self.base_type, self.bits = width, height, base_type, bits
        self.layers: list[MemLayer] = []
        self.channels: list[MemChannel] = []
        self.undo: list[list[str]] = []  # finished undo steps, each a list of the changes it holds
        self._group: list[str] | None = None
        self._depth = 0
        self.selection = MemChannel(self, "selection", width, height)
        self.dirty = False  # changed since it was made or marked clean (closing it would ask to save)

    # --- undo ---

    def record(self, change: str) -> None:
        self.dirty = True
        if self._group is not None:
            self._group.append(change)
        else:
            self.undo.append([change])

    def undo_group_start(self) -> None:
        if self._depth == 0:
            self._group = []
        self._depth += 1

    def undo_group_end(self) -> None:
        if self._depth == 0:
            raise RuntimeError("undo group end without a start")
        self._depth -= 1
        if self._depth == 0:
            if self._group:
                self.undo.append(self._group)
            self._group = None

    @property
    def undo_steps(self) -> int:
        return len(self.undo)

    @property
    def undo_group_open(self) -> bool:
        return self._depth > 0

    # --- layers ---

    def all_layers(self) -> list[MemLayer]:
        """Every layer of the tree, depth first from the top."""
        out: list[MemLayer] = []

        def walk(layers: list[MemLayer]) -> None:
            for layer in layers:
                out.append(layer)
                if layer.children is not None:
                    walk(layer.children)

        walk(self.layers)
        return out

    def selection_empty(self) -> bool:
        return not any(self.selection.data)


@dataclass
class _Gimp:
    """The `gimp` namespace: messages, progress and the object constructors."""

    backend: "MemoryBackend"

    def message(self, text: str) -> None:
        self.backend.messages.append(text)

    def progress_init(self, text: str = "") -> None:
        self.backend.progress.append(("init", text))

    def progress_update(self, fraction: float) -> None:
        self.backend.progress.append(("update", float(fraction)))

    def progress_set_text(self, text: str) -> None:
        self.backend.progress.append(("text", text))

    def progress_pulse(self) -> None:
        self.backend.progress.append(("pulse", ""))

    def progress_end(self) -> None:
        self.backend.progress.append(("end", ""))

    def Layer(self, image: MemImage, name: str, width: int, height: int, type: int, opacity: float,
              mode: str) -> MemLayer:
        return MemLayer(image, name, width, height, type, opacity, mode)

    def Image(self, width: int, height: int, type: int) -> MemImage:
        image = MemImage(width, height, type)
        self.backend.images.append(image)
        return image

    def Display(self, image: MemImage) -> MemImage | None:
        """As GIMP 3's: a "window" (recorded in `backend.displays`) only when the procedure runs interactively."""
        if not self.backend.interactive:
            return None
        self.backend.displays.append(image)
        return image

    def GroupLayer(self, image: MemImage, name: str) -> MemLayer:
        return MemLayer(image, name, image.width, image.height, group=True)

    def Channel(self, image: MemImage, name: str, width: int, height: int, opacity: float,
                color: tuple[float, float, float]) -> MemChannel:
        return MemChannel(image, name, width, height, opacity, color)


@dataclass
class _Pdb:
    """The `pdb` namespace: the procedures the plug-in calls."""

    backend: "MemoryBackend"

    def gimp_image_undo_group_start(self, image: MemImage) -> None:
        image.undo_group_start()

    def gimp_image_undo_group_end(self, image: MemImage) -> None:
        image.undo_group_end()

    def gimp_selection_bounds(self, image: MemImage) -> tuple[bool, int, int, int, int]:
        """(non_empty, x1, y1, x2, y2); the whole image when nothing is selected, as in GIMP."""
        sel = image.selection
        rows = [y for y in range(image.height) if any(sel.data[y * image.width : (y + 1) * image.width])]
        if not rows:
            return False, 0, 0, image.width, image.height
        cols = [x for x in range(image.width) if any(sel.data[x :: image.width])]
        return True, cols[0], rows[0], cols[-1] + 1, rows[-1] + 1

    def gimp_image_insert_layer(self, image: MemImage, layer: MemLayer, parent: MemLayer | None,
                                position: int) -> None:
        siblings = image.layers if parent is None else parent.children
        if siblings is None:
            raise ValueError(f"{parent.name!r} is not a layer group")
        siblings.insert(max(position, 0), layer)
        layer.parent = parent
        image.record(f"add layer ({layer.name})")

    def gimp_image_insert_channel(self, image: MemImage, channel: MemChannel, parent: Any, position: int) -> None:
        image.channels.insert(max(position, 0), channel)
        image.record(f"add channel ({channel.name})")

    def gimp_image_remove_channel(self, image: MemImage, channel: MemChannel) -> None:
        image.channels.remove(channel)
        image.record(f"remove channel ({channel.name})")

    def gimp_image_select_item(self, image: MemImage, operation: int, item: MemChannel) -> None:
        if (item.width, item.height) != (image.width, image.height):
            raise ValueError("select_item: the in-memory backend selects image-sized channels")
        combine = {
            C.CHANNEL_OP_REPLACE: lambda old, new: new,
            C.CHANNEL_OP_ADD: max,
            C.CHANNEL_OP_SUBTRACT: lambda old, new: old * (255 - new) // 255,
            C.CHANNEL_OP_INTERSECT: min,
        }[operation]
        image.selection.data[:] = bytes(combine(a, b) for a, b in zip(image.selection.data, item.data))
        image.record(f"select ({item.name})")

    def gimp_image_clean_all(self, image: MemImage) -> None:
        image.dirty = False

    def gimp_image_convert_rgb(self, image: MemImage) -> None:
        image.base_type = C.RGB
        image.record("convert to RGB")

    def gimp_image_get_layer_by_name(self, image: MemImage, name: str) -> MemLayer | None:
        return next((layer for layer in image.all_layers() if layer.name == name), None)

    def gimp_image_get_layer_by_tattoo(self, image: MemImage, tattoo: int) -> MemLayer | None:
        return next((layer for layer in image.all_layers() if layer.tattoo == tattoo), None)

    def gimp_drawable_edit_fill(self, drawable: MemLayer, fill_type: int) -> None:
        """The foreground color, opaque, wherever the selection covers the layer (all of it when nothing is
        selected), on an 8-bit layer."""
        if fill_type != C.FILL_FOREGROUND or drawable.bpp != 4:
            raise ValueError("edit_fill: the in-memory backend fills 8-bit layers with the foreground")
        color = bytes(round(255 * c) for c in self.backend.foreground)
        covered = drawable._selected()
        for i in range(drawable.width * drawable.height):
            if covered is None or covered[i]:
                drawable.data[4 * i : 4 * i + 4] = color + b"\xff"
        drawable._changed("fill")

    def gimp_context_get_foreground(self) -> tuple[float, float, float]:
        return self.backend.foreground

    def gimp_displays_flush(self) -> None:
        """Nothing is displayed in memory."""


@dataclass
class MemoryBackend:
    """Runs registered procedures on in-memory images; `messages` and `progress` record what GIMP would show,
    `images` the images a procedure made (gimp.Image) and `displays` those it showed; `interactive` says how the
    procedures run (GIMP's dialog or a script)."""

    messages: list[str] = field(default_factory=list)
    progress: list[tuple[str, Any]] = field(default_factory=list)
    images: list[MemImage] = field(default_factory=list)
    displays: list[MemImage] = field(default_factory=list)
    interactive: bool = False
    foreground: tuple[float, float, float] = (1.0, 0.5, 0.0)  # the context's foreground color, sRGB 0..1

    def __post_init__(self) -> None:
        self.gimp = _Gimp(self)
        self.pdb = _Pdb(self)

    def run(self, name: str, image: MemImage, drawable: MemLayer, **values: Any) -> Any:
        """Call procedure `name` as GIMP would (non-interactively unless `interactive`, and without a dialog either
        way), with `values` over the declared defaults.

        A failing procedure raises ProcedureError with the message GIMP would show (as a PDB call returns an error).
        """
        procedure = PROCEDURES[name]
        args = procedure.values(values)
        try:
            return procedure.function(image, drawable, *args)
        except Exception as exc:
            raise ProcedureError(str(exc)) from exc
