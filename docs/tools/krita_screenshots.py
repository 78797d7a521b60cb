"""Take docs/images/krita-*.png from real Krita under Xvfb, driving the installed plugin against a real daemon (shipped
colorizer weights): the window with the Chromaseg docker, the docker while a job runs, and a before/after.

    .venv/bin/python docs/tools/krita_screenshots.py [--out docs/images]      (or: make krita-screenshots)

Krita runs the `screenshots` scenario of tests/editors/krita/krita_scenarios.py, with the same set-up as the
real-Krita tests (tests/editors/krita/krita_run.py); needs install/editors/krita-deps.sh.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "editors" / "krita"), str(REPO / "tests" / "bridge")]

from bridge_helpers import start_daemon  # noqa: E402
from krita_run import krita_home, run_krita  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = start_daemon(work / "daemon", "tcp://127.0.0.1:0")
        try:
            facts = run_krita(krita_home(work / "home"), daemon.endpoint, "screenshots", work / "facts.json",
                              CHROMASEG_KRITA_SHOTS=str(args.out.resolve()))["screenshots"]
        finally:
            daemon.stop()
    if "error" in facts:
        raise SystemExit(facts["error"])
    print(facts["colorize_layer"]["message"])
    for path in sorted(args.out.glob("krita-*.png")):
        print(path)


if __name__ == "__main__":
    main()
