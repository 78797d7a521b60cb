"""Test images for the GIMP plug-in's unit tests, built with gimpfu calls on the in-memory backend."""
from __future__ import annotations

from chromaseg.plugins.gimp.gimpfu import CHANNEL_OP_REPLACE, LAYER_MODE_NORMAL, RGBA_IMAGE, gimp, pdb
from memory import MemChannel, MemImage, MemLayer


def gray_ramp(w: int, h: int, bits: int = 8) -> bytes:
    """Opaque gray pixels with a horizontal and vertical ramp (perceptual RGBA at `bits`)."""
    out = bytearray()
    for y in range(h):
        for x in range(w):
            v = (x * 7 + y * 3) % 256
            if bits == 8:
                out += bytes([v, v, v, 255])
            else:
                out += (v * 257).to_bytes(2, "little") * 3 + (65535).to_bytes(2, "little")
    return bytes(out)


def add_layer(image: MemImage, name: str, data: bytes, position: int = 0) -> MemLayer:
    layer = gimp.Layer(image, name, image.width, image.height, RGBA_IMAGE, 100.0, LAYER_MODE_NORMAL)
    pdb.gimp_image_insert_layer(image, layer, None, position)
    layer.get_pixel_rgn(0, 0, image.width, image.height)[:, :] = data
    return layer


def select_rect(image: MemImage, x: int, y: int, w: int, h: int) -> None:
    """Replace the selection with a rectangle (through a channel, as a plug-in would)."""
    channel = MemChannel(image, "rect", image.width, image.height)
    row = bytes(x) + b"\xff" * w + bytes(image.width - x - w)
    for r in range(y, y + h):
        channel.data[r * image.width : (r + 1) * image.width] = row
    pdb.gimp_image_select_item(image, CHANNEL_OP_REPLACE, channel)
