"""Finding and starting the daemon without blocking the editor: the bridge's one launcher (`bridge.launcher`), with
the installer's serve command and the refusals worded for the artist.

The bridge client's own `autostart` waits (up to a minute) for the daemon inside one call, which would freeze an
editor's UI; the runner instead launches and then probes from its timer until the socket answers.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Sequence

from chromaseg.bridge import launcher
from chromaseg.bridge.endpoint import default_endpoint
from chromaseg.plugins.common.errors import PluginError

# Written by `chromaseg install-plugin` (chromaseg.install.plugins) in the plugin's folder, beside vendor/: it names the
# interpreter that has the daemon's dependencies. Plugins may not import the installer, hence the name twice.
INSTALL_MANIFEST = "chromaseg-install.json"


def resolve_endpoint(configured: str) -> str:
    """The configured endpoint, else the bridge's default (CHROMASEG_ENDPOINT or the user's private socket)."""
    return configured or default_endpoint()


def reachable(endpoint: str) -> bool:
    """Whether something accepts connections at `endpoint` (a stale IPC socket file does not)."""
    return launcher.reachable(endpoint)


def installed_command(module_file: str = __file__) -> list[str] | None:
    """The serve command recorded by the installer, when this module runs from an installed plugin's vendor/ tree
    (<plugin>/vendor/chromaseg/plugins/common/daemon.py, manifest in <plugin>/)."""
    parents = Path(module_file).resolve().parents
    if len(parents) < 5:
        return None
    try:
        command = json.loads((parents[4] / INSTALL_MANIFEST).read_text(encoding="utf-8")).get("serve_command")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        return command
    return None


def start_command(configured: Sequence[str] | None, endpoint: str, installed: Sequence[str] | None = None) -> list[str]:
    """The command that starts a daemon at `endpoint`: the configured one (as is), CHROMASEG_SERVE_COMMAND, the
    installer's `installed` serve command, or `chromaseg serve` from PATH (both with `--endpoint ENDPOINT`)."""
    try:
        return launcher.start_command(configured, endpoint, installed)
    except launcher.LaunchError:
        raise PluginError(
            "The chromaseg daemon is not running and no `chromaseg` command is on PATH to start it. Start it with "
            "`chromaseg serve`, or set the daemon command in the plugin's settings."
        ) from None


def launch(command: Sequence[str]) -> subprocess.Popen:
    """Start the daemon detached from the editor (its own session; it outlives the editor and logs to its file)."""
    try:
        return launcher.launch(command)
    except launcher.LaunchError as exc:  # "could not start the daemon with ...", as a sentence
        raise PluginError(str(exc)[:1].upper() + str(exc)[1:]) from None
