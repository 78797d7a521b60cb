"""`chromaseg train --images DIR --out DIR`: train the CCC colorizer (see chromaseg.core.train)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the colorizer on a folder of color photos",
                              description="Train the CCC colorizer; resumes from OUT/last.pt when present.")
    p.add_argument("--images", required=True, help="folder of color photos (searched recursively)")
    p.add_argument("--out", required=True, help="output folder: weights, class table, split lists, model card")
    p.add_argument("--arch", default="ccc-mobile", help="registered architecture (default: %(default)s)")
    p.add_argument("--width", type=int, default=32, help="channels of the first stage (default: %(default)s)")
    p.add_argument("--steps", type=int, default=20000, help="optimizer steps (default: %(default)s)")
    p.add_argument("--minutes", type=float, default=None, help="wall-time budget; stops with a checkpoint")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crop", type=int, default=128, help="training crop side in pixels (default: %(default)s)")
    p.add_argument("--cache-size", type=int, default=144, help="side of the cached squares (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--cache-dir", default=None, help="where the preprocessed cache goes (default: OUT/cache)")
    p.add_argument("--semantic", action="store_true",
                   help="fuse the frozen DeepLab semantic branch (weights from $CHROMASEG_WEIGHTS)")
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="start from a trained colorizer's weights (fine-tune; OUT must hold its class table)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chromaseg.core.train import TrainConfig, train

    cfg = TrainConfig(images=args.images, out=args.out, arch=args.arch, width=args.width, steps=args.steps,
                      max_minutes=args.minutes, batch=args.batch, crop=args.crop, cache_size=args.cache_size,
                      lr=args.lr, val_fraction=args.val_fraction, eval_every=args.eval_every,
                      checkpoint_every=args.eval_every, seed=args.seed, device=args.device, threads=args.threads,
                      cache_dir=args.cache_dir, semantic=args.semantic, init=args.init)
    final = train(cfg, resume=not args.no_resume)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()})
    return 0
