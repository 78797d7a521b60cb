"""Which pixels travel: the wire wants sRGB-encoded RGBA, Krita layers may be linear (Krita's default profile for 16-bit
and float images), half float or gray. Such layers are converted by Krita itself (in C++, through a scratch document)
to an sRGB-encoded RGBA working space, and results are written into layers of that working space (a gray image is
converted to RGB at its own depth first, so the colors show: see `KritaDocument`).
"""
from __future__ import annotations

from dataclasses import dataclass

from krita import Document, Krita, Node

from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.pixels import PixelFormat
from chromaseg.plugins.krita.constants import ColorDepth, ColorModel, NodeType

SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
_SRGB_ENCODED = ("srgbtrc", "srgb built-in", "srgb iec61966")  # profile names whose transfer curve is sRGB's
_DEPTHS = {ColorDepth.U8: "u8", ColorDepth.U16: "u16", ColorDepth.F16: "f16", ColorDepth.F32: "f32"}


@dataclass(frozen=True)
class Space:
    """A Krita color space: model, depth and profile, as the API names them."""

    model: str
    depth: str
    profile: str

    @classmethod
    def of(cls, node: Node | Document) -> "Space":
        """A layer's space, or a document's (its image's)."""
        return cls(node.colorModel(), node.colorDepth(), node.colorProfile())

    @property
    def pixel_format(self) -> PixelFormat:
        """Krita stores 8/16-bit integer RGBA as BGRA, float RGBA as RGBA."""
        depth = _DEPTHS[ColorDepth(self.depth)]
        return PixelFormat(depth, "RGBA" if depth.startswith("f") else "BGRA")

    @property
    def is_gray(self) -> bool:
        return self.model == ColorModel.GRAYA


def rgb_at_depth_of(space: Space) -> Space:
    """The sRGB RGBA space at `space`'s own depth: where a gray image goes so that colors can show."""
    return Space(ColorModel.RGBA.value, space.depth, SRGB_PROFILE)


def check_supported(node: Node, role: str) -> Space:
    """The node's space, or a PluginError an artist can act on."""
    space = Space.of(node)
    if space.model not in (ColorModel.RGBA, ColorModel.GRAYA):
        raise PluginError(
            f"The {role} {node.name()!r} is in the {space.model} color model; chromaseg works on RGB and gray layers. "
            "Convert it first (Image > Convert Image Color Space..., RGB/Alpha)."
        )
    if space.depth not in {depth.value for depth in ColorDepth}:
        raise PluginError(f"The {role} {node.name()!r} has {space.depth} channels; use 8 or 16-bit integer or float.")
    return space


def working_space(space: Space) -> Space:
    """Where pixels are exchanged: the layer's own space when it is sRGB-encoded RGBA in 8/16-bit integers or F32, else
    sRGB-encoded RGBA at the same integer depth or in F32 (the wire has no half floats)."""
    encoded = any(key in space.profile.lower() for key in _SRGB_ENCODED)
    if encoded and not space.is_gray and space.depth != ColorDepth.F16:
        return space
    depth = ColorDepth.F32 if ColorDepth(space.depth).is_float else ColorDepth(space.depth)
    return Space(ColorModel.RGBA.value, depth.value, SRGB_PROFILE)


def read_pixels(node: Node, rect: Rect, target: Space) -> bytes:
    """The node's pixels in `rect`, converted to `target` by Krita when that is not the node's own space."""
    data = bytes(node.pixelData(rect.x, rect.y, rect.w, rect.h))
    source = Space.of(node)
    if source == target:
        return data
    scratch = Krita.instance().createDocument(rect.w, rect.h, "chromaseg-convert", source.model, source.depth,
                                              source.profile, 72.0)
    try:
        layer = scratch.createNode("pixels", NodeType.PAINT_LAYER.value)
        scratch.rootNode().addChildNode(layer, None)
        layer.setPixelData(data, 0, 0, rect.w, rect.h)
        layer.setColorSpace(target.model, target.depth, target.profile)
        scratch.waitForDone()
        return bytes(layer.pixelData(0, 0, rect.w, rect.h))
    finally:
        scratch.close()
