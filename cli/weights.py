"""`chromaseg weights list|fetch|verify`: the weights directory as the registry sees it, and how to fill it.

fetch downloads from the upstream URLs with a progress bar and hash check (a machine with internet), or copies from a
local mirror folder (``--from DIR``: an offline installer, CI). Files land only after their hashes check out; a
published colorizer's file (SIGGRAPH17, DDColor) must also fit its architecture's upstream layout, tensor by tensor.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list, fetch or verify third-party weights", description=__doc__)
    p.add_argument("action", choices=("list", "fetch", "verify"))
    p.add_argument("names", nargs="*", help="registry entries (default: all for list/verify; required for fetch)")
    p.add_argument("--dir", help="weights directory (default: $CHROMASEG_WEIGHTS or ~/.cache/chromaseg/weights)")
    p.add_argument("--from", dest="source", help="copy from this mirror folder instead of downloading")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chromaseg.core.segment import registry

    root = Path(args.dir) if args.dir else registry.weights_dir()
    known = registry.entries(root)
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"unknown: {', '.join(unknown)} (known: {', '.join(known)})")
        return 2
    if args.action == "fetch" and not args.names:
        print("fetch needs entry names: " + ", ".join(known))
        return 2
    chosen = [known[n] for n in args.names] if args.names else list(known.values())
    print(f"weights directory: {root}")
    failed = 0
    for entry in chosen:
        if args.action == "fetch":
            try:
                done = registry.fetch(entry, root, args.source, progress=not args.quiet)
            except (OSError, ValueError) as exc:
                print(f"{entry.name}: FAILED: {exc}")
                failed += 1
                continue
            print(f"{entry.name}: {'installed ' + ', '.join(done) if done else 'already installed'}")
            continue
        problems = registry.check(entry, root)
        state = "ok" if not any(problems.values()) else (
            "missing" if all(v == "missing" for v in problems.values()) else "damaged")
        print(f"{entry.name:18} {entry.kind:9} {state:8} {entry.description}")
        if args.action == "verify":
            for path, why in problems.items():
                print(f"    {path}: {why or 'ok'}")
            failed += state != "ok" if args.names else state == "damaged"
    return 1 if failed else 0
