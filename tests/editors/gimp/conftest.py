"""Real GIMP 3 in the Debian trixie chroot (install/editors/gimp-chroot.sh): the plug-in installed there by the real
installer, a real daemon on the host's loopback, GIMP run in batch mode. Skipped only when the chroot is missing
(`make test-gimp` and CI build it)."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bridge_helpers import Daemon  # noqa: E402
from gimp_batch import CHROOT, CHROOT_READY, PLUGINS_DIR, run_gimp  # noqa: E402

if not CHROOT_READY:
    pytest.skip(f"no GIMP 3 chroot at {CHROOT}: build it with `make test-gimp` (or install/editors/gimp-chroot.sh)",
                allow_module_level=True)


@pytest.fixture(scope="session")
def installed_plugin() -> Iterator[Path]:
    """The plug-in installed into the chroot's GIMP by `chromaseg install-plugin gimp --dest`, removed afterwards."""
    cli = [sys.executable, "-m", "chromaseg.cli.main"]
    subprocess.run(cli + ["install-plugin", "gimp", "--dest", str(PLUGINS_DIR)], check=True, capture_output=True)
    yield PLUGINS_DIR / "chromaseg-gimp"
    subprocess.run(cli + ["uninstall-plugin", "gimp", "--dest", str(PLUGINS_DIR)], check=True, capture_output=True)


@pytest.fixture
def gimp(installed_plugin: Path, daemon: Daemon) -> Callable[..., dict[str, Any]]:
    """Call a chromaseg procedure in real GIMP on a test image; the daemon's endpoint comes from CHROMASEG_ENDPOINT."""

    def call(procedure: str, pixels: bytes, w: int, h: int, **extra: Any) -> dict[str, Any]:
        params = {"scenario": "procedure", "procedure": procedure, "w": w, "h": h,
                  "pixels": base64.b64encode(pixels).decode(), **extra}
        return run_gimp(params, {"CHROMASEG_ENDPOINT": daemon.endpoint})

    return call
