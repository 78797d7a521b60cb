"""Finding and starting the daemon without blocking the editor: a cheap reachability probe and a detached launch.

The bridge client's own `autostart` waits (up to a minute) for the daemon inside one call, which would freeze an
editor's UI; here the launch returns at once and the runner probes from its timer until the socket answers.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Sequence

from chromaseg.bridge.client import ENV_START_COMMAND
from chromaseg.bridge.endpoint import default_endpoint, parse_endpoint
from chromaseg.plugins.common.errors import PluginError

# Written by `chromaseg install-plugin` (chromaseg.install.plugins) in the plugin's folder, beside vendor/: it names the
# interpreter that has the daemon's dependencies. Plugins may not import the installer, hence the name twice.
INSTALL_MANIFEST = "chromaseg-install.json"
_PROBE_TIMEOUT = 0.2  # seconds; a local socket refuses at once, this only bounds a firewalled loopback port


def resolve_endpoint(configured: str) -> str:
    """The configured endpoint, else the bridge's default (CHROMASEG_ENDPOINT or the user's private socket)."""
    return configured or default_endpoint()


def reachable(endpoint: str) -> bool:
    """Whether something accepts connections at `endpoint` (a stale IPC socket file does not)."""
    ep = parse_endpoint(endpoint)
    if ep.transport == "ipc":
        if not os.path.exists(ep.address):
            return False
        family: int = socket.AF_UNIX
        address: object = ep.address
    else:
        family = socket.AF_INET6 if ":" in ep.address else socket.AF_INET
        address = (ep.address, ep.port)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(_PROBE_TIMEOUT)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


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
    command = list(configured or os.environ.get(ENV_START_COMMAND, "").split())
    if command:
        return command
    if installed:
        return [*installed, "--endpoint", endpoint]
    exe = shutil.which("chromaseg")
    if exe is None:
        raise PluginError(
            "The chromaseg daemon is not running and no `chromaseg` command is on PATH to start it. Start it with "
            "`chromaseg serve`, or set the daemon command in the plugin's settings."
        )
    return [exe, "serve", "--endpoint", endpoint]


def launch(command: Sequence[str]) -> subprocess.Popen:
    """Start the daemon detached from the editor (its own session; it outlives the editor and logs to its file)."""
    try:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise PluginError(f"Could not start the daemon with {' '.join(command)!r}: {exc}") from None
