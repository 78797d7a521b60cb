"""The chromaseg client: the one module editor plugins import (standard library only).

    from chromaseg.bridge.client import Client, Frame
    with Client() as c:
        reply = c.request("colorize", ColorizeParams(vibrancy=0.8), {"layer": Frame(pixels, "u8", (h, w, 4))})
        new_pixels = reply.frames["layer"].data  # a memoryview, no copy

Params are the op's typed request from `contract` (checked against its ranges as it is built) or a plain mapping
(checked by the daemon).

It talks to the daemon with pyzmq when the editor's Python has it, else with the pure-Python ZMTP client in
`zmtp.py`. `submit()` returns a `Job` that a UI timer can `poll()` without ever blocking the editor. A Client is not
thread-safe: use one per thread.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

from chromaseg.bridge.contract import OPS, OpParams
from chromaseg.bridge.endpoint import default_endpoint, default_log_path, parse_endpoint
from chromaseg.bridge.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    Frame,
    Limits,
    ProtocolError,
    check_frame_sizes,
    encode_request,
    parse_reply,
    parse_request,
)

__all__ = [
    "AccessDenied",
    "BridgeError",
    "Client",
    "CurveKeys",
    "DaemonUnavailable",
    "Frame",
    "Job",
    "Progress",
    "ProtocolMismatch",
    "Reply",
    "RequestCancelled",
    "RequestFailed",
    "RequestTimeout",
]

ENV_START_COMMAND = "CHROMASEG_SERVE_COMMAND"
Params = Union[OpParams, Mapping[str, Any]]


# --- errors: each says what the user can do about it ----------------------------------------------------------------


class BridgeError(Exception):
    """Base of every error the client raises."""


class DaemonUnavailable(BridgeError):
    """Nothing answers at the endpoint, or the connection to the daemon was lost."""


class AccessDenied(DaemonUnavailable):
    """A daemon answers but refuses this client's security handshake (CURVE keys missing, unknown or wrong).

    A DaemonUnavailable too, so plugins that handle that keep working; the message names the keys, not a missing
    daemon, and autostart does not start a second daemon over it."""


class ProtocolMismatch(BridgeError):
    """The daemon and this plugin speak different protocol versions."""


class RequestTimeout(BridgeError):
    """The daemon stayed silent for longer than the client's timeout."""


class RequestFailed(BridgeError):
    """The daemon answered with an error; `code` is one of protocol.ErrorCode's stable strings."""

    _ADVICE = {
        ErrorCode.TOO_LARGE.value: "Reduce the image or selection, or start the daemon with higher limits "
        "(chromaseg serve --max-pixels / --max-message-bytes).",
        ErrorCode.QUEUE_FULL.value: "Wait for this editor's running jobs to finish, or cancel one.",
        ErrorCode.UNAVAILABLE.value: "Install the missing model (chromaseg weights) and restart the daemon.",
        ErrorCode.UNSUPPORTED_VERSION.value: "Install the same chromaseg release for the plugin and the daemon.",
        ErrorCode.SHUTTING_DOWN.value: "The daemon is stopping; start it again with `chromaseg serve`.",
        ErrorCode.INTERNAL.value: "This is a bug in the daemon: see its log file and report it.",
    }

    def __init__(self, code: str, message: str, request_id: str | None = None, op: str | None = None) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.op = op
        advice = self._ADVICE.get(code, "")
        super().__init__(f"{op or 'request'} failed [{code}]: {message}" + (f" {advice}" if advice else ""))


class RequestCancelled(RequestFailed):
    """The job was cancelled by `Job.cancel` (a daemon shutting down answers `shutting_down` instead)."""


# --- values ---------------------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Progress:
    """Where a long job is: `done` of `total` units of `stage` (total 0: not countable, e.g. queued)."""

    stage: str
    done: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(frozen=True)
class Reply:
    """A result: the header (a dict, with `result`) and the frames by name, as memoryviews into the message."""

    header: dict[str, Any]
    frames: dict[str, Frame]

    @property
    def result(self) -> dict[str, Any]:
        return self.header.get("result", {})


# --- transports -----------------------------------------------------------------------------------------------------


class _ConnectionLost(Exception):
    pass


class _Refused(_ConnectionLost):
    """The daemon refused the security handshake; the message says why and what to change."""


class _PyZmqBackend:
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
                    raise _Refused(self._doubt)
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
            raise _Refused(self._refusal)
        if self._lost:
            raise _ConnectionLost("the connection to the daemon dropped")

    def close(self) -> None:
        self._sock.disable_monitor()
        self._monitor.close(linger=0)
        self._sock.close(linger=0)


class _ZmtpBackend:
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
            raise _Refused(str(exc)) from None
        except (OSError, TimeoutError) as exc:
            raise _ConnectionLost(str(exc)) from None

    def send(self, parts: Sequence[Any], timeout: float) -> None:
        try:
            self._sock.send_multipart(parts, timeout)
        except self._error as exc:
            raise _ConnectionLost(str(exc)) from None

    def recv(self, timeout: float) -> list[Any] | None:
        try:
            return self._sock.recv_multipart(max(timeout, 0.0))
        except self._error as exc:
            raise _ConnectionLost(str(exc)) from None

    def close(self) -> None:
        self._sock.close()


def _wire_params(op: str, params: OpParams) -> dict[str, Any]:
    """A typed request as the wire's params, once it is known to be this op's."""
    want = OPS[op].params if op in OPS else None
    if type(params) is not want:
        raise TypeError(f"op {op!r} takes {want.__name__ if want else 'no typed params'}, not {type(params).__name__}")
    return params.to_params()


def _pyzmq_available() -> bool:
    try:
        import zmq  # noqa: F401
    except ImportError:
        return False
    return True


# --- jobs -----------------------------------------------------------------------------------------------------------


class Job:
    """One submitted request. Pump it from a UI timer with `poll()`; `wait()` blocks."""

    def __init__(self, client: "Client", request_id: str, op: str, on_progress: Callable[[Progress], None] | None):
        self._client = client
        self.id = request_id
        self.op = op
        self.progress: Progress | None = None
        self._on_progress = on_progress
        self._reply: Reply | None = None
        self._error: BridgeError | None = None

    @property
    def done(self) -> bool:
        return self._reply is not None or self._error is not None

    def poll(self) -> Reply | None:
        """Read what has arrived without blocking: the Reply once finished, else None (see `.progress`).

        Raises RequestFailed / RequestCancelled / DaemonUnavailable / RequestTimeout when the job failed.
        """
        if not self.done:
            self._client.pump(0.0)
        return self._outcome()

    def wait(self, timeout: float | None = None) -> Reply:
        """Block until the job finishes (or `timeout` seconds pass: RequestTimeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise RequestTimeout(f"{self.op} {self.id} did not finish within {timeout} s")
            self._client.pump(0.2 if remaining is None else min(0.2, remaining))
        reply = self._outcome()
        assert reply is not None
        return reply

    def cancel(self) -> None:
        """Ask the daemon to stop this job between stages or tiles; `poll()` then raises RequestCancelled."""
        if not self.done:
            self._client._send_cancel(self.id)

    def _outcome(self) -> Reply | None:
        if self._error is not None:
            raise self._error
        return self._reply

    def _progress(self, progress: Progress) -> None:
        self.progress = progress
        if self._on_progress is not None:
            self._on_progress(progress)


# --- the client -----------------------------------------------------------------------------------------------------


class Client:
    """A connection to the chromaseg daemon.

    endpoint: `ipc://PATH`, `ipc://@NAME` (Linux), `tcp://127.0.0.1:PORT` or `tcp://[::1]:PORT`; default:
    CHROMASEG_ENDPOINT, else the user's private socket.
    timeout: seconds the daemon may stay silent (long jobs stream progress, so this is not a limit on job length).
    backend: "zmq", "zmtp" or None (pyzmq if it imports, else the pure-Python client).
    autostart: when nothing answers, run `start_command` (default `chromaseg serve --endpoint ENDPOINT`, or the
    CHROMASEG_SERVE_COMMAND environment variable, split on spaces) and wait up to `start_timeout` for it.
    curve: keys for a daemon in studio mode (pyzmq only).

    `daemon_log` is the log file the daemon reported in its `info` (kept after a disconnect, so an error about a
    crash can point at it); error messages name it instead of guessing.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        timeout: float = 30.0,
        *,
        backend: str | None = None,
        autostart: bool = False,
        start_command: Sequence[str] | None = None,
        start_timeout: float = 60.0,
        curve: CurveKeys | None = None,
    ) -> None:
        self.endpoint = endpoint or default_endpoint()
        parse_endpoint(self.endpoint)
        if backend not in (None, "zmq", "zmtp"):
            raise ValueError(f"backend must be 'zmq', 'zmtp' or None, got {backend!r}")
        if backend == "zmq" and not _pyzmq_available():
            raise BridgeError("backend='zmq' asked for, but pyzmq does not import in this Python")
        self.backend_name = backend or ("zmq" if _pyzmq_available() else "zmtp")
        self.timeout = float(timeout)
        self.autostart = autostart
        self.start_command = start_command
        self.start_timeout = start_timeout
        self.curve = curve
        self.server_info: dict[str, Any] | None = None
        self.daemon_log: str | None = None
        self.limits = Limits()  # replaced by the daemon's own at the handshake
        self._backend: _PyZmqBackend | _ZmtpBackend | None = None
        self._jobs: dict[str, Job] = {}
        self._internal: set[str] = set()  # ids of cancels and liveness probes, whose replies nobody waits for
        self._prefix = secrets.token_hex(4)
        self._counter = 0
        self._last_rx = time.monotonic()
        self._probe_sent = 0.0

    # --- public API -----------------------------------------------------------------------------------------------

    def connect(self) -> dict[str, Any]:
        """Connect and check the protocol version (done lazily by every call); returns the daemon's `info`.

        A connection found dropped here (the daemon restarted or crashed while this client was idle) is replaced by
        a fresh one before the next request goes out: that request was never sent, so it cannot run twice. Jobs that
        were in flight on the old connection fail with DaemonUnavailable; they are never resent.
        """
        if self._backend is not None and self.server_info is not None:
            self.pump(0.0)  # dispatches replies that arrived and notices a dropped connection
            if self._backend is not None:
                return self.server_info
        try:
            return self._handshake()
        except AccessDenied:
            raise  # a daemon is there: starting another one would not help
        except DaemonUnavailable:
            if not self.autostart:
                raise
        self._start_daemon()
        return self.server_info  # type: ignore[return-value]

    def ping(self) -> dict[str, Any]:
        """Round trip to the daemon; returns its `pong` result (protocol version, daemon version, time)."""
        return self.request("ping").result

    def info(self) -> dict[str, Any]:
        """Daemon version, protocol, device, models, ops, limits and queue state."""
        return self.request("info").result

    def request(
        self,
        op: str,
        params: Params | None = None,
        frames: Mapping[str, Frame] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Reply:
        """Send a request and block until its result; raises RequestFailed with the daemon's error code."""
        return self.submit(op, params, frames, on_progress).wait()

    def submit(
        self,
        op: str,
        params: Params | None = None,
        frames: Mapping[str, Frame] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Job:
        """Send a request and return at once. The frames' buffers are sent without copying: leave them unchanged
        until the job is done."""
        wire = _wire_params(op, params) if isinstance(params, OpParams) else params or {}
        self.connect()
        return self._submit(op, wire, frames or {}, on_progress)

    def pump(self, timeout: float = 0.0) -> None:
        """Dispatch every reply that has arrived (waiting up to `timeout` for the first). Jobs call this."""
        if self._backend is None:
            return
        try:
            message = self._backend.recv(timeout)
            while message is not None:
                self._dispatch(message)
                message = self._backend.recv(0.0)
        except _ConnectionLost as exc:
            self._lose_connection(exc)
            return
        self._check_liveness()

    def close(self) -> None:
        """Close the connection; pending jobs fail with DaemonUnavailable."""
        if self._backend is not None:
            self._fail_all(DaemonUnavailable("the client was closed"))
            self._backend.close()
            self._backend = None
            self.server_info = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------------------------

    def _log(self) -> str:
        """Where to look: the log the daemon named in its `info`; before any answer, the default location."""
        if self.daemon_log:
            return f"its log {self.daemon_log}"
        return f"its log ({default_log_path()} unless it was started with --log-file)"

    def _unavailable(self, why: str) -> DaemonUnavailable:
        return DaemonUnavailable(
            f"no chromaseg daemon answers at {self.endpoint} ({why}). Start it with `chromaseg serve` "
            f"(or create the Client with autostart=True), or set CHROMASEG_ENDPOINT to where it listens. "
            f"See {self._log()}."
        )

    def _connection_error(self, exc: _ConnectionLost) -> DaemonUnavailable:
        if isinstance(exc, _Refused):
            return AccessDenied(f"the chromaseg daemon at {self.endpoint} refused this client: {exc}")
        return self._unavailable(str(exc))

    def _open_backend(self) -> None:
        max_frame = Limits().max_message_bytes
        connect_timeout = min(self.timeout, 5.0)
        ep = parse_endpoint(self.endpoint)
        if ep.transport == "ipc" and not ep.abstract and not os.path.exists(ep.address):
            raise self._unavailable("its socket file does not exist")
        try:
            if self.backend_name == "zmq":
                self._backend = _PyZmqBackend(self.endpoint, max_frame, self.curve)
            else:
                self._backend = _ZmtpBackend(self.endpoint, max_frame, self.curve, connect_timeout)
        except _ConnectionLost as exc:
            raise self._connection_error(exc) from None
        self._last_rx = time.monotonic()

    def _handshake(self) -> dict[str, Any]:
        if self._backend is None:
            self._open_backend()
        try:
            reply = self._submit("info", {}, {}, None).wait()
        except RequestFailed as exc:
            self.close()
            if exc.code == ErrorCode.UNSUPPORTED_VERSION.value:
                raise ProtocolMismatch(
                    f"the daemon at {self.endpoint} does not speak protocol {PROTOCOL_VERSION}: {exc.message}"
                ) from None
            raise
        except (DaemonUnavailable, RequestTimeout):
            self.close()
            raise
        info = reply.result
        if info.get("protocol") != PROTOCOL_VERSION:
            self.close()
            raise ProtocolMismatch(
                f"the daemon speaks protocol {info.get('protocol')}, this plugin {PROTOCOL_VERSION}: "
                "install the same chromaseg release for both"
            )
        try:
            self.limits = Limits(**info.get("limits", {}))
        except TypeError:
            self.limits = Limits()
        self.server_info = info
        self.daemon_log = info.get("log") or None
        return info

    def _start_daemon(self) -> None:
        command = list(self.start_command or os.environ.get(ENV_START_COMMAND, "").split() or [])
        if not command:
            exe = shutil.which("chromaseg")
            if exe is None:
                raise self._unavailable("autostart found no `chromaseg` command on PATH; set CHROMASEG_SERVE_COMMAND")
            command = [exe, "serve", "--endpoint", self.endpoint]
        if "--log-file" in command[:-1]:  # until the daemon answers `info`, name the log it was told to write
            self.daemon_log = command[command.index("--log-file") + 1]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the daemon outlives the editor's process group
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self._handshake()
                return
            except AccessDenied:
                raise
            except DaemonUnavailable:
                code = proc.poll()
                if code is not None:
                    raise self._unavailable(f"the auto-started daemon exited with status {code}") from None
                if time.monotonic() > deadline:
                    raise self._unavailable(f"the auto-started daemon did not answer within {self.start_timeout} s")
                time.sleep(0.1)

    def _next_id(self) -> str:
        self._counter += 1
        return f"{self._prefix}-{self._counter}"

    def _submit(
        self,
        op: str,
        params: Mapping[str, Any],
        frames: Mapping[str, Frame],
        on_progress: Callable[[Progress], None] | None,
    ) -> Job:
        rid = self._next_id()
        header = encode_request(op, rid, params, frames)
        try:
            parse_request(header, self.limits)  # the daemon's own checks, before a byte is sent
        except ProtocolError as exc:
            raise RequestFailed(exc.code.value, exc.message, rid, op) from None
        self._send([header, *(f.data for f in frames.values())])
        job = Job(self, rid, op, on_progress)
        self._jobs[rid] = job
        return job

    def _send(self, parts: list[Any]) -> None:
        assert self._backend is not None
        try:
            self._backend.send(parts, min(self.timeout, 5.0) if self.server_info is None else self.timeout)
        except _ConnectionLost as exc:
            self._lose_connection(exc)
            raise self._connection_error(exc) from None
        except TimeoutError as exc:
            if self.server_info is None:
                self.close()
                raise self._unavailable(str(exc)) from None
            raise RequestTimeout(
                f"the daemon at {self.endpoint} did not take the request within {self.timeout} s; "
                f"it may be hung: see {self._log()} and restart it"
            ) from None

    def _send_cancel(self, target: str) -> None:
        rid = self._next_id()
        self._internal.add(rid)
        self._send([encode_request("cancel", rid, {"target": target}, {})])

    def _dispatch(self, message: list[Any]) -> None:
        self._last_rx = time.monotonic()
        self._probe_sent = 0.0
        try:
            head = parse_reply(message[0], self.limits)
        except ProtocolError as exc:
            raise ProtocolMismatch(f"the daemon sent a reply this client cannot read: {exc.message}") from None
        if head.id in self._internal:
            if head.kind != "progress":
                self._internal.discard(head.id)
            return
        job = self._jobs.get(head.id or "")
        if job is None:
            return  # a reply for a job this client already gave up on
        if head.kind == "progress":
            b = head.body
            job._progress(
                Progress(
                    str(b.get("stage", "")),
                    int(b.get("done", 0)),
                    int(b.get("total", 0)),
                    {k: v for k, v in b.items() if k not in ("stage", "done", "total")},
                )
            )
            return
        del self._jobs[job.id]
        if head.kind == "error":
            cls = RequestCancelled if head.body["code"] == ErrorCode.CANCELLED.value else RequestFailed
            job._error = cls(head.body["code"], head.body["message"], job.id, job.op)
            return
        parts = message[1:]
        try:
            check_frame_sizes(head.frames, [memoryview(p).nbytes for p in parts], head.id)
            frames = {d.name: Frame(data, d.dtype, d.shape) for d, data in zip(head.frames, parts)}
        except ValueError as exc:  # ProtocolError is a ValueError too
            job._error = ProtocolMismatch(f"the daemon sent a malformed reply: {exc}")
            return
        header = {"v": PROTOCOL_VERSION, "id": head.id, "op": head.op, "kind": head.kind, "result": head.body}
        job._reply = Reply(header, frames)

    def _check_liveness(self) -> None:
        """With jobs pending, probe a silent daemon with a ping; fail the jobs if it stays silent past `timeout`."""
        if not self._jobs:
            self._last_rx = time.monotonic()
            return
        silent = time.monotonic() - self._last_rx
        if silent > self.timeout:
            self._fail_all(
                RequestTimeout(
                    f"the daemon at {self.endpoint} has not answered for {self.timeout:g} s; it may have crashed "
                    f"or hung: see {self._log()} and restart it with `chromaseg serve`"
                )
            )
            return
        if silent > min(self.timeout / 3, 5.0) and not self._probe_sent:
            rid = self._next_id()
            self._internal.add(rid)
            self._probe_sent = time.monotonic()
            self._send([encode_request("ping", rid, {}, {})])

    def _lose_connection(self, exc: _ConnectionLost) -> None:
        err = self._connection_error(exc) if isinstance(exc, _Refused) else DaemonUnavailable(
            f"lost the connection to the daemon at {self.endpoint} ({exc}); it may have crashed: see "
            f"{self._log()}, then start it again with `chromaseg serve`"
        )
        self._fail_all(err)
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self.server_info = None

    def _fail_all(self, error: BridgeError) -> None:
        for job in self._jobs.values():
            job._error = error
        self._jobs.clear()
        self._internal.clear()
