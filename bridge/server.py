"""The daemon's socket loop: one thread owns the ROUTER socket, validates every message before anything is allocated
for it, answers the cheap ops itself (ping, info, echo, cancel) and hands the long ones to the worker.

Replies from the worker come back through a thread-safe queue plus a socketpair that wakes the poller, so the
ROUTER is only ever touched by this thread and a model never blocks it.
"""
from __future__ import annotations

import errno
import functools
import logging
import os
import queue
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from chromaseg.bridge import ops
from chromaseg.bridge.contract import OPS
from chromaseg.bridge.endpoint import (EndpointError, abstract_bind_guard, parse_endpoint, prepare_ipc,
                                       remove_ipc_socket)
from chromaseg.bridge.protocol import (
    DTYPES,
    Budget,
    PROTOCOL_VERSION,
    ErrorCode,
    Limits,
    ProtocolError,
    Request,
    encode_error,
    encode_reply,
    parse_request,
)
from chromaseg.bridge.worker import WorkItem, Worker

log = logging.getLogger("chromaseg.bridge.server")

# Whole messages libzmq holds per connection besides the one being received or written. Incoming ones are outside the
# daemon's accounting (each may be full-size, and every connection has its own): 2 (libzmq 4.3.5 stalls CURVE
# handshakes at 1). Outgoing large ones are tracked against the budget; 16 lets a reading client's progress through.
_RCVHWM = 2
_SNDHWM = 16
# Kernel socket buffers small enough that libzmq's one I/O thread moves little per connection per turn, so a flood
# cannot hold up a ping.
_SOCKET_BUFFER = 256 << 10
_OUTBOX_MAX = 256  # replies kept per peer while its pipe is full (results and errors only; progress is dropped)
_TRACKED = 1 << 20  # replies of at least this many bytes count against the budget until libzmq has written them
_BATCH = 64  # requests read per wake-up before replies are flushed again
_FAREWELL = 1.0  # seconds the socket stays open at shutdown after the last final replies went out


class ConfigError(Exception):
    """The daemon cannot start with this configuration; the message says how to fix it."""


@dataclass
class _Outbox:
    """Final replies a peer has not taken yet (its libzmq pipe is full), and their size in bytes."""

    replies: deque[list[Any]] = field(default_factory=deque)
    nbytes: int = 0

    def push(self, parts: list[Any]) -> None:
        self.replies.append(parts)
        self.nbytes += _size(parts)

    def pop(self) -> None:
        self.nbytes -= _size(self.replies.popleft())


@dataclass
class ServerConfig:
    endpoint: str
    limits: Limits = field(default_factory=Limits)
    budget: Budget = field(default_factory=Budget)
    colorizer: str | None = None  # checkpoint path; None: the shipped weights
    curve_secret: Path | None = None  # the daemon's certificate (with its secret key), studio mode
    curve_clients: Path | None = None  # directory of the certificates of the artists allowed in
    ready_file: Path | None = None  # written with the bound endpoint once the daemon accepts requests
    grace: float = 5.0  # seconds a running job gets to stop at shutdown
    log_file: Path | None = None  # where `chromaseg serve` logs; in `info`, so clients name the right file

    @property
    def curve(self) -> bool:
        return self.curve_secret is not None or self.curve_clients is not None


def check_config(config: ServerConfig) -> None:
    """Refuse what would expose the daemon: non-loopback without CURVE, half-configured CURVE."""
    try:
        ep = parse_endpoint(config.endpoint)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if config.curve and (config.curve_secret is None or config.curve_clients is None):
        raise ConfigError("studio mode needs both --curve-secret (the daemon's certificate) and --curve-clients")
    if not ep.is_loopback and not config.curve:
        raise ConfigError(
            f"refusing to listen on {config.endpoint}: it is reachable from other machines and anyone there could "
            "send jobs. Use the default IPC socket or tcp://127.0.0.1, or set up studio mode with "
            "--curve-secret and --curve-clients (see docs/protocol.md)."
        )
    if config.curve and not zmq.has("curve"):
        raise ConfigError("this libzmq was built without CURVE support; studio mode is unavailable")


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("chromaseg")
    except Exception:
        return "0+unknown"


class Server:
    """Bind, serve until `stop()`, shut down gracefully."""

    def __init__(self, config: ServerConfig) -> None:
        check_config(config)
        self.config = config
        self.limits = config.limits
        self.budget = config.budget
        self.models = ops.Models(config.colorizer)
        self._outgoing: queue.SimpleQueue[tuple[WorkItem, str, dict[str, Any], list[tuple[str, Any]]]] = (
            queue.SimpleQueue()
        )
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.worker = Worker(self._emit, warmup=self.models.load)
        self._pending: dict[bytes, set[str]] = {}  # request ids queued or running, per peer
        self._job_bytes: dict[tuple[bytes, str], int] = {}  # request bytes each queued or running job holds
        self._outbox: dict[bytes, _Outbox] = {}
        self._sending: list[tuple[zmq.MessageTracker, int]] = []  # large replies libzmq has not written yet, and size
        self._stopping = False
        self._stats = {"requests": 0, "rejected": 0, "internal": 0, "dropped_replies": 0}  # internal: bugs answered
        self._requests_by_op: dict[str, int] = {}  # well-formed requests read, per op
        self._ctx = zmq.Context()
        self._auth: Any = None
        self._ipc_path: str | None = None
        self.bound_endpoint = ""
        self._router = self._bind()

    # --- setup ----------------------------------------------------------------------------------------------------

    def _bind(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unreachable peer raises instead of losing replies silently
        sock.setsockopt(zmq.MAXMSGSIZE, self.limits.max_message_bytes)  # libzmq drops a peer sending a larger part
        sock.setsockopt(zmq.RCVHWM, _RCVHWM)
        sock.setsockopt(zmq.SNDHWM, _SNDHWM)
        sock.setsockopt(zmq.RCVBUF, _SOCKET_BUFFER)
        sock.setsockopt(zmq.SNDBUF, _SOCKET_BUFFER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 10_000)  # notice editors that vanished without closing the connection
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 60_000)
        if self.config.curve:
            self._setup_curve(sock)
        ep = parse_endpoint(self.config.endpoint)
        try:
            if ep.transport == "ipc":
                prepare_ipc(ep.address)  # removes only a stale socket file; refuses anything else at the path
                with abstract_bind_guard(ep):
                    sock.bind(ep.url)
                if not ep.abstract:  # an abstract name has no file to protect or remove
                    os.chmod(ep.address, 0o600)
                    self._ipc_path = ep.address
            else:
                sock.setsockopt(zmq.IPV6, ep.ipv6)  # libzmq binds an IPv6 literal such as [::1] only with it
                sock.bind(ep.url.rsplit(":", 1)[0] + ":*" if ep.port == 0 else ep.url)
        except EndpointError as exc:
            sock.close(linger=0)
            raise ConfigError(str(exc)) from None
        except (zmq.ZMQError, OSError) as exc:
            sock.close(linger=0)
            raise ConfigError(f"cannot listen on {self.config.endpoint}: {exc}") from None
        self.bound_endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return sock

    def _setup_curve(self, sock: zmq.Socket) -> None:
        from zmq.auth import load_certificate
        from zmq.auth.thread import ThreadAuthenticator

        assert self.config.curve_secret is not None and self.config.curve_clients is not None
        try:
            public, secret = load_certificate(self.config.curve_secret)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the daemon certificate {self.config.curve_secret}: {exc}") from None
        if secret is None:
            raise ConfigError(f"{self.config.curve_secret} has no secret key: pass the .key_secret certificate")
        if not self.config.curve_clients.is_dir():
            raise ConfigError(f"--curve-clients {self.config.curve_clients} is not a directory of certificates")
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(self.config.curve_clients))
        sock.curve_server = True
        sock.curve_publickey = public
        sock.curve_secretkey = secret

    # --- the loop -------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to shut down; safe from a signal handler or another thread."""
        self._stopping = True
        try:
            self._wake_w.send(b"s")
        except OSError:
            pass

    def serve_forever(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._wake_r.fileno(), zmq.POLLIN)
        self.worker.start()
        self._write_ready_file()
        log.info("serving on %s (pid %d, limits %s, budget %s)", self.bound_endpoint, os.getpid(),
                 self.limits.to_dict(), self.budget.to_dict())
        try:
            while not self._stopping:
                try:
                    self._serve_once(poller)
                except Exception:  # a bug: it must not end the daemon that every open editor relies on
                    log.exception("socket loop error; serving on")
        finally:
            self._shutdown()

    def _serve_once(self, poller: zmq.Poller) -> None:
        events = dict(poller.poll(10 if self._outbox else 1000))
        if self._wake_r.fileno() in events:
            self._drain_wakeups()
        self._flush_worker_replies()
        if self._router in events:
            for _ in range(_BATCH):
                if not self._read_request():
                    break
        self._retry_outbox()

    def _write_ready_file(self) -> None:
        if self.config.ready_file is None:
            return
        tmp = self.config.ready_file.with_suffix(".tmp")
        tmp.write_text(self.bound_endpoint)
        tmp.replace(self.config.ready_file)

    def _shutdown(self) -> None:
        log.info("shutting down")
        if not self.worker.stop(self.config.grace):
            log.warning("the running job did not stop within %.1f s; leaving it", self.config.grace)
            self.worker.abandon_running(ErrorCode.SHUTTING_DOWN)
        sent = self._flush_worker_replies()
        self._drain_outbox(deadline=time.monotonic() + self.config.grace)
        if sent:
            # A client drops what it has not read yet when the connection closes (ZMQ_IMMEDIATE pipes die with the
            # connection): keep it open a moment so clients waiting on these final answers can take them.
            time.sleep(_FAREWELL)
        self._router.close(linger=1000)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()
        if self._ipc_path:
            remove_ipc_socket(self._ipc_path)
        self._wake_r.close()
        self._wake_w.close()
        log.info("stopped")

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    # --- receiving ------------------------------------------------------------------------------------------------

    def _read_request(self) -> bool:
        """Read and answer one message; False when none is waiting. Whatever goes wrong, the rest of the message is
        discarded, the client gets an answer (`internal` for a bug, logged with its traceback) and the loop goes on."""
        try:
            identity = self._router.recv(zmq.NOBLOCK)
        except zmq.Again:
            return False
        req: Request | None = None
        try:
            head = self._router.recv(copy=False)
            req = parse_request(head.buffer, self.limits)
            frames = self._read_frames(req)
            self._stats["requests"] += 1
            self._requests_by_op[req.op] = self._requests_by_op.get(req.op, 0) + 1
            self._dispatch(identity, req, frames)
        except ProtocolError as exc:
            self._discard_rest()
            self._reject(identity, exc, req.op if req else None)
        except Exception as exc:
            log.exception("socket loop: %s %s failed", req.op if req else "request", req.id if req else "(unparsed)")
            self._discard_rest()
            bug = ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}", req.id if req else None)
            self._reject(identity, bug, req.op if req else None)
        return True

    def _read_frames(self, req: Request) -> list[zmq.Frame]:
        """The frames the header declared, each checked against its descriptor as it arrives; on a mismatch
        ProtocolError says what was wrong (the caller discards the rest: a bad message is never held)."""
        frames: list[zmq.Frame] = []
        for d in req.frames:
            if not self._router.get(zmq.RCVMORE):
                raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                    f"header declares {len(req.frames)} frame(s) but the message carries {len(frames)}",
                                    req.id)
            part = self._router.recv(copy=False)
            if len(part) != d.nbytes:
                raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                    f"frame {d.name!r} ({d.dtype} {list(d.shape)}) must have {d.nbytes} bytes, "
                                    f"got {len(part)}", req.id)
            frames.append(part)
        extra = self._discard_rest()
        if extra:
            raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                f"header declares {len(req.frames)} frame(s) but {extra} more follow", req.id)
        return frames

    def _discard_rest(self) -> int:
        """Discard what is left of the message being read, part by part (never holding it); returns how many."""
        n = 0
        while self._router.get(zmq.RCVMORE):
            self._router.recv(copy=False)
            n += 1
        return n

    def _reject(self, identity: bytes, exc: ProtocolError, op: str | None) -> None:
        self._stats["rejected"] += 1
        if exc.code is ErrorCode.INTERNAL:
            self._count_internal(op, exc.request_id)
        n = self._stats["rejected"]
        if n <= 20 or n % 1000 == 0:
            log.warning("rejected message #%d (%s): %s", n, exc.code.value, exc.message)
        self._send(identity, [encode_error(exc.code, exc.message, exc.request_id, op)], final=True)

    def _count_internal(self, op: str | None, rid: str | None) -> None:
        """Every `internal` answer is a bug: counted in info's stats and named in the log (the tests look for it)."""
        self._stats["internal"] += 1
        log.error("answered internal (a bug, see the traceback above) to %s %s", op, rid)

    # --- answering ------------------------------------------------------------------------------------------------

    def _dispatch(self, identity: bytes, req: Request, frames: list[zmq.Frame]) -> None:
        """A job goes to the worker; the other ops are answered here, at once (the contract says which is which)."""
        params = ops.validate(req)
        if OPS[req.op].job:
            self._enqueue(identity, req, params, frames)
        else:
            _ANSWERS[req.op](self, identity, req, params, frames)

    def _answer_ping(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        body = {"pong": True, "protocol": PROTOCOL_VERSION, "version": _package_version(), "time": time.time()}
        self._send(identity, [encode_reply("result", req.id, req.op, body)], final=True)

    def _answer_info(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        self._send(identity, [encode_reply("result", req.id, req.op, self._info())], final=True)

    def _answer_echo(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        self._check_budget(req, frames)  # the reply holds these very buffers until the client takes it
        descriptors = [{"name": d.name, "dtype": d.dtype, "shape": list(d.shape)} for d in req.frames]
        body = {"frames": len(frames), "bytes": sum(len(f) for f in frames)}
        header = encode_reply("result", req.id, req.op, body, descriptors)
        self._send(identity, [header, *(f.buffer for f in frames)], final=True)  # the received buffers, uncopied

    def _answer_cancel(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        target = params["target"]
        states = self.worker.cancel(lambda item: item.key == (identity, target))
        body = {"target": target, "state": states[0] if states else "unknown"}
        self._send(identity, [encode_reply("result", req.id, req.op, body)], final=True)

    def _enqueue(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        if self._stopping:
            raise ProtocolError(ErrorCode.SHUTTING_DOWN, "the daemon is shutting down", req.id)
        why = self.models.unavailable(OPS[req.op].needs)
        if why is not None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, why, req.id)
        pending = self._pending.setdefault(identity, set())
        if req.id in pending:
            raise ProtocolError(ErrorCode.DUPLICATE_ID, f"request id {req.id!r} is already queued or running", req.id)
        if len(pending) >= self.limits.max_queue:
            raise ProtocolError(
                ErrorCode.QUEUE_FULL,
                f"this client already has {len(pending)} jobs queued or running (limit {self.limits.max_queue})",
                req.id,
            )
        self._check_budget(req, frames)
        arrays = {d.name: ops.as_array(f.buffer, d) for d, f in zip(req.frames, frames)}
        item = WorkItem(
            key=(identity, req.id),
            op=req.op,
            priority=ops.priority(req.op, params, req.frames),
            run=functools.partial(ops.run_job, req.op, self.models, params, arrays),
        )
        pending.add(req.id)
        self._job_bytes[item.key] = _size(frames)
        position = self.worker.submit(item)
        body = {"stage": "queued", "done": 0, "total": 0, "position": position}
        self._send(identity, [encode_reply("progress", req.id, req.op, body)], final=False)

    def _check_budget(self, req: Request, frames: list[zmq.Frame]) -> None:
        """Refuse (`queue_full`) a request that would take the daemon past its memory budget. One request is always
        admitted when nothing is held, so no request is refused forever."""
        held, need = self._held_bytes(), _size(frames)
        if held and held + need > self.budget.max_held_bytes:
            raise ProtocolError(
                ErrorCode.QUEUE_FULL,
                f"the daemon is busy: it holds {held} bytes of queued requests and unread replies, and this "
                f"request's {need} would pass its memory budget of {self.budget.max_held_bytes} "
                "(--memory-budget); try again when jobs finish",
                req.id,
            )

    def _held_bytes(self) -> int:
        """Bytes held for clients: requests queued or running, replies waiting in outboxes or being written."""
        return self._queued_bytes() + self._unread_bytes() + self._sending_bytes()

    def _queued_bytes(self) -> int:
        return sum(self._job_bytes.values())

    def _unread_bytes(self) -> int:
        return sum(box.nbytes for box in self._outbox.values())

    def _sending_bytes(self) -> int:
        self._sending = [(tracker, n) for tracker, n in self._sending if not tracker.done]
        return sum(n for _, n in self._sending)

    def _memory(self) -> dict[str, int]:
        """For `info`: the budget and what is held against it now."""
        return {**self.budget.to_dict(), "queued_bytes": self._queued_bytes(), "unread_bytes": self._unread_bytes(),
                "sending_bytes": self._sending_bytes()}

    def _info(self) -> dict[str, Any]:
        running = self.worker.running
        return {
            "server": "chromaseg",
            "version": _package_version(),
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "endpoint": self.bound_endpoint,
            "curve": self.config.curve,
            "log": str(self.config.log_file) if self.config.log_file else None,
            "device": self.models.device,
            "models": dict(self.models.status),
            "colorizer": self.models.colorizer_info(),
            "segmenter": self.models.segmenter_info(),
            "ops": list(OPS),
            "dtypes": list(DTYPES),
            "limits": self.limits.to_dict(),
            "jobs": {"queued": self.worker.queued, "running": running.op if running else None},
            "clients_with_jobs": len(self._pending),
            "memory": self._memory(),
            "stats": {**self._stats, "by_op": dict(self._requests_by_op)},
        }

    # --- sending --------------------------------------------------------------------------------------------------

    def _emit(self, item: WorkItem, kind: str, body: dict[str, Any], frames: list[tuple[str, Any]]) -> None:
        """Called by the worker thread (and by cancel, in this one): queue a reply and wake the loop."""
        self._outgoing.put((item, kind, body, frames))
        try:
            self._wake_w.send(b"w")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    def _flush_worker_replies(self) -> int:
        """Send what the worker produced; returns how many final replies (results, errors) went out."""
        finals = 0
        while True:
            try:
                item, kind, body, frames = self._outgoing.get_nowait()
            except queue.Empty:
                return finals
            identity, rid = item.key
            final = kind != "progress"
            try:
                parts = self._encode_worker_reply(item, kind, body, frames)
            except Exception as exc:  # a handler returned what the wire cannot carry: a bug, answered as one
                log.exception("%s %s: cannot encode its %s", item.op, rid, kind)
                if not final:
                    continue
                kind, body = "error", {"code": ErrorCode.INTERNAL.value, "message": f"{type(exc).__name__}: {exc}"}
                parts = [encode_reply(kind, rid, item.op, body)]
            if final:
                finals += 1
                if kind == "error" and body.get("code") == ErrorCode.INTERNAL.value:
                    self._count_internal(item.op, rid)
                self._job_bytes.pop(item.key, None)
                pending = self._pending.get(identity)
                if pending is not None:
                    pending.discard(rid)
                    if not pending:
                        del self._pending[identity]
            self._send(identity, parts, final)

    @staticmethod
    def _encode_worker_reply(item: WorkItem, kind: str, body: dict[str, Any],
                             frames: list[tuple[str, Any]]) -> list[Any]:
        arrays = [np.ascontiguousarray(a) for _, a in frames]
        descriptors = [{"name": name, "dtype": _wire_dtype(a), "shape": list(a.shape)}
                       for (name, _), a in zip(frames, arrays)]
        header = encode_reply(kind, item.key[1], item.op, body, descriptors)
        return [header, *(memoryview(a).cast("B") for a in arrays)]

    def _send(self, identity: bytes, parts: list[Any], final: bool) -> None:
        """Send without ever blocking: a full peer pipe keeps results in a bounded outbox and drops progress."""
        if identity not in self._outbox and self._try_transmit(identity, parts) is not False:
            return
        if final:
            self._queue_out(identity, parts)

    def _try_transmit(self, identity: bytes, parts: list[Any]) -> bool | None:
        """True: handed to libzmq; False: the peer's pipe is full (keep it); None: the peer is gone (forgotten)."""
        try:
            self._transmit(identity, parts)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            if exc.errno != errno.EHOSTUNREACH:
                raise
            self._peer_gone(identity)
            return None

    def _transmit(self, identity: bytes, parts: list[Any]) -> None:
        """Hand a reply to libzmq without blocking or copying (zmq.Again: the peer's pipe is full). A large one is
        tracked: libzmq holds its buffers until it has written them, and the budget must know."""
        size = _size(parts)
        tracker = self._router.send_multipart([identity, *parts], flags=zmq.NOBLOCK, copy=False,
                                              track=size >= _TRACKED)
        if size >= _TRACKED:
            self._sending.append((tracker, size))

    def _queue_out(self, identity: bytes, parts: list[Any]) -> None:
        box = self._outbox.setdefault(identity, _Outbox())
        if box.nbytes >= self.budget.max_unread_bytes or len(box.replies) >= _OUTBOX_MAX:
            self._drop_reply(identity, box, parts)
        else:
            box.push(parts)

    def _drop_reply(self, identity: bytes, box: _Outbox, parts: list[Any]) -> None:
        """The client does not read its replies: keeping more would let it grow the daemon without bound."""
        self._stats["dropped_replies"] += 1
        n = self._stats["dropped_replies"]
        if n <= 20 or n % 1000 == 0:
            log.warning("client %s does not read its replies (%d waiting, %d bytes; limits %d, %d bytes): "
                        "dropped reply #%d (%d bytes)", identity.hex(), len(box.replies), box.nbytes, _OUTBOX_MAX,
                        self.budget.max_unread_bytes, n, _size(parts))

    def _retry_outbox(self) -> None:
        for identity in list(self._outbox):
            box = self._outbox[identity]
            while box.replies:
                sent = self._try_transmit(identity, box.replies[0])
                if not sent:
                    break
                box.pop()
            if not box.replies:
                self._outbox.pop(identity, None)

    def _drain_outbox(self, deadline: float) -> None:
        """At shutdown every request still gets its final answer: wait (bounded) for slow peers to take their replies."""
        while self._outbox and time.monotonic() < deadline:
            self._retry_outbox()
            if self._outbox:
                time.sleep(0.01)

    def _peer_gone(self, identity: bytes) -> None:
        """The editor disconnected: its queued and running jobs are of no use to anyone any more."""
        self._outbox.pop(identity, None)
        if identity in self._pending:
            states = self.worker.cancel(lambda item: item.key[0] == identity)
            if states:
                log.info("client %s went away; cancelled %d job(s)", identity.hex(), len(states))


# The ops the socket loop answers itself (every op the contract does not mark as a job; ops.HANDLERS runs the jobs).
_ANSWERS = {"ping": Server._answer_ping, "info": Server._answer_info, "echo": Server._answer_echo,
            "cancel": Server._answer_cancel}


def _size(parts: list[Any]) -> int:
    """Bytes of a message's parts (bytes, zmq frames, byte memoryviews)."""
    return sum(len(p) for p in parts)


def _wire_dtype(array: np.ndarray) -> str:
    for name, (_, numpy_str) in DTYPES.items():
        if array.dtype.str == numpy_str:
            return name
    raise TypeError(f"a handler returned dtype {array.dtype}, which has no wire form")
