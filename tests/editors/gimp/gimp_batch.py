"""Running scenarios (gimp_scenarios.py) inside real GIMP 3's batch mode in the trixie chroot, from the host.

Each test session gets a GIMP configuration folder of its own inside the chroot (`GimpConfig`, handed to GIMP as
GIMP3_DIRECTORY): the plug-in is installed there and nowhere else, so the chroot's shared configuration, the user's
and another checkout's test session are never touched, and suites from two clones can run one after the other (or
side by side) on one chroot.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
CHROOT_SCRIPT = REPO / "install" / "editors" / "gimp-chroot.sh"
CHROOT = Path(os.environ.get("CHROMASEG_GIMP_CHROOT", "/var/cache/chromaseg/gimp-trixie"))
SHARED_PLUGINS_DIR = CHROOT / "root" / ".config" / "GIMP" / "3.0" / "plug-ins"  # the chroot's own: never used here
SCENARIOS = Path(__file__).with_name("gimp_scenarios.py")
PLUGIN_ENTRY = "chromaseg-gimp/chromaseg-gimp.py"

CHROOT_READY = (CHROOT / ".chromaseg-ready").exists()


@dataclass(frozen=True)
class GimpConfig:
    """A private GIMP 3 configuration folder inside the chroot (`inside`: its path as GIMP sees it)."""

    inside: Path

    @classmethod
    def create(cls) -> "GimpConfig":
        config = cls(Path("/tmp") / f"chromaseg-gimp-config-{uuid.uuid4().hex[:12]}")
        (config.host / "plug-ins").mkdir(parents=True)
        return config

    @property
    def host(self) -> Path:
        return CHROOT / self.inside.relative_to("/")

    @property
    def plugins(self) -> Path:
        """Where `chromaseg install-plugin gimp --dest` puts the plug-in (host path)."""
        return self.host / "plug-ins"

    @property
    def plugin_entry_inside(self) -> Path:
        """The installed plug-in's entry as GIMP runs it: its command line names it."""
        return self.inside / "plug-ins" / PLUGIN_ENTRY

    def remove(self) -> None:
        shutil.rmtree(self.host, ignore_errors=True)


def install_plugin(config: GimpConfig) -> Path:
    """The plug-in installed into `config` by the real installer (`chromaseg install-plugin gimp --dest`)."""
    cli = [sys.executable, "-m", "chromaseg.cli.main"]
    subprocess.run(cli + ["install-plugin", "gimp", "--dest", str(config.plugins)], check=True, capture_output=True)
    return config.plugins / "chromaseg-gimp"


def run_gimp(params: dict[str, Any], config: GimpConfig, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one scenario of gimp_scenarios.py inside GIMP 3's batch mode with `config`; returns its result.json."""
    inside = Path("/tmp") / f"chromaseg-gimp-test-{uuid.uuid4().hex[:12]}"
    work = CHROOT / inside.relative_to("/")
    work.mkdir(parents=True)
    try:
        shutil.copy(SCENARIOS, work / SCENARIOS.name)
        (work / "params.json").write_text(json.dumps(params))
        batch = f"import sys; sys.path.insert(0, {str(inside)!r}); import gimp_scenarios; " \
                f"gimp_scenarios.main({str(inside)!r})"
        env_args = [f"{k}={v}" for k, v in {"GIMP3_DIRECTORY": str(config.inside), **(env or {})}.items()]
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


def plugin_processes(config: GimpConfig) -> list[int]:
    """The pids of the plug-in processes GIMP runs from `config` (the chroot shares the host's process table)."""
    entry = str(config.plugin_entry_inside).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if entry in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids
