"""Runs INSIDE GIMP 3's batch interpreter (python-fu-eval, GIMP's own Python): builds a test image, calls one of the
plug-in's procedures through the PDB, and writes what GIMP then holds to result.json for the host test to check.

Stand-alone on purpose: only gi (Gimp, Gegl) and the standard library, plus, for the "shim" scenario, the plug-in's
vendored copy of chromaseg installed in GIMP's plug-ins folder.
"""
import base64
import hashlib
import json
import os
import sys

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from gi.repository import Babl, Gegl, Gimp  # noqa: E402

U8 = "R'G'B'A u8"


def main(work: str) -> None:
    """Read params.json in `work`, run the scenario, write result.json (also when it fails, with the error)."""
    with open(os.path.join(work, "params.json")) as fh:
        params = json.load(fh)
    try:
        result = SCENARIOS[params["scenario"]](params)
    except Exception as exc:  # reported to the host, which fails the test with this text
        result = {"exception": f"{type(exc).__name__}: {exc}"}
    with open(os.path.join(work, "result.json"), "w") as fh:
        json.dump(result, fh)


def build_image(p: dict) -> tuple:
    """A `w` x `h` image whose 'Photo' layer holds `pixels` (base64 RGBA u8), a rectangle selection, a hint layer."""
    w, h = p["w"], p["h"]
    base = Gimp.ImageBaseType.GRAY if p.get("gray") else Gimp.ImageBaseType.RGB
    precision = Gimp.Precision.U16_NON_LINEAR if p.get("u16") else Gimp.Precision.U8_NON_LINEAR
    image = Gimp.Image.new_with_precision(w, h, base, precision)
    kind = Gimp.ImageType.GRAYA_IMAGE if p.get("gray") else Gimp.ImageType.RGBA_IMAGE
    layer = Gimp.Layer.new(image, "Photo", w, h, kind, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    put(layer, base64.b64decode(p["pixels"]))
    if "hints" in p:
        hints = Gimp.Layer.new(image, p["hints"]["name"], w, h, Gimp.ImageType.RGBA_IMAGE, 100.0,
                               Gimp.LayerMode.NORMAL)
        image.insert_layer(hints, None, 0)
        put(hints, base64.b64decode(p["hints"]["pixels"]))
    if "select" in p:
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *p["select"])
    return image, layer


def put(drawable, data: bytes, fmt: str = U8) -> None:
    buffer = drawable.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height()), fmt, data)
    buffer.flush()


def get(drawable, fmt: str = U8) -> bytes:
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.CLAMP))


def describe(item) -> dict:
    """A layer or channel as the host checks it: geometry, mode, pixels and mask (base64)."""
    _, x, y = item.get_offsets()
    out = {"name": item.get_name(), "offsets": [x, y], "size": [item.get_width(), item.get_height()]}
    if isinstance(item, Gimp.Layer):
        out["mode"] = item.get_mode().value_nick
        out["opacity"] = item.get_opacity()
        out["group"] = item.is_group_layer()
        if out["group"]:
            out["children"] = [describe(child) for child in item.get_children()]
        else:
            deep = item.get_image().get_precision() != Gimp.Precision.U8_NON_LINEAR
            out["pixels"] = base64.b64encode(get(item, "R'G'B'A u16" if deep else U8)).decode()
        mask = item.get_mask()
        out["mask"] = None if mask is None else base64.b64encode(get(mask, "Y u8")).decode()
    else:
        out["pixels"] = base64.b64encode(get(item, "Y u8")).decode()
    return out


def call(image, drawable, name: str, args: dict) -> tuple:
    """Run the procedure `name` on `drawable` as a script would; returns (status, error text or None)."""
    procedure = Gimp.get_pdb().lookup_procedure(name)
    if procedure is None:
        raise RuntimeError(f"procedure {name} is not registered")
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [drawable])
    for key, value in args.items():
        config.set_property(key, value)
    values = procedure.run(config)
    status = values.index(0)
    error = values.index(1) if status != Gimp.PDBStatusType.SUCCESS and values.length() > 1 else None
    return status, error


def colored_in_projection(image) -> int:
    """Pixels that are not gray in the composite image, as the canvas shows it (a flattened duplicate)."""
    dup = image.duplicate()
    flat = get(dup.flatten())
    dup.delete()
    return sum(1 for i in range(0, len(flat), 4) if not flat[i] == flat[i + 1] == flat[i + 2])


def run_procedure(p: dict) -> dict:
    image, layer = build_image(p)
    before = hashlib.sha256(get(layer)).hexdigest()
    status, error = call(image, layer, p["procedure"], p.get("args", {}))
    _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    return {
        "status": status.value_nick,
        "error": str(error) if error is not None else None,
        "base_type": image.get_base_type().value_nick,
        "precision": image.get_precision().value_nick,
        "source_sha256_before": before,
        "source_sha256_after": hashlib.sha256(get(layer)).hexdigest(),
        "layers": [describe(item) for item in image.get_layers()],
        "channels": [describe(item) for item in image.get_channels()],
        "selection": [non_empty, x1, y1, x2, y2],
        "selection_mask": base64.b64encode(get(image.get_selection(), "Y u8")).decode(),
    }


def run_steps(p: dict) -> dict:
    """Several procedures in turn on one image, each on the layer named in its step ("drawable"); after each, its
    status, the layer names (top first) and how many colored pixels the composite image shows."""
    image, layer = build_image(p)
    before = hashlib.sha256(get(layer)).hexdigest()
    steps = []
    for step in p["steps"]:
        if "paint" in step:  # paint on a layer, as the artist would with a brush
            target = image.get_layer_by_name(step["paint"]["layer"])
            x, y, w, h = step["paint"]["rect"]
            buffer = target.get_buffer()
            buffer.set(Gegl.Rectangle.new(x, y, w, h), U8, bytes(step["paint"]["rgba"]) * (w * h))
            buffer.flush()
            target.update(x, y, w, h)
            continue
        if "foreground" in step:  # the artist picks a color (sRGB, 0..1)
            color = Gegl.Color.new("black")
            color.set_rgba_with_space(*step["foreground"], 1.0, Babl.space("sRGB"))
            Gimp.context_set_foreground(color)
            continue
        if "select" in step:  # a rectangle selection, or none
            if step["select"] is None:
                Gimp.Selection.none(image)
            else:
                image.select_rectangle(Gimp.ChannelOps.REPLACE, *step["select"])
            continue
        status, error = call(image, image.get_layer_by_name(step["drawable"]), step["procedure"],
                             step.get("args", {}))
        selection = get(image.get_selection(), "Y u8")
        steps.append({"status": status.value_nick, "error": str(error) if error is not None else None,
                      "layers": [item.get_name() for item in image.get_layers()],
                      "colored": colored_in_projection(image),
                      "selected": sum(1 for v in selection if v),
                      "probes": [selection[y * image.get_width() + x] for x, y in step.get("probes", [])],
                      "pixels": [_pixel(image.get_layer_by_name(name), x, y)
                                 for name, x, y in step.get("pixel_probes", [])]})
    after = hashlib.sha256(get(layer)).hexdigest()
    return {"steps": steps, "source_sha256_before": before, "source_sha256_after": after}


def _pixel(layer, x: int, y: int) -> list | None:
    """A layer's RGBA u8 at (x, y) of the image, or None when there is no such layer."""
    if layer is None:
        return None
    _, x0, y0 = layer.get_offsets()
    rect = Gegl.Rectangle.new(x - x0, y - y0, 1, 1)
    return list(bytes(layer.get_buffer().get(rect, 1.0, U8, Gegl.AbyssPolicy.NONE)))


def select_segment(p: dict) -> dict:
    """Auto-segment ("output": a layer group or channels), select the rectangle `box`, then Select Segment with the
    Photo layer active (refused), and with the largest segment active: the selection after each, and that segment's
    mask on the canvas."""
    image, layer = build_image(p)
    status, error = call(image, layer, "python-fu-chromaseg-auto-segment", {"output": p["output"]})
    if status != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError(f"auto-segment failed: {error}")
    image.select_rectangle(Gimp.ChannelOps.REPLACE, *p["box"])  # after Auto-Segment, which would segment it only
    selection = image.get_selection()
    status, error = call(image, layer, "python-fu-chromaseg-select-segment", {})
    out = {"refused": [status.value_nick, str(error)],
           "after_refusal": base64.b64encode(get(selection, "Y u8")).decode()}
    if p["output"] == "channels":
        segments = image.get_channels()
        masks = [get(channel, "Y u8") for channel in segments]
    else:
        segments = image.get_layers()[0].get_children()
        masks = [_on_canvas(item, get(item)[3::4]) for item in segments]
    largest = max(range(len(segments)), key=lambda i: sum(1 for v in masks[i] if v))
    if p["output"] == "channels":  # the artist clicks the segment: it is the image's active item
        image.set_selected_channels([segments[largest]])
    else:
        image.set_selected_layers([segments[largest]])
    status, error = call(image, segments[largest], "python-fu-chromaseg-select-segment", {})
    out.update({"status": status.value_nick, "error": None if error is None else str(error),
                "segment": segments[largest].get_name(), "segment_mask": base64.b64encode(masks[largest]).decode(),
                "selection_mask": base64.b64encode(get(selection, "Y u8")).decode(),
                "layers": [item.get_name() for item in image.get_layers()],
                "channels": [item.get_name() for item in image.get_channels()],
                "count": len(segments), "active_after": [item.get_name() for item in image.get_selected_drawables()]})
    return out


def _on_canvas(item, plane: bytes) -> bytes:
    """A layer's u8 plane placed on an image-sized one (0 where the layer has no pixels)."""
    image = item.get_image()
    w, h = image.get_width(), image.get_height()
    _, x0, y0 = item.get_offsets()
    iw = item.get_width()
    out = bytearray(w * h)
    for row in range(item.get_height()):
        y = y0 + row
        if 0 <= y < h:
            for col in range(iw):
                if 0 <= x0 + col < w:
                    out[y * w + x0 + col] = plane[row * iw + col]
    return bytes(out)


def preview(p: dict) -> dict:
    """Preview colorization on a clean image: what the artist's image holds afterwards (unchanged, still clean),
    and the new image the preview opened (its size, layers, colors)."""
    image, layer = build_image(p)
    image.clean_all()
    before_images = {i.get_id() for i in Gimp.get_images()}
    before = hashlib.sha256(get(layer)).hexdigest()
    status, error = call(image, layer, "python-fu-chromaseg-preview", p.get("args", {}))
    new = [i for i in Gimp.get_images() if i.get_id() not in before_images]
    out = {"status": status.value_nick, "error": None if error is None else str(error),
           "source_unchanged": hashlib.sha256(get(layer)).hexdigest() == before,
           "layers": [item.get_name() for item in image.get_layers()], "dirty": image.is_dirty(),
           "new_images": len(new)}
    if new:
        shown = new[0]
        layers = shown.get_layers()
        out["preview"] = {"size": [shown.get_width(), shown.get_height()], "layers": [x.get_name() for x in layers],
                          "visible": [x.get_visible() for x in layers], "dirty": shown.is_dirty(),
                          "base_type": shown.get_base_type().value_nick,
                          "colored": [sum(1 for i in range(0, len(d), 4) if not d[i] == d[i + 1] == d[i + 2])
                                      for d in (get(x) for x in layers)]}
        for extra in new:
            extra.delete()
    return out


def where(p: dict) -> dict:
    """Where this GIMP keeps its configuration and which chromaseg procedures it found there."""
    pdb = Gimp.get_pdb()
    found = [n for n in ("python-fu-chromaseg-colorize-layer", "python-fu-chromaseg-add-hint-layer")
             if pdb.procedure_exists(n)]
    return {"directory": Gimp.directory(), "procedures": found}


def shim_round_trip(p: dict) -> dict:
    """The gimpfu shim's GIMP 3 backend itself: pixel regions, shadow buffers, masks, undo groups, lookups."""
    sys.path.insert(0, p["vendor"])
    from chromaseg.plugins.gimp import gimpfu
    from chromaseg.plugins.gimp.gimp3 import Gimp3Backend, GImage

    gimpfu.use_backend(Gimp3Backend())
    g, pdb = gimpfu.gimp, gimpfu.pdb
    gimp_image, _ = build_image(p)
    image = GImage(gimp_image)
    source = image.layers[0]
    w, h = image.width, image.height
    data = base64.b64decode(p["pixels"])
    out = {"read": source.get_pixel_rgn(0, 0, w, h, False)[:, :] == data, "bpp": source.bpp}
    layer = g.Layer(image, "Shim", w, h, gimpfu.RGBA_IMAGE, 100.0, gimpfu.LAYER_MODE_LCH_COLOR)
    pdb.gimp_image_undo_group_start(image)
    pdb.gimp_image_insert_layer(image, layer, None, 0)
    rgn = layer.get_pixel_rgn(0, 0, w, h, True, True)
    rgn[0:w, 0:h] = data
    out["before_merge"] = layer.get_pixel_rgn(0, 0, w, h, False)[:, :] == data
    layer.merge_shadow(True)
    layer.update(0, 0, w, h)
    pdb.gimp_image_undo_group_end(image)
    merged = layer.get_pixel_rgn(0, 0, w, h, False)[:, :]
    out["after_merge"] = merged == data if "select" not in p else _inside_only(merged, data, w, p["select"])
    mask_bytes = bytes((x * 37) % 256 for x in range(w * h))
    mask = layer.create_mask(gimpfu.ADD_MASK_WHITE)
    layer.add_mask(mask)
    mask.get_pixel_rgn(0, 0, w, h)[:, :] = mask_bytes
    mask.flush()
    out["mask"] = layer.mask.get_pixel_rgn(0, 0, w, h, False)[:, :] == mask_bytes
    out["mode"] = layer.mode
    out["names"] = [x.name for x in image.layers]
    out["found"] = pdb.gimp_image_get_layer_by_name(image, "Photo") == source
    out["bounds"] = list(pdb.gimp_selection_bounds(image))
    return out


def _inside_only(merged: bytes, data: bytes, w: int, select: list) -> bool:
    """merge_shadow honors the selection: the shadow's pixels inside it, transparent (new layer) outside."""
    x0, y0, sw, sh = select
    for i in range(0, len(merged), 4):
        y, x = divmod(i // 4, w)
        inside = x0 <= x < x0 + sw and y0 <= y < y0 + sh
        if merged[i : i + 4] != (data[i : i + 4] if inside else bytes(4)):
            return False
    return True


SCENARIOS = {"procedure": run_procedure, "steps": run_steps, "where": where, "shim": shim_round_trip,
             "select_segment": select_segment, "preview": preview}
