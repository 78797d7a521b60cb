"""A before/after gallery of the colorizer on a person, an animal, a landscape and an interior.

    .venv/bin/python docs/tools/gallery_figure.py [--out docs/images/gallery.jpg] [--model CKPT] [--compare OLD.pt]
    .venv/bin/python docs/tools/gallery_figure.py --images ../shared/data/train --out demo-out/gallery.jpg

By default the photos are scikit-image's public-domain / CC0 samples (a dependency already), never the training
data, and the sheet is the committed docs/images/gallery.jpg: the astronaut Eileen Collins (NASA, public domain),
Chelsea the cat (CC0, Stefan van der Walt), the DSCOVR launch at Cape Canaveral (SpaceX, public domain) and a coffee
cup at Pikolo Espresso Bar (CC0, Rachel Michetti). With ``--images`` the rows are instead the first validation photos
of the split from a source folder of each kind (for a local look: the training photos are not the project's to
publish, so that sheet is not committed). Each row: the gray input, ``--compare``'s automatic result when given,
the automatic result, the result with 10 color hints simulated as in the evaluation (6x6 patches of the true mean
color; marked with white squares), and the original. Photos are reduced to a long side of 384 px first.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from chromaseg.core.color import from_unit_float
from chromaseg.core.colorize import Colorizer
from chromaseg.core.evaluate import gray_of, load_eval_image, simulated_hint_layer

LONG_SIDE = 384
HINTS = 10
SAMPLES = {"person": "astronaut", "animal": "chelsea", "landscape": "rocket", "interior": "coffee"}
SOURCE_FOLDERS = {"person": "xnap-persones", "animal": "cats-dogs", "landscape": "deep-photo-styletransfer",
                  "interior": "houses-dataset"}  # in ../shared/data/train, for --images


def sample(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 RGB, long side reduced to LONG_SIDE."""
    from skimage import data

    im = Image.fromarray(getattr(data, name)()).convert("RGB")
    scale = LONG_SIDE / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS))


def validation_photos(images: str, split: str) -> dict[str, np.ndarray]:
    """The first validation photo of each kind's source folder."""
    from chromaseg.core.dataset import read_split

    paths = read_split(split, images)
    return {kind: load_eval_image(next(p for p in paths if p.parent.name == folder), LONG_SIDE)
            for kind, folder in SOURCE_FOLDERS.items()}


def mark_hints(rgb: np.ndarray, hints: np.ndarray) -> np.ndarray:
    """``rgb`` with a white outline around each hint patch."""
    out = Image.fromarray(rgb)
    draw = ImageDraw.Draw(out)
    for ys, xs in ndimage.find_objects(ndimage.label(hints[..., 3] > 0)[0]):
        draw.rectangle((xs.start - 2, ys.start - 2, xs.stop + 1, ys.stop + 1), outline=(255, 255, 255))
    return np.asarray(out)


def row(kind: str, rgb: np.ndarray, colorizer: Colorizer, compare: Colorizer | None) -> Image.Image:
    """One titled strip: gray, [comparison], automatic, with hints, original."""
    gray = from_unit_float(gray_of(rgb), np.uint8)
    hints = simulated_hint_layer(rgb, HINTS, seed=0)
    panels = {f"{kind}: gray input": gray}
    if compare is not None:
        panels["compared weights"] = compare.colorize(gray)
    panels["automatic"] = colorizer.colorize(gray)
    panels[f"{HINTS} hints"] = mark_hints(colorizer.colorize(gray, hints=from_unit_float(hints, np.uint8)), hints)
    panels["original"] = rgb
    strip = Image.fromarray(np.concatenate(list(panels.values()), axis=1))
    draw = ImageDraw.Draw(strip)
    for i, title in enumerate(panels):
        x = i * rgb.shape[1]
        draw.rectangle((x, 0, x + 7 * len(title) + 10, 18), fill=(0, 0, 0))
        draw.text((x + 5, 4), title, fill=(255, 255, 255))
    return strip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "images" / "gallery.jpg"))
    ap.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    ap.add_argument("--compare", default=None, help="another checkpoint whose automatic result is shown too")
    ap.add_argument("--images", default=None, help="use validation photos from this training folder instead")
    ap.add_argument("--split", default="core/assets/val-split.txt")
    args = ap.parse_args()
    colorizer = Colorizer.load(args.model)
    compare = Colorizer.load(args.compare) if args.compare else None
    photos = (validation_photos(args.images, args.split) if args.images
              else {kind: sample(name) for kind, name in SAMPLES.items()})
    rows = [row(kind, rgb, colorizer, compare) for kind, rgb in photos.items()]
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), (0, 0, 0))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
