"""Real GIMP 3 in the Debian trixie chroot (install/editors/gimp-chroot.sh): the plug-in installed by the real
installer into this session's own GIMP configuration folder there, a real daemon on the host's loopback, GIMP run in
batch mode. Skipped only when the chroot is missing
(`make test-gimp` and CI build it)."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bridge_helpers import Daemon  # noqa: E402
from gimp_batch import CHROOT, CHROOT_READY, GimpConfig, install_plugin, run_gimp  # noqa: E402

if not CHROOT_READY:
    pytest.skip(f"no GIMP 3 chroot at {CHROOT}: build it with `make test-gimp` (or install/editors/gimp-chroot.sh)",
                allow_module_level=True)


@pytest.fixture(scope="session")
def gimp_config() -> Iterator[GimpConfig]:
    """This session's own GIMP configuration folder inside the chroot, removed afterwards."""
    config = GimpConfig.create()
    yield config
    config.remove()


@pytest.fixture(scope="session")
def installed_plugin(gimp_config: GimpConfig) -> Path:
    """The plug-in installed into this session's GIMP configuration only."""
    return install_plugin(gimp_config)


@pytest.fixture
def gimp(installed_plugin: Path, gimp_config: GimpConfig, daemon: Daemon) -> Callable[..., dict[str, Any]]:
    """Call a chromaseg procedure in real GIMP on a test image; the daemon's endpoint comes from CHROMASEG_ENDPOINT."""

    def call(procedure: str, pixels: bytes, w: int, h: int, **extra: Any) -> dict[str, Any]:
        params = {"scenario": "procedure", "procedure": procedure, "w": w, "h": h,
                  "pixels": base64.b64encode(pixels).decode(), **extra}
        return run_gimp(params, gimp_config, {"CHROMASEG_ENDPOINT": daemon.endpoint})

    return call
