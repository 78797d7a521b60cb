"""Running scenarios (gimp_scenarios.py) inside real GIMP 3's batch mode in the trixie chroot, from the host."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
CHROOT_SCRIPT = REPO / "install" / "editors" / "gimp-chroot.sh"
CHROOT = Path(os.environ.get("CHROMASEG_GIMP_CHROOT", "/var/cache/chromaseg/gimp-trixie"))
PLUGINS_DIR = CHROOT / "root" / ".config" / "GIMP" / "3.0" / "plug-ins"
SCENARIOS = Path(__file__).with_name("gimp_scenarios.py")

CHROOT_READY = (CHROOT / ".chromaseg-ready").exists()


def run_gimp(params: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one scenario of gimp_scenarios.py inside GIMP 3's batch mode; returns its result.json."""
    inside = Path("/tmp") / f"chromaseg-gimp-test-{uuid.uuid4().hex[:12]}"
    work = CHROOT / inside.relative_to("/")
    work.mkdir(parents=True)
    try:
        shutil.copy(SCENARIOS, work / SCENARIOS.name)
        (work / "params.json").write_text(json.dumps(params))
        batch = f"import sys; sys.path.insert(0, {str(inside)!r}); import gimp_scenarios; " \
                f"gimp_scenarios.main({str(inside)!r})"
        env_args = [f"{k}={v}" for k, v in (env or {}).items()]
        proc = subprocess.run(
            [str(CHROOT_SCRIPT), "run", "env", *env_args, "gimp-console-3.0", "-i", "--quit",
             "--batch-interpreter=python-fu-eval", "-b", batch],
            capture_output=True, text=True, timeout=300,
        )
        result_file = work / "result.json"
        assert proc.returncode == 0 and result_file.exists(), (
            f"GIMP batch failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        result = json.loads(result_file.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "exception" not in result, result.get("exception")
    return result


