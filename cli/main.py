"""The `chromaseg` console script.

It is the one module allowed to reach core, bridge and install alike, so it lives above them. Each subcommand is a
module in this package exposing ``register(subparsers)``; the heavy imports happen inside the command, never at
start-up, so ``chromaseg --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Subcommand modules, in the order `--help` lists them.
SUBCOMMANDS: tuple[str, ...] = (
    "demo",
    "train",
    "colorize",
    "batch",
    "eval",
    "eval_objects",
    "weights",
    "serve",
    "install_plugin",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chromaseg",
        description="Segment-aware colorization for GIMP 3 and Krita.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"chromaseg.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
