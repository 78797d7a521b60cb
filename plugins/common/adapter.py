"""What an editor must offer the shared logic: one `DocumentAdapter` per editor (Krita: document + active layer;
GIMP: image + drawable). Everything in `actions` talks to the document only through this protocol, which is also what
the unit tests fake."""
from __future__ import annotations

from enum import Enum
from typing import Protocol, Sequence

from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.pixels import PixelFormat


class SelectionMode(str, Enum):
    """How an object's mask combines with the current selection."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"


class DocumentAdapter(Protocol):
    """The active document and layer of one editor.

    Pixels are bytes, row-major, `rect.w * rect.h` pixels in the editor's own layout (`pixel_format`); masks are u8
    planes (0 = out, 255 = in, between = partial). Reads outside the layer give transparent pixels / 0 bytes.
    Every write is all-or-nothing and one undo step: when it raises, the document is as it was.
    """

    def layer_name(self) -> str:
        """Name of the active layer (the source of every action)."""
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

    def read_hints(self, rect: Rect) -> tuple[bytes, PixelFormat] | None:
        """The hint layer's pixels in `rect` and their layout, or None when the document has no hint layer."""
        ...

    def add_hint_layer(self) -> bool:
        """Create the empty hint layer above the active layer; False when it already exists (nothing done)."""
        ...

    def add_result_layer(self, name: str, rect: Rect, pixels: bytes, mask: bytes | None) -> None:
        """A new layer above the source holding `pixels` (in `pixel_format()`) at `rect`, transparent elsewhere,
        with a transparency mask / layer mask made from `mask` (u8 plane of `rect`) when one is given."""
        ...

    def add_segment_masks(self, name: str, rect: Rect, masks: Sequence[tuple[str, bytes]]) -> None:
        """A group named `name` above the source holding one named, pickable selection per mask (u8 planes of
        `rect`)."""
        ...

    def set_selection(self, rect: Rect, mask: bytes, mode: SelectionMode) -> None:
        """Replace the selection with, add to it or subtract from it the u8 `mask` of `rect`."""
        ...
