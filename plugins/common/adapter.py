"""What an editor must offer the shared logic: one `DocumentAdapter` per editor (Krita: document + active layer;
GIMP: image + drawable). Everything in `actions` talks to the document only through this protocol, which is also what
the unit tests fake."""
from __future__ import annotations

from enum import Enum
from typing import Protocol, Sequence

from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.naming import PaintedLayer
from chromaseg.plugins.common.pixels import PixelFormat


class SelectionMode(str, Enum):
    """How an object's mask combines with the current selection."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"


class SourceRole(str, Enum):
    """Which layer a command works on when the active layer is one the plugin made. Either way the hint layer leads
    to the paint layer it was made for, and a segments group to the layer it was cut from."""

    PAINT_LAYER = "paint layer"  # a result layer leads back to the paint layer it was made from (colorize again)
    ACTIVE_RESULT = "active result"  # a result layer is itself the source (harmonize the colors it holds)
    ACTIVE_SEGMENT = "active segment"  # the active layer, mask or channel as it is (Select Segment reads a segment)


class DocumentAdapter(Protocol):
    """The active document and layer of one editor.

    Pixels are bytes, row-major, `rect.w * rect.h` pixels in the editor's own layout (`pixel_format`); masks are u8
    planes (0 = out, 255 = in, between = partial). Reads outside the layer give transparent pixels / 0 bytes.
    Every write is all-or-nothing and one undo step: when it raises, the document is as it was.
    """

    def layer_name(self) -> str:
        """Name of the source layer: the active one, or the paint layer a hint, result or segments layer belongs to
        (`SourceRole`)."""
        ...

    def pixel_format(self) -> PixelFormat:
        """Layout of the active layer; raises PluginError for color models the plugin cannot handle."""
        ...

    def layer_bounds(self) -> Rect:
        """Where the active layer has pixels, clamped to the canvas (empty when there are none)."""
        ...

    def read_layer(self, rect: Rect) -> bytes:
        """The active layer's pixels in `rect`, in `pixel_format()`."""
        ...

    def selection_bounds(self) -> Rect | None:
        """A box that holds the whole selection (it may be loose), or None when nothing is selected."""
        ...

    def read_selection(self, rect: Rect) -> bytes:
        """The selection as a u8 plane of `rect` (all 0 when nothing is selected)."""
        ...

    def painted_layer_name(self, kind: PaintedLayer) -> str:
        """The name of the document's hint or clicks layer (GIMP's procedures may name the hint layer otherwise)."""
        ...

    def read_painted(self, kind: PaintedLayer, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        """The pixels of the hint or clicks layer in `rect` and their layout, or None when the document has no such
        layer."""
        ...

    def add_painted_layer(self, kind: PaintedLayer) -> bool:
        """Create the empty hint or clicks layer above the source and remember the source for it; False when it
        already exists (nothing done)."""
        ...

    def paint_hint_at_selection(self) -> str:
        """Fill the selection with the foreground color on the hint layer (made first when missing), as the editor's
        own fill does it: one undo step where the editor can. Returns the color as "#rrggbb"; PluginError when
        nothing is selected."""
        ...

    def conversion_note(self) -> str:
        """The one line the status adds when writing a result converts a gray image to RGB ("" when it does not)."""
        ...

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        """A new layer above the source and the results already made from it (newest on top), holding `pixels` (in
        `pixel_format()`) at `rect`, transparent elsewhere, with a transparency mask / layer mask made from `mask` (u8
        plane of `rect`) when one is given; a gray image is converted to RGB at its depth first."""
        ...

    def add_segment_masks(self, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> None:
        """A group named `name` above the source (and its earlier results) holding one named, pickable selection per
        mask (u8 planes of `rect`)."""
        ...

    def active_segment(self) -> tuple[str, Rect, bytes] | None:
        """The segment the artist made active (its name, box and u8 mask of that box), so it can become the selection;
        None when the active layer is not one of the segments Auto-Segment made."""
        ...

    def select_active_segment(self, rect: Rect, mask: bytes) -> None:
        """Replace the selection with the active segment (`mask` of `rect`, as `active_segment` read it), as one undo
        step where the editor can (Krita: its own Select Opaque on the mask; GIMP: an undo group)."""
        ...

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        """Replace the selection with, add to it or subtract from it the u8 `mask` of `rect`."""
        ...
