"""Running krita_scenarios.py inside real Krita: a private Krita home with the plugin installed by the real
installer, then kritarunner under Xvfb. Used by test_krita_real.py and docs/tools/krita_screenshots.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PHOTO = HERE.parents[2] / "core" / "assets" / "sample.jpg"
RUN_LIMIT = 600  # seconds: only stops a hung Krita
STARTUP_TRIES = 3  # Krita 5.1 sometimes aborts in its own start-up (resource database), before any scenario runs
SCREEN = "-screen 0 1600x1000x24"


class KritaRunFailed(RuntimeError):
    """Krita could not run the scenarios (missing tools, or it wrote no result)."""


def krita_home(root: Path) -> dict[str, str]:
    """A private HOME for Krita with the plugin installed by `chromaseg install-plugin` and OpenGL off (Xvfb has
    none). Returns the environment that points Krita there."""
    config, data = root / "config", root / "data"
    config.mkdir(parents=True)
    (config / "kritarc").write_text("useOpenGL=false\n[python]\nenable_chromaseg_krita=true\n")
    (config / "kritadisplayrc").write_text("OpenGLRenderer=none\n")
    pykrita = data / "krita" / "pykrita"
    subprocess.run([sys.executable, "-m", "chromaseg.cli.main", "install-plugin", "krita", "--dest", str(pykrita)],
                   check=True, capture_output=True)
    return {"HOME": str(root), "XDG_CONFIG_HOME": str(config), "XDG_DATA_HOME": str(data),
            "CHROMASEG_KRITA_PLUGIN_DIR": str(pykrita)}


def run_krita(home: dict[str, str], endpoint: str, scenarios: str, out: Path, **extra: str) -> dict[str, Any]:
    """Run the named scenarios in kritarunner under Xvfb; returns the facts they recorded. A Krita that dies before
    the first scenario starts is started again (with a warning); one that dies later fails the run, naming the
    scenario it was in."""
    missing = [tool for tool in ("kritarunner", "xvfb-run") if shutil.which(tool) is None]
    if missing:
        raise KritaRunFailed(f"{' and '.join(missing)} missing: run install/editors/krita-deps.sh")
    progress = out.with_suffix(".progress")
    env = {**os.environ, **home, **extra, "CHROMASEG_ENDPOINT": endpoint, "CHROMASEG_KRITA_RESULT": str(out),
           "CHROMASEG_KRITA_PROGRESS": str(progress), "CHROMASEG_KRITA_PHOTO": str(PHOTO),
           "CHROMASEG_KRITA_SCENARIOS": scenarios, "PYTHONPATH": str(HERE)}
    log = out.with_suffix(".log")
    for attempt in range(1, STARTUP_TRIES + 1):
        progress.unlink(missing_ok=True)
        with log.open("wb") as fh:
            subprocess.run(["xvfb-run", "-a", "-s", SCREEN, "kritarunner", "-s", "krita_scenarios", "-f", "run"],
                           env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=RUN_LIMIT, cwd=HERE)
        if out.exists():
            break
        reached = progress.read_text().split() if progress.exists() else []
        ending = log.read_text(errors="replace")[-3000:]
        if "scenario" in reached or attempt == STARTUP_TRIES:
            where = f"in scenario {reached[-1]!r}" if "scenario" in reached else f"{attempt} times before any scenario"
            raise KritaRunFailed(f"Krita wrote no result (it died {where}); its output ends with: {ending}")
        warnings.warn(f"Krita died in its start-up (reached: {reached or 'nothing'}); starting it again. Its output "
                      f"ends with: {ending[-300:]}", stacklevel=2)
        _forget_resource_cache(home)
    facts = json.loads(out.read_text())
    if "error" in facts:
        raise KritaRunFailed(facts["error"])
    return facts


def _forget_resource_cache(home: dict[str, str]) -> None:
    """Removes the resource database a start-up crash may have left half written, so the next start builds it anew."""
    for path in (Path(home["XDG_DATA_HOME"]) / "krita").glob("resourcecache.sqlite*"):
        path.unlink()
