"""`chromaseg colorize IN... -o OUTDIR`: batch colorization of photos or folders of photos (e.g. old scans)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("colorize", help="colorize images or folders of images",
                              description="Colorize images; each result is written to OUTDIR/<name>.png.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR")
    p.add_argument("--hints", metavar="HINTLAYER.png",
                   help="RGBA hint layer (alpha > 0 = hint) of the same size as every input")
    p.add_argument("--vibrancy", type=float, default=None, metavar="T",
                   help="annealed-mean temperature (default: the model's tuned one, 0.6 for the shipped weights; "
                        "lower = bolder)")
    p.add_argument("--model", default=None, help="colorizer checkpoint (default: the shipped weights)")
    p.add_argument("--resolution", type=int, default=None,
                   help="long side the network sees (default: the one the model was trained for)")
    p.set_defaults(run=run)


def read_image(path: Path) -> np.ndarray:
    """Pixels as the file stores them: uint8 or uint16, gray (HxW), RGB or RGBA."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
        if im.mode == "L":
            return np.asarray(im)
        return np.asarray(im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB"))


def write_image(path: Path, pixels: np.ndarray) -> None:
    """PNG, 8 or 16 bits per channel."""
    if pixels.dtype == np.uint16:
        import cv2

        order = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        if not cv2.imwrite(str(path), cv2.cvtColor(pixels, order)):
            raise OSError(f"could not write {path}")
        return
    from PIL import Image

    Image.fromarray(pixels).save(path)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from chromaseg.core.classes import list_images
    from chromaseg.core.colorize import colorize, get_model

    paths: list[Path] = []
    for item in map(Path, args.inputs):
        paths.extend(list_images(item) if item.is_dir() else [item])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hints = read_image(Path(args.hints)) if args.hints else None
    if hints is not None and (hints.ndim != 3 or hints.shape[2] != 4):
        raise SystemExit(f"{args.hints}: a hint layer must be RGBA")
    model = get_model(args.model)
    seen: set[str] = set()
    for path in tqdm(paths, desc="colorizing", unit="img"):
        name = path.stem if path.stem not in seen else f"{path.parent.name}_{path.stem}"
        seen.add(name)
        result = colorize(read_image(path), hints=hints, vibrancy=args.vibrancy, model=model,
                          resolution=args.resolution)
        write_image(out / f"{name}.png", result)
    return 0
