"""`chromaseg eval-objects --dir DIR`: how well box and click prompts select objects on gray photos."""
from __future__ import annotations

import argparse

from chromaseg.cli import arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval-objects", help="evaluate object selection on photos with true object masks",
                              description="Mean IoU of box prompts and of one click (at the object's interior-most "
                                          "pixel) on the gray photos, beside the box itself as the mask, and the "
                                          "median time per prompt with the image set once.")
    p.add_argument("--dir", required=True, help="folder with IMAGE.jpg, IMAGE.objN.png and objects.tsv")
    arguments.add_report_options(p, "photos")
    p.add_argument("--backend", choices=("default", "classic", "classic-no-prior"), default="default",
                   help="the daemon's choice (default), the fallback, or the fallback without DeepLab")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chromaseg.core.segment import Segmenter
    from chromaseg.core.segment.objects_eval import evaluate_objects, format_report

    if args.backend == "default":
        seg = Segmenter.default()
    else:
        seg = Segmenter.classic(semantic=args.backend == "classic")
    print(seg.reason)
    report = evaluate_objects(seg, args.dir, args.limit)
    print(format_report(report))
    arguments.write_report(report, args.json)
    return 0
