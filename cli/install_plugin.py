"""`chromaseg install-plugin krita|gimp [--dest DIR]` and `chromaseg uninstall-plugin ...`.

Copies the plugin with a vendored, standard-library-only bridge client into the editor's per-user plugin folder (or
DIR), records this interpreter as the command that auto-starts the daemon, and says how to enable the plugin.
"""
from __future__ import annotations

import argparse

EDITOR_CHOICES = ("krita", "gimp")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install-plugin", help="install the Krita or GIMP 3 plugin", description=__doc__)
    p.add_argument("editor", choices=EDITOR_CHOICES)
    p.add_argument("--dest", help="the editor's plugin folder (default: its per-user folder on this system)")
    p.set_defaults(run=run_install)
    u = sub.add_parser("uninstall-plugin", help="remove an installed plugin", description=__doc__)
    u.add_argument("editor", choices=EDITOR_CHOICES)
    u.add_argument("--dest", help="the editor's plugin folder (default: its per-user folder on this system)")
    u.set_defaults(run=run_uninstall)


def run_install(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chromaseg.install.plugins import EDITORS, install

    try:
        home = install(args.editor, Path(args.dest) if args.dest else None)
    except (OSError, ValueError) as exc:
        print(f"install-plugin {args.editor}: FAILED: {exc}")
        return 1
    print(f"installed the {args.editor} plugin in {home.parent}")
    print(EDITORS[args.editor].enable_hint)
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chromaseg.install.plugins import uninstall

    try:
        removed = uninstall(args.editor, Path(args.dest) if args.dest else None)
    except (OSError, ValueError) as exc:
        print(f"uninstall-plugin {args.editor}: FAILED: {exc}")
        return 1
    print("removed " + ", ".join(str(p) for p in removed))
    return 0
