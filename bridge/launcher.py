"""The one daemon launcher: is a daemon listening at an endpoint, which command starts one, and starting it detached.

Both the blocking client (`Client(autostart=True)`, which then waits for the daemon's answer) and the editors' runner
(which probes from its UI timer instead of waiting) start the daemon through here, so the command's order of
precedence, the detached launch and the liveness probe are written once. Standard library only: it travels into the
editors with the client.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Sequence

from chromaseg.bridge.endpoint import parse_endpoint
from chromaseg.bridge.errors import DaemonUnavailable

ENV_START_COMMAND = "CHROMASEG_SERVE_COMMAND"
PROBE_TIMEOUT = 0.2  # seconds; a local socket refuses at once, this only bounds a firewalled loopback port
REMOTE_PROBE_TIMEOUT = 2.0  # seconds for a studio daemon on another machine: a slow network is not a dead daemon


class LaunchError(DaemonUnavailable):
    """No daemon could be started: no command to start it with, or the command itself failed to run."""


def reachable(endpoint: str) -> bool:
    """Whether something accepts connections at `endpoint` (a stale IPC socket file does not): the OS-level probe
    that tells a dead daemon from a busy one without a protocol round trip."""
    ep = parse_endpoint(endpoint)
    if ep.transport == "ipc":
        if not ep.abstract and not os.path.exists(ep.address):
            return False
        family = getattr(socket, "AF_UNIX", None)
        if family is None:  # no Unix sockets on this platform: nothing can listen at an ipc:// endpoint
            return False
    else:
        family = socket.AF_INET6 if ep.ipv6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(PROBE_TIMEOUT if ep.is_loopback else REMOTE_PROBE_TIMEOUT)
        try:
            sock.connect(ep.socket_address)
        except OSError:
            return False
    return True


def start_command(configured: Sequence[str] | None, endpoint: str, installed: Sequence[str] | None = None) -> list[str]:
    """The command that starts a daemon at `endpoint`: the configured one (as is), CHROMASEG_SERVE_COMMAND (split on
    spaces), the installer's `installed` serve command, or `chromaseg serve` from PATH (both with `--endpoint`)."""
    command = list(configured or os.environ.get(ENV_START_COMMAND, "").split())
    if command:
        return command
    if installed:
        return [*installed, "--endpoint", endpoint]
    exe = shutil.which("chromaseg")
    if exe is None:
        raise LaunchError(f"no `chromaseg` command is on PATH to start the daemon; set {ENV_START_COMMAND}")
    return [exe, "serve", "--endpoint", endpoint]


def log_file_of(command: Sequence[str]) -> str | None:
    """The log file a serve command names (`--log-file PATH`), so errors can point at it before the daemon answers."""
    if "--log-file" in command[:-1]:
        return command[list(command).index("--log-file") + 1]
    return None


def launch(command: Sequence[str]) -> subprocess.Popen:
    """Start the daemon detached from the caller (its own session: it outlives the editor and logs to its file)."""
    try:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise LaunchError(f"could not start the daemon with {' '.join(command)!r}: {exc}") from None
