"""The client's two transports to the daemon: pyzmq's DEALER when the editor's Python has pyzmq, else the pure-Python
ZMTP client (`zmtp.py`). Both turn a dropped connection or a refused handshake into `ConnectionLost` / `Refused`
instead of a silent wait. Standard library only at import time (pyzmq is imported when chosen).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Sequence, Union

from chromaseg.bridge.endpoint import parse_endpoint
from chromaseg.bridge.errors import BridgeError


@dataclass(frozen=True)
class CurveKeys:
    """Z85 keys for studio mode (CURVE): the daemon's public key and this client's key pair. Needs pyzmq."""

    server_public: str
    public: str
    secret: str

    @classmethod
    def from_files(cls, server_public_file: str | os.PathLike[str], client_secret_file: str | os.PathLike[str]) -> "CurveKeys":
        """Read ZeroMQ certificate files (as written by `zmq.auth.create_certificates`)."""
        server = _read_certificate(server_public_file)
        client = _read_certificate(client_secret_file)
        if "secret-key" not in client:
            raise ValueError(f"{client_secret_file} holds no secret-key: pass the client's .key_secret file")
        return cls(server["public-key"], client["public-key"], client["secret-key"])


def _read_certificate(path: str | os.PathLike[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            name, sep, value = line.strip().partition("=")
            if sep and name.strip() in ("public-key", "secret-key"):
                keys[name.strip()] = value.strip().strip('"')
    if "public-key" not in keys:
        raise ValueError(f"{path} is not a ZeroMQ certificate (no public-key)")
    return keys


class ConnectionLost(Exception):
    """The connection to the daemon dropped (or never came up); the client turns it into DaemonUnavailable."""


class Refused(ConnectionLost):
    """The daemon refused the security handshake; the message says why and what to change."""


class PyZmqBackend:
    """pyzmq DEALER; a monitor socket turns a dropped connection or a refused CURVE handshake into an error instead
    of a silent wait."""

    name = "zmq"

    def __init__(self, endpoint: str, max_frame: int, curve: CurveKeys | None) -> None:
        import zmq
        from zmq.utils.monitor import parse_monitor_message

        self._zmq = zmq
        self._parse_event = parse_monitor_message
        self._curve = curve is not None
        self._sock = zmq.Context.instance().socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)  # no queueing into a connection that does not exist yet
        self._sock.setsockopt(zmq.MAXMSGSIZE, max_frame)
        self._sock.setsockopt(zmq.IPV6, parse_endpoint(endpoint).ipv6)  # libzmq only connects to [::1] with it
        if curve is not None:
            self._sock.curve_serverkey = curve.server_public.encode("ascii")
            self._sock.curve_publickey = curve.public.encode("ascii")
            self._sock.curve_secretkey = curve.secret.encode("ascii")
        self._monitor = self._sock.get_monitor_socket(
            zmq.EVENT_DISCONNECTED
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        )
        self._sock.connect(endpoint)
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)
        self._sent = False  # a disconnect before the first send is a failed attempt libzmq retries, not a loss
        self._lost = False
        self._refusal: str | None = None  # a definite refusal (unknown key, wrong mechanism)
        self._doubt: str | None = None  # a handshake that failed without detail: reported if nothing else works

    def send(self, parts: Sequence[Any], timeout: float) -> None:
        if not self._sock.poll(0, self._zmq.POLLOUT):
            self._await_pipe(timeout)
        self._sock.send_multipart(parts, copy=False)
        self._sent = True

    def _await_pipe(self, timeout: float) -> None:
        """Wait for room in a connected pipe; a refused handshake raises at once instead of timing out silently."""
        poller = self._zmq.Poller()
        poller.register(self._sock, self._zmq.POLLOUT)
        poller.register(self._monitor, self._zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            events = dict(poller.poll(int(max(remaining, 0) * 1000))) if remaining > 0 else {}
            if self._sock in events:
                return
            if self._monitor in events:
                self._read_events()
                self._raise_failure()
            elif remaining <= 0:
                if self._doubt is not None:
                    raise Refused(self._doubt)
                raise TimeoutError("the daemon did not accept a connection")

    def recv(self, timeout: float) -> list[Any] | None:
        events = dict(self._poller.poll(int(max(timeout, 0) * 1000)))
        if self._sock in events:  # replies that arrived before a disconnect are still answers: read them first
            return [f.buffer for f in self._sock.recv_multipart(copy=False)]
        if self._monitor in events:
            self._read_events()
        self._raise_failure()
        return None

    def _read_events(self) -> None:
        zmq = self._zmq
        while self._monitor.poll(0):
            event = self._parse_event(self._monitor.recv_multipart())
            kind, value = event["event"], event["value"]
            if kind == zmq.EVENT_DISCONNECTED:
                self._lost = self._lost or self._sent
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._refusal = (
                    f"it does not know this client's CURVE key (status {value}): ask whoever runs the daemon to add "
                    "your public certificate to the folder it was started with (chromaseg serve --curve-clients)"
                )
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
                self._refusal = (
                    "this client has CURVE keys but the daemon does not use CURVE: drop the keys, or run the daemon "
                    "in studio mode (chromaseg serve --curve-secret ... --curve-clients ...)"
                    if self._curve
                    else "the daemon runs in studio mode (chromaseg serve --curve-secret) and this client has no "
                    "CURVE keys: create the Client with curve=CurveKeys.from_files(server.key, your.key_secret)"
                )
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                self._refusal = f"the CURVE handshake broke (ZMTP error 0x{int(value):x}); check both key files"
            elif self._curve:  # NO_DETAIL: the daemon closed the handshake, e.g. a HELLO for another server key
                self._doubt = (
                    "the daemon closed the CURVE handshake: check that the server key this client uses is the public "
                    "key of the daemon's certificate (chromaseg serve --curve-secret)"
                )

    def _raise_failure(self) -> None:
        if self._refusal is not None:
            raise Refused(self._refusal)
        if self._lost:
            raise ConnectionLost("the connection to the daemon dropped")

    def close(self) -> None:
        self._sock.disable_monitor()
        self._monitor.close(linger=0)
        self._sock.close(linger=0)


class ZmtpBackend:
    """The pure-Python ZMTP client (NULL mechanism only)."""

    name = "zmtp"

    def __init__(self, endpoint: str, max_frame: int, curve: CurveKeys | None, connect_timeout: float) -> None:
        from chromaseg.bridge.zmtp import ZmtpError, ZmtpRefused, ZmtpSocket

        if curve is not None:
            raise BridgeError("CURVE (studio mode) needs pyzmq in the editor's Python; install pyzmq there")
        self._error = ZmtpError
        try:
            self._sock = ZmtpSocket(endpoint, timeout=connect_timeout, max_frame_bytes=max_frame)
        except ZmtpRefused as exc:
            raise Refused(str(exc)) from None
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(str(exc)) from None

    def send(self, parts: Sequence[Any], timeout: float) -> None:
        try:
            self._sock.send_multipart(parts, timeout)
        except self._error as exc:
            raise ConnectionLost(str(exc)) from None

    def recv(self, timeout: float) -> list[Any] | None:
        try:
            return self._sock.recv_multipart(max(timeout, 0.0))
        except self._error as exc:
            raise ConnectionLost(str(exc)) from None

    def close(self) -> None:
        self._sock.close()


def pyzmq_available() -> bool:
    try:
        import zmq  # noqa: F401
    except ImportError:
        return False
    return True


Backend = Union[PyZmqBackend, ZmtpBackend]


def open_backend(name: str, endpoint: str, max_frame: int, curve: CurveKeys | None, connect_timeout: float) -> Backend:
    """A connected transport by name ("zmq" or "zmtp"); ConnectionLost / Refused when the daemon is not there."""
    if name == "zmq":
        return PyZmqBackend(endpoint, max_frame, curve)
    return ZmtpBackend(endpoint, max_frame, curve, connect_timeout)
