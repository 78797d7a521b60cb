"""A before/after gallery of the colorizer on validation photos: people, animals, landscapes, interiors.

One row per photo: gray input, automatic result, result with 10 hints (6x6 patches of the true color), original;
with ``--compare CKPT`` another checkpoint's automatic result is added after the gray input. The photos are the
first validation photos of the split from each source folder below, so the figure is reproducible. The output is
written where you ask (by default demo-out/gallery.png); it is not committed, since the training photos are not the
project's to publish. Usage:

    python docs/tools/colorizer_gallery.py --images ../shared/data/train [--compare OLD.pt] [--out gallery.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

KINDS = {"people": "xnap-persones", "animals": "cats-dogs", "landscapes": "deep-photo-styletransfer",
         "interiors": "houses-dataset"}
PER_KIND = 2
HEIGHT = 192


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True)
    parser.add_argument("--split", default="core/assets/val-split.txt")
    parser.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    parser.add_argument("--compare", default=None, help="another checkpoint whose automatic result is shown too")
    parser.add_argument("--out", default="demo-out/gallery.png")
    args = parser.parse_args()

    from chromaseg.core.color import from_unit_float
    from chromaseg.core.colorize import colorize, get_model
    from chromaseg.core.dataset import read_split
    from chromaseg.core.evaluate import gray_of, load_eval_image, simulated_hint_layer

    paths = read_split(args.split, args.images)
    net = get_model(args.model)
    other = get_model(args.compare) if args.compare else None
    rows = []
    for kind, folder in KINDS.items():
        for i, path in enumerate([p for p in paths if p.parent.name == folder][:PER_KIND]):
            rgb = load_eval_image(path)
            gray = from_unit_float(gray_of(rgb), np.uint8)
            cells = [gray]
            if other is not None:
                cells.append(colorize(gray, model=other))
            cells += [colorize(gray, model=net), colorize(gray, model=net, hints=simulated_hint_layer(rgb, 10, i)),
                      rgb]
            row = np.concatenate(cells, axis=1)
            scale = HEIGHT / row.shape[0]
            rows.append(np.asarray(Image.fromarray(row).resize((round(row.shape[1] * scale), HEIGHT))))
            print(f"{kind}: {path.name}")
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f"written {args.out}: columns gray, {'comparison, ' if other else ''}automatic, 10 hints, original")


if __name__ == "__main__":
    main()
