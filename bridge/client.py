"""The chromaseg client: the one module editor plugins import (standard library only).

    from chromaseg.bridge.client import Client, Frame
    with Client() as c:
        reply = c.request("colorize", ColorizeParams(vibrancy=0.8), {"layer": Frame(pixels, "u8", (h, w, 4))})
        new_pixels = reply.frames["layer"].data  # a memoryview, no copy

Params are the op's typed request from `contract` (checked against its ranges as it is built) or a plain mapping
(checked by the daemon).

It talks to the daemon with pyzmq when the editor's Python has it, else with the pure-Python ZMTP client
(`transports.py`). `submit()` returns a `Job` (`jobs.py`) that a UI timer can `poll()` without ever blocking the
editor. A Client is not thread-safe: use one per thread. The errors (`errors.py`), jobs and transports live in their
own modules and are re-exported here, so `from chromaseg.bridge.client import ...` is the plugins' one import path.
"""
from __future__ import annotations

import secrets
import time
from typing import Any, Callable, Mapping, Sequence, Union

from chromaseg.bridge.contract import OPS, OpParams
from chromaseg.bridge.endpoint import default_endpoint, default_log_path, parse_endpoint
from chromaseg.bridge.errors import (AccessDenied, BridgeError, DaemonUnavailable, ProtocolMismatch, RequestCancelled,
                                     RequestFailed, RequestTimeout)
from chromaseg.bridge.jobs import Job, Progress, Reply
from chromaseg.bridge.launcher import LaunchError, launch, log_file_of, reachable, start_command
from chromaseg.bridge.protocol import (PROTOCOL_VERSION, ErrorCode, Frame, Limits, ProtocolError, encode_request,
                                       parse_reply, parse_request)
from chromaseg.bridge.transports import Backend, ConnectionLost, CurveKeys, Refused, open_backend, pyzmq_available

__all__ = ["AccessDenied", "BridgeError", "Client", "CurveKeys", "DaemonUnavailable", "Frame", "Job", "Params",
           "Progress", "ProtocolMismatch", "Reply", "RequestCancelled", "RequestFailed", "RequestTimeout"]

Params = Union[OpParams, Mapping[str, Any]]
HEARTBEAT = 1.0  # seconds of silence, with jobs pending, between probes of the endpoint: is the daemon still there?
PING_AFTER = 5.0  # seconds of silence, with jobs pending, before a ping (a third of the timeout when that is shorter)
CONNECT_TIMEOUT = 5.0  # seconds a fresh connection may take to accept the handshake


def _wire_params(op: str, params: OpParams) -> dict[str, Any]:
    """A typed request as the wire's params, once it is known to be this op's."""
    want = OPS[op].params if op in OPS else None
    if type(params) is not want:
        raise TypeError(f"op {op!r} takes {want.__name__ if want else 'no typed params'}, not {type(params).__name__}")
    return params.to_params()


class Client:
    """A connection to the chromaseg daemon.

    endpoint: `ipc://PATH`, `ipc://@NAME` (Linux), `tcp://127.0.0.1:PORT` or `tcp://[::1]:PORT`; default:
    CHROMASEG_ENDPOINT, else the user's private socket.
    timeout: seconds the daemon may stay silent (long jobs stream progress, so this is not a limit on job length).
    backend: "zmq", "zmtp" or None (pyzmq if it imports, else the pure-Python client).
    autostart: when nothing answers, run `start_command` through the launcher (default `chromaseg serve --endpoint
    ENDPOINT`, or the CHROMASEG_SERVE_COMMAND environment variable, split on spaces) and wait up to `start_timeout`
    for it. A daemon that dies later is noticed within about 2 s (a heartbeat ping, then a probe of the endpoint),
    started again the same way, and each request it was running is sent once more (never twice).
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
        if backend == "zmq" and not pyzmq_available():
            raise BridgeError("backend='zmq' asked for, but pyzmq does not import in this Python")
        self.backend_name = backend or ("zmq" if pyzmq_available() else "zmtp")
        self.timeout = float(timeout)
        self.autostart = autostart
        self.start_command = start_command
        self.start_timeout = start_timeout
        self.curve = curve
        self.server_info: dict[str, Any] | None = None
        self.daemon_log: str | None = None
        self.limits = Limits()  # replaced by the daemon's own at the handshake
        self._backend: Backend | None = None
        self._jobs: dict[str, Job] = {}
        self._internal: set[str] = set()  # ids of cancels and liveness probes, whose replies nobody waits for
        self._prefix = secrets.token_hex(4)
        self._counter = 0
        self._last_rx = time.monotonic()
        self._probe_sent = 0.0
        self._probed_endpoint = 0.0  # when the heartbeat last asked the OS whether anything still listens

    # --- public API -----------------------------------------------------------------------------------------------

    def connect(self) -> dict[str, Any]:
        """Connect and check the protocol version (done lazily by every call); returns the daemon's `info`.

        A connection found dropped here (the daemon restarted or crashed while this client was idle) is replaced by
        a fresh one before the next request goes out: that request was never sent, so it cannot run twice. Jobs that
        were in flight on the old connection fail with DaemonUnavailable; with autostart, each is instead sent once
        more to the daemon started again (a daemon that died never answered it).
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
        try:
            return self._submit(op, wire, frames or {}, on_progress, retry=self.autostart)
        except AccessDenied:
            raise
        except DaemonUnavailable:  # the daemon died just before this request went out: start it, send it once more
            if not self.autostart:
                raise
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
            self._check_liveness()
        except ConnectionLost as exc:
            self._lose_connection(exc)

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

    def _connection_error(self, exc: ConnectionLost) -> DaemonUnavailable:
        if isinstance(exc, Refused):
            return AccessDenied(f"the chromaseg daemon at {self.endpoint} refused this client: {exc}")
        return self._unavailable(str(exc))

    def _open_backend(self) -> None:
        if not reachable(self.endpoint):  # at once, instead of a transport waiting for a connection that never comes
            raise self._unavailable("nothing listens there")
        try:
            self._backend = open_backend(self.backend_name, self.endpoint, Limits().max_message_bytes, self.curve,
                                         min(self.timeout, CONNECT_TIMEOUT))
        except ConnectionLost as exc:
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
        """Start the daemon through the launcher and wait (up to `start_timeout`) until it answers `info`."""
        try:
            command = start_command(self.start_command, self.endpoint)
            proc = launch(command)
        except LaunchError as exc:
            raise self._unavailable(f"autostart: {exc}") from None
        self.daemon_log = log_file_of(command) or self.daemon_log  # until the daemon answers `info`
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
        retry: bool = False,
    ) -> Job:
        """Send a request; with `retry`, the job keeps it to send once more should the daemon die before answering."""
        job = Job(self, self._next_id(), op, on_progress)
        header = encode_request(op, job.id, params, frames)
        try:
            parse_request(header, self.limits)  # the daemon's own checks, before a byte is sent
        except ProtocolError as exc:
            raise RequestFailed(exc.code.value, exc.message, job.id, op) from None
        parts = [header, *(f.data for f in frames.values())]
        self._send(parts)
        job._resend = parts if retry else None
        self._jobs[job.id] = job
        return job

    def _send(self, parts: list[Any]) -> None:
        assert self._backend is not None
        try:
            self._backend.send(parts, min(self.timeout, 5.0) if self.server_info is None else self.timeout)
        except ConnectionLost as exc:
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
        job = self._jobs.get(head.id or "")  # None: a reply for a job this client already gave up on
        if job is not None and job._take(head, message[1:]):
            del self._jobs[job.id]

    def _check_liveness(self) -> None:
        """With jobs pending, the heartbeat: once a second of silence, ask the OS whether anything still listens at
        the endpoint (ConnectionLost when nothing does: the daemon died), so a death the connection did not report is
        known within about 2 s; after a third of `timeout` (at most 5 s), a ping. A daemon that listens but stays
        silent past `timeout` is hung: its jobs fail."""
        if not self._jobs:
            self._last_rx = time.monotonic()
            return
        now = time.monotonic()
        silent = now - self._last_rx
        if silent > HEARTBEAT and now - self._probed_endpoint > HEARTBEAT:
            self._probed_endpoint = now
            if not reachable(self.endpoint):
                raise ConnectionLost("nothing listens at its endpoint any more")
        if silent > self.timeout:
            self._fail_all(RequestTimeout(
                f"the daemon at {self.endpoint} has not answered for {self.timeout:g} s; it may have crashed "
                f"or hung: see {self._log()} and restart it with `chromaseg serve`"))
            return
        if silent > min(self.timeout / 3, PING_AFTER) and not self._probe_sent:
            rid = self._next_id()
            self._internal.add(rid)
            self._probe_sent = time.monotonic()
            try:
                self._send([encode_request("ping", rid, {}, {})])
            except DaemonUnavailable:
                pass  # the connection was lost: its jobs have been failed or sent once more already

    def _lose_connection(self, exc: ConnectionLost) -> None:
        """Close the dead connection. Jobs in flight fail, except, with autostart, those that may be sent once more:
        the daemon is started again and they are resent (a daemon that died cannot have answered them)."""
        err = self._connection_error(exc) if isinstance(exc, Refused) else DaemonUnavailable(
            f"lost the connection to the daemon at {self.endpoint} ({exc}); it may have crashed: see "
            f"{self._log()}, then start it again with `chromaseg serve`"
        )
        retry = [] if isinstance(exc, Refused) else [job for job in self._jobs.values() if job._resend is not None]
        for job in retry:
            del self._jobs[job.id]
        self._fail_all(err)
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self.server_info = None
        if retry:
            self._resend(retry, err)

    def _resend(self, jobs: list[Job], err: DaemonUnavailable) -> None:
        """Start the daemon again (autostart) and send each job once more; when that fails, they fail with `err`."""
        try:
            self.connect()
            for job in jobs:
                parts, job._resend = job._resend or [], None
                job.progress = None
                self._send(parts)
                self._jobs[job.id] = job
        except BridgeError:
            for job in jobs:
                if job.id not in self._jobs:
                    job._error = err

    def _fail_all(self, error: BridgeError) -> None:
        for job in self._jobs.values():
            job._error = error
        self._jobs.clear()
        self._internal.clear()
