"""`chromaseg eval --images DIR`: fidelity and colorfulness of the colorizer against gray and hint propagation."""
from __future__ import annotations

import argparse
import sys

from chromaseg.cli import arguments
from chromaseg.cli.colorize import ARCH_HELP, MODEL_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate the colorizer on color photos",
                              description="PSNR, SSIM, mean CIEDE2000, colorfulness and CNR (photos reduced to a "
                                          "long side of 256 px unless --long-side says otherwise), automatic and "
                                          "with simulated hints, beside the gray and hint-propagation baselines.")
    p.add_argument("--images", required=True, help="folder of color photos")
    p.add_argument("--split", default=None, help="file listing the photos to use, relative to --images "
                                                  "(e.g. a training run's split/val.txt)")
    p.add_argument("--hints", default="0,1,10,100", help="comma-separated hint counts (default: %(default)s)")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--arch", default=None, help=ARCH_HELP)
    arguments.add_report_options(p, "photos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--long-side", type=int, default=None, metavar="PX",
                   help="reduce each photo to this long side first (default: the evaluation protocol's 256; never "
                        "enlarged, so a large value scores the photos at their own size)")
    p.add_argument("--vibrancy", type=arguments.vibrancy, default=None, metavar="V",
                   help="0..1, higher = bolder colors: the share of the colorizer's class rebalancing kept "
                        "(default: the model's measured one)")
    p.add_argument("--harmonize", action="store_true",
                   help="also score the colorizer followed by Algorithm 1 over automatic segments")
    p.add_argument("--segment-pass", action="store_true",
                   help="also score the colorizer with the segment pass over automatic segments")
    p.add_argument("--confine-hints", action="store_true",
                   help="also score the colorizer with each hint confined to its automatic segment")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chromaseg.cli.colorize import Refusal, load_model
    from chromaseg.core.evaluate import LONG_SIDE, PIPELINE_STAGES, eval_paths, evaluate, format_table

    counts = [int(c) for c in args.hints.split(",") if c.strip()]
    try:
        model = load_model(args.model, args.arch)
    except Refusal as exc:
        print(f"chromaseg eval: {exc}", file=sys.stderr)
        return 2
    report = evaluate(eval_paths(args.images, args.split, args.limit), counts, model=model, seed=args.seed,
                      vibrancy=args.vibrancy, long_side=args.long_side or LONG_SIDE,
                      stages=[s for s in PIPELINE_STAGES if getattr(args, s)])
    print(format_table(report))
    arguments.write_report(report, args.json)
    return 0
