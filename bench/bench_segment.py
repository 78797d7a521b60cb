"""Benchmark: the segmenter's interactive paths on this CPU.

    .venv/bin/python bench/bench_segment.py [--repeat 7] [--json out.json]

- fallback automatic segments of a 1024x683 photo (a real training photo resized; target <= 1.5 s median) and of
  the same photo stretched to 1024x1024,
- a fallback box prompt on the same photo (the DeepLab prior set once beforehand, as the editor does),
- object selection on gray photos with true masks (``../shared/data/objects``, when present): mean IoU of box and
  one-click prompts, the rectangle baseline and the median prompt (``--objects-limit`` photos; the full set is
  ``chromaseg eval-objects``),
- a SAM point prompt on a cached embedding with a random-init full-size vit_b (the decoder and prompt encoder are the
  same for vit_t/b/l/h, so this is the prompt latency of any SAM checkpoint; target <= 100 ms). The one encoder pass
  that fills the cache is timed once and reported too.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_seconds, report  # noqa: E402

from chromaseg.core.classes import list_images  # noqa: E402
from chromaseg.core.segment import Segmenter  # noqa: E402

TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "train"
OBJECTS = TRAIN.parent / "objects"


def photo() -> np.ndarray:
    path = next(p for p in list_images(TRAIN) if "coco128" in str(p))
    return np.asarray(Image.open(path).convert("RGB").resize((1024, 683), Image.BICUBIC))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    ap.add_argument("--objects-limit", type=int, default=16, help="photos of the objects set to score (0: none)")
    args = ap.parse_args()
    rgb = photo()
    rows = []
    classic = Segmenter.classic()
    square = np.asarray(Image.fromarray(rgb).resize((1024, 1024), Image.BICUBIC))
    start = time.perf_counter()
    classic.set_image(rgb)
    set_ms = round((time.perf_counter() - start) * 1e3, 1)
    rows.append({"case": "fallback set_image (DeepLab prior)", "median_ms": set_ms,
                 "note": "one run; " + classic.reason.rsplit("; ", 1)[-1]})
    for name, image in (("1024x683", rgb), ("1024x1024", square)):
        t, _ = median_seconds(lambda: classic.auto(image, max_segments=64), args.repeat)
        labels = classic.auto(image, max_segments=64)
        rows.append({"case": f"fallback auto {name}", "median_ms": round(t * 1e3, 1),
                     "note": f"{labels.max() + 1} labels, {(labels >= 0).mean():.1%} covered, prior cached after run 1"})
    box = (300, 150, 700, 550)
    t, _ = median_seconds(lambda: classic.prompt(rgb, box=box), args.repeat)
    rows.append({"case": "fallback box prompt", "median_ms": round(t * 1e3, 1), "note": f"box {box}"})
    if args.objects_limit and OBJECTS.is_dir():
        from chromaseg.core.segment.objects_eval import evaluate_objects

        r = evaluate_objects(classic, OBJECTS, args.objects_limit)
        rows.append({"case": "fallback prompt on the objects set", "median_ms": round(r["median_prompt_s"] * 1e3, 1),
                     "note": f"{r['objects']} objects: box mIoU {r['box_miou']:.3f}, click {r['click_miou']:.3f}, "
                             f"rectangle {r['rectangle_miou']:.3f}"})

    import torch

    from chromaseg.core.segment.registry import ModelEntry, WeightFile
    from chromaseg.core.segment.sam_backend import SamBackend, build_sam

    torch.manual_seed(0)
    model = build_sam(ModelEntry("vit_b", "sam", (WeightFile("none"),), "vit_b")).eval()
    sam = Segmenter(SamBackend(model, "vit_b", "sam:random-vit_b"), "benchmark")
    start = time.perf_counter()
    sam.prompt(rgb, points=[(512, 340)], labels=[1])
    rows.append({"case": "SAM vit_b encoder (fills cache)", "median_ms": round((time.perf_counter() - start) * 1e3, 1),
                 "note": "one run, random init"})
    t, _ = median_seconds(lambda: sam.prompt(rgb, points=[(512, 340)], labels=[1]), args.repeat)
    rows.append({"case": "SAM prompt, cached embedding", "median_ms": round(t * 1e3, 1),
                 "note": f"vit_b random init; cache hits {sam.cache.hits}, misses {sam.cache.misses}"})
    print(f"torch threads: {torch.get_num_threads()}")
    report(rows, args.json)


if __name__ == "__main__":
    main()
