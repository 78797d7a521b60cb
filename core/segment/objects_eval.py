"""Object-selection quality on photos with true object masks (``chromaseg eval-objects``, ``bench_segment``).

Protocol (the folder's README): the gray photo is the input; a box prompt is the object's box, one click is the
object's interior-most pixel (maximum of its mask's distance transform); the score is the mean IoU over objects,
beside the baseline of the box itself as the mask. The image is set once (its semantic pass is timed apart) and
each prompt is timed on its own, as an editor would see it.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from chromaseg.core.segment.images import box_mask


@dataclass(frozen=True)
class ObjectCase:
    image: str
    mask_path: Path
    category: str
    box: tuple[int, int, int, int]


def read_objects(folder: str | Path, limit: int | None = None) -> list[ObjectCase]:
    """The objects listed in ``objects.tsv`` (of the first ``limit`` photos when given)."""
    folder = Path(folder)
    with open(folder / "objects.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    images = list(dict.fromkeys(r["image"] for r in rows))[:limit]
    return [ObjectCase(r["image"], folder / f"{r['image']}.obj{r['object']}.png", r["category"],
                       (int(r["x0"]), int(r["y0"]), int(r["x1"]), int(r["y1"])))
            for r in rows if r["image"] in images]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def interior_point(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the pixel farthest from the mask's border."""
    dist = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(dist.argmax()), dist.shape)
    return int(x), int(y)


def _timed(fn, *args, **kwargs) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def evaluate_objects(segmenter: object, folder: str | Path, limit: int | None = None) -> dict:
    """Mean IoU of box and one-click prompts and of the box baseline, per-prompt and per-image-set times."""
    cases = read_objects(folder, limit)
    rows, set_times, prompt_times = [], [], []
    gray_of: dict[str, np.ndarray] = {}
    for case in cases:
        if case.image not in gray_of:
            gray_of.clear()
            gray_of[case.image] = np.asarray(Image.open(Path(folder) / f"{case.image}.jpg").convert("L"))
            _, seconds = _timed(segmenter.set_image, gray_of[case.image])
            set_times.append(seconds)
        gray = gray_of[case.image]
        truth = np.asarray(Image.open(case.mask_path)) > 127
        by_box, t_box = _timed(segmenter.prompt, gray, box=case.box)
        by_click, t_click = _timed(segmenter.prompt, gray, points=[interior_point(truth)], labels=[1])
        prompt_times += [t_box, t_click]
        rows.append({"image": case.image, "category": case.category, "box": iou(by_box, truth),
                     "click": iou(by_click, truth), "rectangle": iou(box_mask(truth.shape, case.box), truth)})
    return {"backend": segmenter.backend, "objects": len(rows), "images": len(set_times),
            "box_miou": _mean(rows, "box"), "click_miou": _mean(rows, "click"),
            "rectangle_miou": _mean(rows, "rectangle"),
            "median_prompt_s": float(np.median(prompt_times)) if prompt_times else 0.0,
            "median_set_image_s": float(np.median(set_times)) if set_times else 0.0, "rows": rows}


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else 0.0


def format_report(report: dict) -> str:
    return "\n".join([
        f"backend: {report['backend']}; {report['objects']} objects on {report['images']} gray photos",
        "| prompt | mean IoU |", "|---|---:|",
        f"| box | {report['box_miou']:.3f} |", f"| one click (interior-most pixel) | {report['click_miou']:.3f} |",
        f"| rectangle baseline (the box itself) | {report['rectangle_miou']:.3f} |",
        f"median prompt: {report['median_prompt_s'] * 1e3:.0f} ms; median set_image (semantic pass, once per "
        f"photo): {report['median_set_image_s'] * 1e3:.0f} ms"])
