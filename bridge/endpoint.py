"""Where the daemon listens and logs, shared by the client (inside editors) and the server: standard library only.

The default is an IPC socket in a directory only the user can enter (so other local users cannot talk to the
daemon); loopback TCP where IPC is unavailable (Windows). `CHROMASEG_ENDPOINT` overrides both.
"""
from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ENV_ENDPOINT = "CHROMASEG_ENDPOINT"
DEFAULT_TCP_ENDPOINT = "tcp://127.0.0.1:47231"
SOCKET_NAME = "daemon.sock"
# sun_path is 108 bytes on Linux (104 on macOS); ipc:// paths longer than this cannot be bound.
_MAX_IPC_PATH = 100


class EndpointError(ValueError):
    """An endpoint this daemon must not or cannot use; the message says why in one line."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed ZeroMQ endpoint: `ipc://PATH`, `ipc://@NAME` (Linux abstract socket) or `tcp://HOST:PORT`."""

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
    def abstract(self) -> bool:
        """A Linux abstract socket: a name in the kernel, no file (nothing to create, chmod or remove)."""
        return self.transport == "ipc" and self.address.startswith("@")

    @property
    def ipv6(self) -> bool:
        """A TCP endpoint on an IPv6 literal: libzmq's sockets need ZMQ_IPV6 set to bind or connect to it."""
        return self.transport == "tcp" and ":" in self.address

    @property
    def socket_address(self) -> str | tuple[str, int]:
        """The address for Python's `socket.connect` (abstract names start with a NUL byte there)."""
        if self.transport == "tcp":
            return (self.address, self.port)
        return "\0" + self.address[1:] if self.abstract else self.address

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
    """Parse `ipc://PATH`, `ipc://@NAME` or `tcp://HOST:PORT`; raises ValueError with the accepted forms."""
    if url.startswith("ipc://"):
        path = url[len("ipc://") :]
        if not path:
            raise ValueError("ipc:// endpoint needs a path, e.g. ipc:///run/user/1000/chromaseg/daemon.sock")
        if path.startswith("@"):
            if not sys.platform.startswith("linux"):
                raise ValueError(f"{url}: abstract IPC sockets (ipc://@name) exist on Linux only; use a socket path")
            if len(path) < 2:
                raise ValueError("ipc://@ needs a name after the @, e.g. ipc://@chromaseg")
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


def prepare_ipc(path: str) -> None:
    """Make `path` bindable without losing anything: create its parent directory (mode 0700 when new) and remove
    the socket file of a daemon that died without cleaning up. A live socket, a regular file, a directory or
    anything else at `path` is refused (EndpointError): a typo in --endpoint must never delete a user's file."""
    if path.startswith("@"):
        return  # abstract: no file; a name in use makes the bind fail with EADDRINUSE
    try:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise EndpointError(f"cannot create the directory of ipc://{path}: {exc.strerror or exc}") from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise EndpointError(f"cannot use ipc://{path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a link" if stat.S_ISLNK(st.st_mode) else "a file"
        raise EndpointError(f"refusing ipc://{path}: it is {kind}, not a socket; choose another path or remove it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        pass  # nobody listens: the socket of a daemon that died
    except OSError as exc:  # e.g. EACCES (another user's socket), EAGAIN (a live listener with a full backlog)
        raise EndpointError(f"refusing ipc://{path}: the socket there is not free ({exc.strerror or exc})") from None
    else:
        raise EndpointError(f"another chromaseg daemon (or another program) is already serving at ipc://{path}")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise EndpointError(f"cannot remove the stale socket ipc://{path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def abstract_bind_guard(ep: Endpoint) -> Iterator[None]:
    """Wrap the bind: libzmq unlinks an ipc:// path before binding it, and for an abstract name that is the file
    `@name` in the working directory. An abstract name is bound from the user's private runtime directory instead,
    where no file of the user's can be hit; the working directory is restored after (the daemon is still
    single-threaded then)."""
    if not ep.abstract:
        yield
        return
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(runtime_dir())
        yield
    finally:
        os.fchdir(here)
        os.close(here)


def remove_ipc_socket(path: str) -> None:
    """At shutdown: remove the daemon's socket file, and nothing else (no file for abstract names)."""
    if path.startswith("@"):
        return
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except OSError:
        pass  # already gone: nothing to clean up


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
