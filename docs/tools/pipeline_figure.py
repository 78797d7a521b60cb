"""Draw docs/images/pipeline.png: the three-stage pipeline on the bundled sample.

    .venv/bin/python docs/tools/pipeline_figure.py [--out docs/images/pipeline.png]

Panels: the gray input, its automatic segments (the active segmenter), the plain colorization, the segment pass
over those segments, harmonization (Algorithm 1) over them, and the original.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from chromaseg.cli.demo import SAMPLE
from chromaseg.core.color import from_unit_float
from chromaseg.core.colorize import colorize, get_model
from chromaseg.core.evaluate import gray_of
from chromaseg.core.segment import Segmenter


def label_colors(labels: np.ndarray) -> np.ndarray:
    """A label map as distinct colors (no segment = black)."""
    rng = np.random.default_rng(1)
    palette = rng.integers(60, 255, (int(labels.max()) + 2, 3)).astype(np.uint8)
    palette[0] = 0
    return palette[labels + 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "images" / "pipeline.png"))
    args = ap.parse_args()
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"))
    gray = from_unit_float(gray_of(rgb), np.uint8)
    segmenter = Segmenter.default()
    labels = segmenter.auto(gray)
    net = get_model()
    panels = {
        "gray input": gray,
        f"segments ({segmenter.backend}, {labels.max() + 1})": label_colors(labels),
        "colorized": colorize(gray, model=net),
        "segment pass": colorize(gray, model=net, segments=labels, segment_pass=True),
        "harmonized": colorize(gray, model=net, segments=labels, harmonize=True),
        "original": rgb,
    }
    strip = Image.fromarray(np.concatenate(list(panels.values()), axis=1))
    draw = ImageDraw.Draw(strip)
    for i, title in enumerate(panels):
        draw.rectangle((i * rgb.shape[1], 0, i * rgb.shape[1] + 8 * len(title) + 12, 22), fill=(0, 0, 0))
        draw.text((i * rgb.shape[1] + 6, 5), title, fill=(255, 255, 255))
    strip = strip.resize((strip.width // 2, strip.height // 2), Image.LANCZOS)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    strip.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
