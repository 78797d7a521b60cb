"""Which pixels travel: the wire wants sRGB-encoded RGBA, Krita layers may be linear (Krita's default profile for 16-bit
and float images) or half float. Such layers are converted by Krita itself (in C++, through a scratch document) to
an sRGB-encoded working space, and results are written into layers of that working space.
"""
from __future__ import annotations

from dataclasses import dataclass

from krita import Krita, Node

from chromaseg.plugins.common.errors import PluginError
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.pixels import PixelFormat

SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
_SRGB_ENCODED = ("srgbtrc", "srgb built-in", "srgb iec61966")  # profile names whose transfer curve is sRGB's
_DEPTHS = {"U8": "u8", "U16": "u16", "F16": "f16", "F32": "f32"}


@dataclass(frozen=True)
class Space:
    """A Krita color space: model, depth and profile, as the API names them."""

    model: str
    depth: str
    profile: str

    @classmethod
    def of(cls, node: Node) -> "Space":
        return cls(node.colorModel(), node.colorDepth(), node.colorProfile())

    @property
    def pixel_format(self) -> PixelFormat:
        """Krita stores 8/16-bit integer RGBA as BGRA, float RGBA as RGBA."""
        depth = _DEPTHS[self.depth]
        return PixelFormat(depth, "RGBA" if depth.startswith("f") else "BGRA")


def check_supported(node: Node, role: str) -> Space:
    """The node's space, or a PluginError an artist can act on."""
    space = Space.of(node)
    if space.model != "RGBA":
        raise PluginError(
            f"The {role} {node.name()!r} is in the {space.model} color model; chromaseg works on RGB layers. "
            "Convert it first (Image > Convert Image Color Space..., RGB/Alpha)."
        )
    if space.depth not in _DEPTHS:
        raise PluginError(f"The {role} {node.name()!r} has {space.depth} channels; use 8 or 16-bit integer or float.")
    return space


def working_space(space: Space) -> Space:
    """Where pixels are exchanged: the layer's own space when it is sRGB-encoded 8/16-bit, else sRGB-encoded at the
    same integer depth or in F32 (the wire has no half floats)."""
    encoded = any(key in space.profile.lower() for key in _SRGB_ENCODED)
    if encoded and space.depth in ("U8", "U16", "F32"):
        return space
    return Space("RGBA", "F32" if space.depth.startswith("F") else space.depth, SRGB_PROFILE)


def read_pixels(node: Node, rect: Rect, target: Space) -> bytes:
    """The node's pixels in `rect`, converted to `target` by Krita when that is not the node's own space."""
    data = bytes(node.pixelData(rect.x, rect.y, rect.w, rect.h))
    source = Space.of(node)
    if source == target:
        return data
    scratch = Krita.instance().createDocument(rect.w, rect.h, "chromaseg-convert", source.model, source.depth,
                                              source.profile, 72.0)
    try:
        layer = scratch.createNode("pixels", "paintlayer")
        scratch.rootNode().addChildNode(layer, None)
        layer.setPixelData(data, 0, 0, rect.w, rect.h)
        layer.setColorSpace(target.model, target.depth, target.profile)
        scratch.waitForDone()
        return bytes(layer.pixelData(0, 0, rect.w, rect.h))
    finally:
        scratch.close()
