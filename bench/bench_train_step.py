"""Training steps per second with the semantic feature cache and without it (the frozen encoder run every batch).

Both variants do the same work apart from where the DeepLab features come from: a batch of cached squares,
simulated hints, the colorizer's forward and backward and an Adam step. "Cached" reads grid-aligned windows of the
float16 feature cache; "encoder" runs the frozen DeepLab + projection on the batch's gray crops. Needs the DeepLab IR
in $CHROMASEG_WEIGHTS (or --weights). Usage:

    python bench/bench_train_step.py --weights ../shared/models [--width 48 --batch 16 --crop 224 --steps 8]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="folder holding deeplabv3-mnv2/ (default: the weights dir)")
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from chromaseg.core.classes import ClassTable, class_weighted_cross_entropy
    from chromaseg.core.feature_cache import SemanticCrops, build_feature_cache
    from chromaseg.core.hints import random_hints
    from chromaseg.core.model import build_colorizer
    from chromaseg.core.semantic import SemanticEncoder, load_deeplab
    from chromaseg.core.train import class_targets, lab_batch
    from chromaseg.core.weights import ASSETS

    deeplab = load_deeplab(args.weights)
    if deeplab is None:
        raise SystemExit("no DeepLab IR found: pass --weights ../shared/models")
    encoder = SemanticEncoder(deeplab, 64)
    table = ClassTable.load(ASSETS / "class_table.json")
    rng = np.random.default_rng(0)
    size = args.crop + 32
    squares = rng.integers(0, 256, (4 * args.batch, size, size, 3), dtype=np.uint8)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        features = build_feature_cache(squares, [str(i) for i in range(len(squares))], encoder, folder,
                                       progress=False)
        crops = SemanticCrops(squares, features, args.crop)
        rows = []
        for variant in ("cached", "encoder"):
            model = build_colorizer("ccc-mobile", table=table, width=args.width, semantic_channels=64)
            model = model.to(memory_format=torch.channels_last).train()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
            generator = torch.Generator().manual_seed(0)
            times = []
            for _ in range(args.steps + 1):
                start = time.perf_counter()
                rgb, semantic = crops.sample(args.batch, generator)
                l, ab = lab_batch(rgb)
                if variant == "encoder":
                    semantic = encoder(l)
                hint_ab, hint_mask = random_hints(ab, generator=generator)
                logits = model(l.contiguous(memory_format=torch.channels_last), hint_ab, hint_mask,
                               semantic=semantic)
                loss = class_weighted_cross_entropy(logits, class_targets(ab, table), 0.5, None)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - start)
            median = statistics.median(times[1:])  # the first step warms up
            rows.append((variant, median))
            print(f"{variant:8s} median {median:.2f} s/step = {1 / median:.2f} steps/s "
                  f"(width {args.width}, batch {args.batch}, crop {args.crop}, {args.threads} threads)", flush=True)
    print(f"cache speed-up: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
