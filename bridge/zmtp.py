"""A pure-Python ZMTP 3.1 peer with DEALER semantics and the NULL mechanism, over TCP or Unix sockets.

Editors ship their own Python, often without pyzmq; this lets the chromaseg client talk to the daemon's libzmq
ROUTER anyway. Only what a DEALER talking to one ROUTER needs is here (RFC 23/ZMTP and RFC 37/ZMTP 3.1): the
greeting, READY, PING/PONG, and multipart data frames. Large frames go out with one `sendmsg` over memoryviews and
come in with `recv_into` a buffer allocated once per frame (after its declared size was checked), so there are no
per-byte Python loops and no intermediate copies.
"""
from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque
from typing import Any, Sequence

from chromaseg.bridge.endpoint import parse_endpoint

_FLAG_MORE = 0x01
_FLAG_LONG = 0x02
_FLAG_COMMAND = 0x04
_MECHANISM = b"NULL".ljust(20, b"\0")
# signature (0xFF, 8 bytes padding, 0x7F), version 3.1, mechanism, as-server = 0, filler.
GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, 1]) + _MECHANISM + b"\0" + b"\0" * 31
_COMPATIBLE_PEERS = (b"ROUTER", b"DEALER", b"REP")
_READ_CHUNK = 1 << 16


class ZmtpError(ConnectionError):
    """The connection failed, closed, or the peer broke ZMTP."""


class ZmtpRefused(ZmtpError):
    """The peer is there but refuses this client's security: it wants another mechanism, or sent ERROR."""


def _command(name: bytes, body: bytes = b"") -> bytes:
    payload = bytes([len(name)]) + name + body
    return _frame_header(_FLAG_COMMAND, len(payload)) + payload


def _frame_header(flags: int, size: int) -> bytes:
    if size < 256:
        return struct.pack(">BB", flags, size)
    return struct.pack(">BQ", flags | _FLAG_LONG, size)


def _properties(**props: bytes) -> bytes:
    out = b""
    for name, value in props.items():
        key = name.replace("_", "-").encode("ascii")
        out += bytes([len(key)]) + key + struct.pack(">I", len(value)) + value
    return out


def _parse_properties(data: bytes) -> dict[str, bytes]:
    props: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        n = data[pos]
        name = data[pos + 1 : pos + 1 + n].decode("ascii", "replace")
        pos += 1 + n
        if pos + 4 > len(data):
            raise ZmtpError("malformed READY properties from the peer")
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        props[name.lower()] = data[pos : pos + size]
        pos += size
    return props


class ZmtpSocket:
    """One connected DEALER: send and receive multipart messages; reading never blocks unless asked to."""

    def __init__(self, endpoint: str, timeout: float = 10.0, max_frame_bytes: int = 1 << 31) -> None:
        self._max_frame = max_frame_bytes
        self._sock = self._connect(endpoint, timeout)
        self._rbuf = bytearray(_READ_CHUNK)
        self._rview = memoryview(self._rbuf)
        self._rstart = self._rend = 0
        self._body: bytearray | None = None  # a large frame being received directly into its own buffer
        self._body_pos = 0
        self._body_flags = 0
        self._parts: list[memoryview | bytes] = []
        self._messages: deque[list[memoryview | bytes]] = deque()
        self._closed = False
        self._peer_ready = False
        try:
            self._handshake(time.monotonic() + timeout)
        except BaseException:
            self._sock.close()
            raise

    @staticmethod
    def _connect(url: str, timeout: float) -> socket.socket:
        ep = parse_endpoint(url)
        if ep.transport == "ipc":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(ep.socket_address)
            except BaseException:
                sock.close()
                raise
        else:  # create_connection resolves IPv6 literals (tcp://[::1]:PORT) as well as IPv4
            sock = socket.create_connection(ep.socket_address, timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    # --- handshake ------------------------------------------------------------------------------------------------

    def _handshake(self, deadline: float) -> None:
        # Signature and major version first (RFC 23's staged greeting): libzmq then sends its whole greeting, so its
        # mechanism can be read even when it is one this client cannot speak. Sent whole, our NULL mechanism would
        # make a CURVE daemon close before telling us which one it wanted.
        self._sendall([GREETING[:11]], deadline)
        greeting = self._read_exact(64, deadline)
        if greeting[0] != 0xFF or not greeting[9] & 1:
            raise ZmtpError("the peer does not speak ZMTP 3 (is this a chromaseg daemon endpoint?)")
        if greeting[10] < 3:
            raise ZmtpError(f"the peer speaks ZMTP {greeting[10]}.{greeting[11]}; 3.0 or newer is needed")
        mechanism = greeting[12:32].rstrip(b"\0")
        if mechanism != b"NULL":
            raise ZmtpRefused(
                f"the daemon requires the {mechanism.decode('ascii', 'replace')} security mechanism; "
                "the pure-Python client only speaks NULL: install pyzmq to use CURVE"
            )
        self._sendall([GREETING[11:], _command(b"READY", _properties(Socket_Type=b"DEALER"))], deadline)
        # The peer's READY (or ERROR) is the first frame after the greeting; nothing else may come first.
        while not self._messages and not self._peer_ready:
            self._wait_readable(deadline)
            self._pump()

    def _read_exact(self, n: int, deadline: float) -> bytes:
        out = bytearray()
        while len(out) < n:
            self._wait_readable(deadline)
            try:
                chunk = self._sock.recv(n - len(out))
            except BlockingIOError:
                continue
            if not chunk:
                raise ZmtpError("the daemon closed the connection during the handshake")
            out += chunk
        return bytes(out)

    def _wait_readable(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the daemon")
        r, _, _ = select.select([self._sock], [], [], remaining)
        if not r:
            raise TimeoutError("timed out waiting for the daemon")

    # --- sending --------------------------------------------------------------------------------------------------

    def send_multipart(self, parts: Sequence[Any], timeout: float) -> None:
        """Send one message; raises TimeoutError if the daemon does not take it within `timeout` seconds."""
        buffers: list[Any] = []
        for i, part in enumerate(parts):
            view = memoryview(part).cast("B")
            more = _FLAG_MORE if i < len(parts) - 1 else 0
            buffers.append(_frame_header(more, view.nbytes))
            if view.nbytes:
                buffers.append(view)
        self._sendall(buffers, time.monotonic() + timeout)

    def _sendall(self, buffers: list[Any], deadline: float) -> None:
        bufs = [memoryview(b).cast("B") for b in buffers]
        while bufs:
            try:
                sent = self._sock.sendmsg(bufs[:512])
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise ZmtpError(f"lost the connection to the daemon while sending: {exc}") from None
            while sent and bufs:
                if sent >= bufs[0].nbytes:
                    sent -= bufs[0].nbytes
                    bufs.pop(0)
                else:
                    bufs[0] = bufs[0][sent:]
                    sent = 0
            if bufs:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out sending to the daemon (it is not reading)")
                # Keep reading while we wait, or a peer that is itself blocked on sending to us would deadlock.
                r, w, _ = select.select([self._sock], [self._sock], [], remaining)
                if r:
                    self._pump()

    # --- receiving ------------------------------------------------------------------------------------------------

    def recv_multipart(self, timeout: float | None) -> list[memoryview | bytes] | None:
        """The next message, waiting up to `timeout` seconds (0: do not wait); None when none arrived."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._messages:
                return self._messages.popleft()
            try:
                self._pump()
            except ZmtpError:
                if not self._messages:
                    raise
                self._closed = True  # replies that arrived before the failure are still answers; the next call raises
            if self._messages:
                return self._messages.popleft()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            r, _, _ = select.select([self._sock], [], [], remaining)
            if not r:
                return None

    def _recv_into(self, view: memoryview) -> int:
        """Bytes read into `view`; 0 when nothing is available now. Raises ZmtpError when the peer has gone."""
        if self._closed:
            raise ZmtpError("the connection to the daemon is closed")
        try:
            n = self._sock.recv_into(view)
        except BlockingIOError:
            return 0
        except OSError as exc:
            self._closed = True
            raise ZmtpError(f"lost the connection to the daemon: {exc}") from None
        if n == 0:
            self._closed = True
            raise ZmtpError("the daemon closed the connection")
        return n

    def _pump(self) -> None:
        """Read whatever has arrived, without blocking, completing as many frames as possible."""
        while True:
            if self._body is not None:
                view = memoryview(self._body)
                n = self._recv_into(view[self._body_pos :])
                if not n:
                    return
                self._body_pos += n
                if self._body_pos == len(self._body):
                    body, self._body = self._body, None
                    self._on_frame(self._body_flags, memoryview(body))
                continue
            if self._parse_buffered():
                continue
            if self._rstart:
                leftover = self._rend - self._rstart
                self._rbuf[:leftover] = self._rbuf[self._rstart : self._rend]
                self._rstart, self._rend = 0, leftover
            n = self._recv_into(self._rview[self._rend :])
            if not n:
                return
            self._rend += n

    def _parse_buffered(self) -> bool:
        """Take one frame (or the start of a large one) out of the read buffer; False when more bytes are needed."""
        avail = self._rend - self._rstart
        if avail < 2:
            return False
        flags = self._rbuf[self._rstart]
        if flags & ~(_FLAG_MORE | _FLAG_LONG | _FLAG_COMMAND):
            raise ZmtpError(f"invalid ZMTP frame flags 0x{flags:02x} from the daemon")
        if flags & _FLAG_LONG:
            if avail < 9:
                return False
            (size,) = struct.unpack_from(">Q", self._rbuf, self._rstart + 1)
            head = 9
        else:
            size, head = self._rbuf[self._rstart + 1], 2
        if size > self._max_frame:
            self._closed = True
            raise ZmtpError(f"the daemon sent a {size}-byte frame; this client accepts at most {self._max_frame}")
        start = self._rstart + head
        if avail - head >= size:
            data = bytes(self._rview[start : start + size])
            self._rstart = start + size
            self._on_frame(flags, data)
            return True
        if head + size <= len(self._rbuf):
            return False  # small frame: wait for the rest in the buffer
        # Large frame: allocate it once (size checked above), move what is buffered, read the rest into it directly.
        have = avail - head
        body = bytearray(size)
        body[:have] = self._rview[start : self._rend]
        self._body, self._body_pos, self._body_flags = body, have, flags
        self._rstart = self._rend = 0
        return True

    def _on_frame(self, flags: int, data: memoryview | bytes) -> None:
        if flags & _FLAG_COMMAND:
            self._on_command(bytes(data))
            return
        if not self._peer_ready:
            raise ZmtpError("the daemon sent data before READY")
        self._parts.append(data)
        if not flags & _FLAG_MORE:
            self._messages.append(self._parts)
            self._parts = []

    def _on_command(self, body: bytes) -> None:
        if not body or len(body) < 1 + body[0]:
            raise ZmtpError("malformed ZMTP command from the daemon")
        name, rest = body[1 : 1 + body[0]], body[1 + body[0] :]
        if name == b"READY":
            peer = _parse_properties(rest).get("socket-type", b"")
            if peer not in _COMPATIBLE_PEERS:
                raise ZmtpError(f"the endpoint is a {peer.decode('ascii', 'replace')} socket, not a chromaseg daemon")
            self._peer_ready = True
        elif name == b"ERROR":
            reason = rest[1 : 1 + rest[0]].decode("utf-8", "replace") if rest else ""
            raise ZmtpRefused(f"the daemon refused the connection: {reason}")
        elif name == b"PING":
            # PING carries a 2-byte TTL then up to 16 bytes of context, which PONG echoes back.
            self._sendall([_command(b"PONG", rest[2:18])], time.monotonic() + 5.0)
        # Anything else (PONG, SUBSCRIBE...) means nothing to a DEALER: ignore it, as RFC 37 asks.

    def close(self) -> None:
        self._closed = True
        self._sock.close()
