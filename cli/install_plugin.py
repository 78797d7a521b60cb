"""`chromaseg install-plugin krita|gimp [--dest DIR]` and `chromaseg uninstall-plugin ...`.

Copies the plugin with a vendored, standard-library-only bridge client into the editor's per-user plugin folder (or
DIR), records this interpreter as the command that auto-starts the daemon, and says how to enable the plugin.
"""
from __future__ import annotations

import argparse

EDITOR_CHOICES = ("krita", "gimp")


def register(sub: argparse._SubParsersAction) -> None:
    for command, verb in (("install-plugin", "install the Krita or GIMP 3 plugin"),
                          ("uninstall-plugin", "remove an installed plugin")):
        p = sub.add_parser(command, help=verb, description=__doc__)
        p.add_argument("editor", choices=EDITOR_CHOICES)
        p.add_argument("--dest", help="the editor's plugin folder (default: its per-user folder on this system)")
        p.set_defaults(run=run, install=command == "install-plugin")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chromaseg.install.plugins import EDITORS, install, uninstall

    dest = Path(args.dest) if args.dest else None
    try:
        if args.install:
            home = install(args.editor, dest)
            print(f"installed the {args.editor} plugin in {home.parent}")
            print(EDITORS[args.editor].enable_hint)
        else:
            print("removed " + ", ".join(str(p) for p in uninstall(args.editor, dest)))
    except (OSError, ValueError) as exc:
        print(f"{'install' if args.install else 'uninstall'}-plugin {args.editor}: FAILED: {exc}")
        return 1
    return 0
