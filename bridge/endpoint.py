"""Where the daemon listens and logs, shared by the client (inside editors) and the server: standard library only.

The default is an IPC socket in a directory only the user can enter (so other local users cannot talk to the
daemon); loopback TCP where IPC is unavailable (Windows). `CHROMASEG_ENDPOINT` overrides both.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_ENDPOINT = "CHROMASEG_ENDPOINT"
DEFAULT_TCP_ENDPOINT = "tcp://127.0.0.1:47231"
SOCKET_NAME = "daemon.sock"
# sun_path is 108 bytes on Linux (104 on macOS); ipc:// paths longer than this cannot be bound.
_MAX_IPC_PATH = 100


@dataclass(frozen=True)
class Endpoint:
    """A parsed ZeroMQ endpoint: `ipc://PATH` or `tcp://HOST:PORT`."""

    transport: str  # "ipc" or "tcp"
    address: str  # the path, or the host
    port: int = 0

    @property
    def url(self) -> str:
        if self.transport == "ipc":
            return f"ipc://{self.address}"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"tcp://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True when only this machine can reach it (IPC, or TCP on a loopback address)."""
        if self.transport == "ipc":
            return True
        if self.address == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False  # a host name or "*": could resolve to anything


def parse_endpoint(url: str) -> Endpoint:
    """Parse `ipc://PATH` or `tcp://HOST:PORT`; raises ValueError with the accepted forms."""
    if url.startswith("ipc://"):
        path = url[len("ipc://") :]
        if not path:
            raise ValueError("ipc:// endpoint needs a path, e.g. ipc:///run/user/1000/chromaseg/daemon.sock")
        return Endpoint("ipc", path)
    if url.startswith("tcp://"):
        rest = url[len("tcp://") :]
        host, sep, port = rest.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"tcp endpoint must look like tcp://127.0.0.1:47231, got {url!r}")
        return Endpoint("tcp", host.strip("[]"), int(port))
    raise ValueError(f"endpoint must start with ipc:// or tcp://, got {url!r}")


def ipc_available() -> bool:
    """Unix domain sockets exist (libzmq's ipc:// transport needs them)."""
    return hasattr(socket, "AF_UNIX") and sys.platform != "win32"


def _private_dir(path: Path) -> Path:
    """Create `path` with mode 0700, or check that an existing one is ours and private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user; remove it or set {ENV_ENDPOINT}")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def runtime_dir() -> Path:
    """The user's private runtime directory for chromaseg ($XDG_RUNTIME_DIR/chromaseg, else a private temp dir)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return _private_dir(Path(base) / "chromaseg")
    return _private_dir(Path(tempfile.gettempdir()) / f"chromaseg-{os.getuid()}")


def default_endpoint() -> str:
    """CHROMASEG_ENDPOINT, else the private IPC socket, else loopback TCP."""
    env = os.environ.get(ENV_ENDPOINT)
    if env:
        parse_endpoint(env)
        return env
    if ipc_available():
        path = runtime_dir() / SOCKET_NAME
        if len(str(path)) <= _MAX_IPC_PATH:
            return f"ipc://{path}"
    return DEFAULT_TCP_ENDPOINT


def default_log_path() -> Path:
    """$XDG_STATE_HOME/chromaseg/daemon.log (~/.local/state/... by default); %LOCALAPPDATA% on Windows."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home()))
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "chromaseg" / "daemon.log"
