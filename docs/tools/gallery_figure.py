"""Draw docs/images/gallery.jpg: the shipped colorizer on a person, an animal, a landscape and an interior.

    .venv/bin/python docs/tools/gallery_figure.py [--out docs/images/gallery.jpg] [--model CKPT]

The photos are scikit-image's public-domain / CC0 samples (a dependency already), never the training data: the
astronaut Eileen Collins (NASA, public domain), Chelsea the cat (CC0, Stefan van der Walt), the DSCOVR launch at
Cape Canaveral (SpaceX, public domain) and a coffee cup at Pikolo Espresso Bar (CC0, Rachel Michetti). Each row:
the gray input, the automatic result, the result with 10 color hints simulated as in the evaluation (6x6 patches of
the true mean color, seed 0; marked with white squares), and the original. Every photo is reduced to a long side
of 384 px first.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from chromaseg.core.color import from_unit_float
from chromaseg.core.colorize import Colorizer
from chromaseg.core.evaluate import gray_of, simulated_hint_layer

LONG_SIDE = 384
HINTS = 10
PHOTOS = {"person": "astronaut", "animal": "chelsea", "landscape": "rocket", "interior": "coffee"}
COLUMNS = ("gray input", "automatic", f"{HINTS} hints", "original")


def sample(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 RGB, long side reduced to LONG_SIDE."""
    from skimage import data

    im = Image.fromarray(getattr(data, name)()).convert("RGB")
    scale = LONG_SIDE / max(im.size)
    return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS))


def mark_hints(rgb: np.ndarray, hints: np.ndarray) -> np.ndarray:
    """``rgb`` with a white outline around each hint patch."""
    out = Image.fromarray(rgb)
    draw = ImageDraw.Draw(out)
    for ys, xs in ndimage.find_objects(ndimage.label(hints[..., 3] > 0)[0]):
        draw.rectangle((xs.start - 2, ys.start - 2, xs.stop + 1, ys.stop + 1), outline=(255, 255, 255))
    return np.asarray(out)


def row(colorizer: Colorizer, rgb: np.ndarray) -> list[np.ndarray]:
    gray = from_unit_float(gray_of(rgb), np.uint8)
    hints = simulated_hint_layer(rgb, HINTS, seed=0)
    hinted = colorizer.colorize(gray, hints=from_unit_float(hints, np.uint8))
    return [gray, colorizer.colorize(gray), mark_hints(hinted, hints), rgb]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "images" / "gallery.jpg"))
    ap.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    args = ap.parse_args()
    colorizer = Colorizer.load(args.model)
    rows = []
    for kind, name in PHOTOS.items():
        panels = row(colorizer, sample(name))
        height = min(p.shape[0] for p in panels)
        strip = Image.fromarray(np.concatenate([p[:height] for p in panels], axis=1))
        draw = ImageDraw.Draw(strip)
        for i, title in enumerate(COLUMNS):
            text = f"{kind}: {title}" if i == 0 else title
            x = i * panels[0].shape[1]
            draw.rectangle((x, 0, x + 7 * len(text) + 10, 18), fill=(0, 0, 0))
            draw.text((x + 5, 4), text, fill=(255, 255, 255))
        rows.append(strip)
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), (0, 0, 0))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
