"""`chromaseg train --images DIR --out DIR`: train the CCC colorizer (see chromaseg.core.train).

A run is a campaign: it resumes exactly from OUT/last.pt, and ``--stage-minutes`` ends one stage (state, averaged
weights, history and model card written) without touching the learning-rate schedule, so the next stage continues it.
"""
from __future__ import annotations

import argparse
import dataclasses


def _default(name: str) -> object:
    from chromaseg.core.train import TrainConfig

    return {f.name: f for f in dataclasses.fields(TrainConfig)}[name].default


def _dense_share(text: str) -> float:
    """--dense-hints' value, checked by HintSampling itself (its range lives there)."""
    from chromaseg.core.hints import HintSampling

    try:
        return HintSampling(dense_share=float(text)).dense_share
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    from chromaseg.core.hints import HintSampling

    p = subparsers.add_parser("train", help="train the colorizer on a folder of color photos",
                              description="Train the CCC colorizer; resumes from OUT/last.pt when present.")
    p.add_argument("--images", required=True, help="folder of color photos (searched recursively)")
    p.add_argument("--out", required=True, help="output folder: weights, class table, split lists, model card")
    for flag, kind, text in (
            ("arch", str, "registered architecture"), ("width", int, "channels of the first stage"),
            ("steps", int, "optimizer steps of the whole run (the cosine schedule spans them)"),
            ("batch", int, "photos per step"), ("crop", int, "training crop side in pixels"),
            ("cache_size", int, "side of the cached squares"), ("lr", float, "peak learning rate"),
            ("val_fraction", float, "share of photos held out for validation"),
            ("eval_every", int, "steps between validations and checkpoints"), ("seed", int, "random seed"),
            ("device", str, "auto, cpu, cuda, cuda:1, ..."),
            ("semantic_channels", int, "DeepLab feature channels after the fitted projection (with --semantic)"),
            ("ema_decay", float, "decay of the weight average that is shipped")):
        p.add_argument(f"--{flag.replace('_', '-')}", type=kind, default=_default(flag),
                       help=f"{text} (default: %(default)s)")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-time budget of the whole run; the schedule decays within it")
    p.add_argument("--stage-minutes", type=float, default=None,
                   help="stop this stage after so long (checkpoint written; the next call resumes the schedule)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--cache-dir", default=None, help="where the preprocessed caches go (default: OUT/cache)")
    p.add_argument("--semantic", action="store_true",
                   help="fuse the frozen DeepLab semantic branch (its IR from $CHROMASEG_WEIGHTS; features cached)")
    p.add_argument("--no-mirror", action="store_true",
                   help="no flip augmentation (with --semantic: skips encoding the mirror images)")
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="start from a trained colorizer's weights (fine-tune; OUT must hold its class table)")
    p.add_argument("--dense-hints", type=_dense_share, default=HintSampling.dense_share, metavar="SHARE",
                   help="share of hinted training samples with a log-uniform hint count up to "
                        f"{HintSampling.max_hints} (default: %(default)s: Zhang et al.'s geometric count only)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from chromaseg.core.hints import HintSampling
    from chromaseg.core.train import TrainConfig, train

    cfg = TrainConfig(images=args.images, out=args.out, arch=args.arch, width=args.width, steps=args.steps,
                      max_minutes=args.minutes, stage_minutes=args.stage_minutes, batch=args.batch, crop=args.crop,
                      cache_size=args.cache_size, lr=args.lr, val_fraction=args.val_fraction,
                      eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed,
                      device=args.device, threads=args.threads, cache_dir=args.cache_dir, semantic=args.semantic,
                      semantic_channels=args.semantic_channels, mirror=not args.no_mirror, ema_decay=args.ema_decay,
                      init=args.init, hints=HintSampling(dense_share=args.dense_hints))
    final = train(cfg, resume=not args.no_resume)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()})
    return 0
