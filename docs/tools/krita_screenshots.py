"""Take docs/images/krita-*.png from real Krita under Xvfb, driving the installed plugin against a real daemon (shipped
colorizer weights): the full window (menus, toolbox, Layers and Chromaseg dockers) after Preview and Apply, the
Chromaseg menu open, the docker alone and mid-job, the preview's before/after, the Layers docker after Select Object
and Auto-Segment, and a before/after of the image (PNGs quantized to stay small).

    .venv/bin/python docs/tools/krita_screenshots.py [--out docs/images]      (or: make krita-screenshots)

Krita runs the `screenshots` scenario of tests/editors/krita/krita_scenarios.py in a private Krita home with the plugin
installed by the real installer (tests/editors/krita/krita_run.py's `krita_home`). Unlike the real-Krita tests it runs
the `krita` binary itself, not kritarunner: kritarunner has no Krita menus (their XMLGUI file is compiled into the
`krita` executable), and a screenshot of the window should show them. A small Python plugin of this run's own, enabled
in that home only, runs the scenario once the window is up and quits. Needs install/editors/krita-deps.sh.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KRITA_TESTS = REPO / "tests" / "editors" / "krita"
sys.path[:0] = [str(KRITA_TESTS), str(REPO / "tests" / "bridge")]

from bridge_helpers import start_daemon  # noqa: E402
from krita_run import PHOTO, krita_home  # noqa: E402

SCREEN = "-screen 0 1600x1000x24"
LIMIT = 900  # seconds: only stops a hung Krita

DRIVER = '''"""Runs the screenshots scenario once Krita's first window is up, writes its facts, quits."""
import json, os, sys, traceback
from krita import Extension, Krita
from PyQt5.QtCore import QTimer


def _go():
    """Each step of the scenario hands control back to Krita's event loop for as long as it asks."""
    sys.path.insert(0, os.environ["CHROMASEG_KRITA_SCENARIO_DIR"])
    import krita_scenarios
    steps = krita_scenarios.screenshot_steps(Krita.instance().activeWindow())

    def step():
        try:
            QTimer.singleShot(int(1000 * next(steps)), step)
            return
        except StopIteration as over:
            facts = over.value
        except Exception:
            facts = {"error": traceback.format_exc()}
        _finish(facts)

    step()


def _finish(facts):
    with open(os.environ["CHROMASEG_KRITA_RESULT"], "w", encoding="utf-8") as fh:
        json.dump({"screenshots": facts}, fh, indent=1)
    for doc in Krita.instance().documents():
        doc.setModified(False)
    os._exit(0)


class ShotsDriver(Extension):
    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(3000, _go))

    def createActions(self, window):
        pass


Krita.instance().addExtension(ShotsDriver(Krita.instance()))
'''


def run_real_krita(home: dict[str, str], endpoint: str, out: Path, shots: Path) -> dict:
    """The `krita` binary under Xvfb with the driver plugin enabled in `home`; returns the scenario's facts."""
    missing = [tool for tool in ("krita", "xvfb-run") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} missing: run install/editors/krita-deps.sh")
    pykrita = Path(home["CHROMASEG_KRITA_PLUGIN_DIR"])
    (pykrita / "chromaseg_shots_driver").mkdir()
    (pykrita / "chromaseg_shots_driver" / "__init__.py").write_text(DRIVER)
    (pykrita / "chromaseg_shots_driver.desktop").write_text(
        "[Desktop Entry]\nType=Service\nServiceTypes=Krita/PythonPlugin\nX-KDE-Library=chromaseg_shots_driver\n"
        "X-Python-2-Compatible=false\nName=Chromaseg screenshots driver\n")
    kritarc = Path(home["XDG_CONFIG_HOME"]) / "kritarc"
    kritarc.write_text(kritarc.read_text() + "enable_chromaseg_shots_driver=true\n")  # in the [python] group
    env = {**os.environ, **home, "CHROMASEG_ENDPOINT": endpoint, "CHROMASEG_KRITA_RESULT": str(out),
           "CHROMASEG_KRITA_PHOTO": str(PHOTO), "CHROMASEG_KRITA_SHOTS": str(shots),
           "CHROMASEG_KRITA_SCENARIO_DIR": str(KRITA_TESTS)}
    log = out.with_suffix(".log")
    with log.open("wb") as fh:
        try:
            subprocess.run(["xvfb-run", "-a", "-s", SCREEN, "krita", "--nosplash"], env=env, stdout=fh,
                           stderr=subprocess.STDOUT, timeout=LIMIT)
        except subprocess.TimeoutExpired:
            pass
    if not out.exists():
        raise SystemExit(f"Krita wrote no result; its output ends with: {log.read_text(errors='replace')[-3000:]}")
    return json.loads(out.read_text())["screenshots"]


def shrink(path: Path, colors: int = 256) -> None:
    """Quantize a screenshot to a palette (Floyd-Steinberg) when that makes it smaller: the photos stay under 400 KB."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    small = path.with_suffix(".q.png")
    image.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        small, optimize=True)
    if small.stat().st_size < path.stat().st_size:
        small.replace(path)
    else:
        small.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        daemon = start_daemon(work / "daemon", "tcp://127.0.0.1:0")
        try:
            facts = run_real_krita(krita_home(work / "home"), daemon.endpoint, work / "facts.json", args.out.resolve())
        finally:
            daemon.stop()
    if "error" in facts:
        raise SystemExit(facts["error"])
    for path in args.out.glob("krita-*.png"):
        shrink(path)
    print(json.dumps({k: facts[k] for k in ("list_hints", "apply", "select_object", "selected", "segments")
                      if k in facts}, indent=1))
    for path in sorted(args.out.glob("krita-*.png")):
        print(path)


if __name__ == "__main__":
    main()
