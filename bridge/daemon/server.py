"""The daemon's socket loop: one thread owns the ROUTER socket, validates every message before anything is allocated
for it, answers the cheap ops itself (ping, info, echo, cancel) and hands the long ones to the worker.

Replies from the worker come back through a thread-safe queue plus a socketpair that wakes the poller, so the
ROUTER is only ever touched by this thread and a model never blocks it. What a job may take is `admission`'s call,
how a reply leaves is `sending`'s, and what a request must look like is `validation`'s.
"""
from __future__ import annotations

import functools
import logging
import os
import queue
import socket
import time
from typing import Any

import zmq

from chromaseg.bridge.contract import OPS
from chromaseg.bridge.daemon import handlers, validation
from chromaseg.bridge.daemon.admission import Admission
from chromaseg.bridge.daemon.config import (ConfigError, ServerConfig, check_config, package_version,
                                            setup_curve)
from chromaseg.bridge.daemon.models import Models
from chromaseg.bridge.daemon.sending import Sender, encode_result, size
from chromaseg.bridge.daemon.worker import WorkItem, Worker
from chromaseg.bridge.endpoint import EndpointError, abstract_bind_guard, parse_endpoint, prepare_ipc, remove_ipc_socket
from chromaseg.bridge.protocol import (
    DTYPES,
    PROTOCOL_VERSION,
    ErrorCode,
    ProtocolError,
    Request,
    encode_error,
    encode_reply,
    parse_request,
)

__all__ = ["ConfigError", "Server", "ServerConfig", "check_config"]

log = logging.getLogger(__name__)

# Whole messages libzmq holds per connection besides the one being received or written. Incoming ones are outside the
# daemon's accounting (each may be full-size, and every connection has its own): 2 (libzmq 4.3.5 stalls CURVE
# handshakes at 1). Outgoing large ones are tracked against the budget; 16 lets a reading client's progress through.
_RCVHWM = 2
_SNDHWM = 16
# Kernel socket buffers small enough that libzmq's one I/O thread moves little per connection per turn, so a flood
# cannot hold up a ping.
_SOCKET_BUFFER = 256 << 10
_BATCH = 64  # requests read per wake-up before replies are flushed again
_FAREWELL = 1.0  # seconds the socket stays open at shutdown after the last final replies went out


class Server:
    """Bind, serve until `stop()`, shut down gracefully."""

    def __init__(self, config: ServerConfig) -> None:
        check_config(config)
        self.config = config
        self.limits = config.limits
        self.budget = config.budget
        self.models = Models(config.colorizer)
        self._outgoing: queue.SimpleQueue[tuple[WorkItem, str, dict[str, Any], list[tuple[str, Any]]]] = (
            queue.SimpleQueue()
        )
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.worker = Worker(self._emit, warmup=self.models.load)
        self._stopping = False
        self._stats = {"requests": 0, "rejected": 0, "internal": 0, "dropped_replies": 0}  # internal: bugs answered
        self._requests_by_op: dict[str, int] = {}  # well-formed requests read, per op
        self._ctx = zmq.Context()
        self._auth: Any = None
        self._ipc_path: str | None = None
        self.bound_endpoint = ""
        self._router = self._bind()
        self.sender = Sender(self._router, self.budget, self._peer_gone, self._stats)
        self.admission = Admission(self.limits, self.budget, lambda: {
            "unread_bytes": self.sender.unread_bytes(), "sending_bytes": self.sender.sending_bytes()})

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
            self._auth = setup_curve(self._ctx, self.config, sock)
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
        events = dict(poller.poll(10 if self.sender.backlog else 1000))
        if self._wake_r.fileno() in events:
            self._drain_wakeups()
        self._flush_worker_replies()
        if self._router in events:
            for _ in range(_BATCH):
                if not self._read_request():
                    break
        self.sender.retry()

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
        self.sender.drain(deadline=time.monotonic() + self.config.grace)
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
        params = validation.validate(req)
        if OPS[req.op].job:
            self._enqueue(identity, req, params, frames)
        else:
            _ANSWERS[req.op](self, identity, req, params, frames)

    def _answer_ping(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        body = {"pong": True, "protocol": PROTOCOL_VERSION, "version": package_version(), "time": time.time()}
        self._send(identity, [encode_reply("result", req.id, req.op, body)], final=True)

    def _answer_info(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        self._send(identity, [encode_reply("result", req.id, req.op, self._info())], final=True)

    def _answer_echo(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        self.admission.check_budget(req, size(frames))  # the reply holds these very buffers until the client takes it
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
        why = self.models.unavailable(OPS[req.op].needs, params)
        if why is not None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, why, req.id)
        self.admission.admit(identity, req, size(frames))
        arrays = {d.name: validation.as_array(f.buffer, d) for d, f in zip(req.frames, frames)}
        item = WorkItem(
            key=(identity, req.id),
            op=req.op,
            priority=validation.priority(req.op, params, req.frames),
            run=functools.partial(handlers.run_job, req.op, self.models, params, arrays),
        )
        position = self.worker.submit(item)
        body = {"stage": "queued", "done": 0, "total": 0, "position": position}
        self._send(identity, [encode_reply("progress", req.id, req.op, body)], final=False)

    def _info(self) -> dict[str, Any]:
        running = self.worker.running
        return {
            "server": "chromaseg",
            "version": package_version(),
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "endpoint": self.bound_endpoint,
            "curve": self.config.curve,
            "log": str(self.config.log_file) if self.config.log_file else None,
            "device": self.models.device,
            "models": dict(self.models.status),
            "colorizer": self.models.colorizer_info(),
            "colorizers": self.models.colorizers,
            "segmenter": self.models.segmenter_info(),
            "ops": list(OPS),
            "dtypes": list(DTYPES),
            "limits": self.limits.to_dict(),
            "jobs": {"queued": self.worker.queued, "running": running.op if running else None},
            "clients_with_jobs": self.admission.clients_with_jobs,
            "memory": self.admission.memory(),
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
                parts = encode_result(kind, rid, item.op, body, frames)
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
                self.admission.finish(identity, rid)
            self._send(identity, parts, final)

    def _send(self, identity: bytes, parts: list[Any], final: bool) -> None:
        self.sender.send(identity, parts, final)

    def _peer_gone(self, identity: bytes) -> None:
        """The editor disconnected: its queued and running jobs are of no use to anyone any more."""
        if self.admission.has_jobs(identity):
            states = self.worker.cancel(lambda item: item.key[0] == identity)
            if states:
                log.info("client %s went away; cancelled %d job(s)", identity.hex(), len(states))


# The ops the socket loop answers itself (every op the contract does not mark as a job; handlers.HANDLERS runs the
# jobs).
_ANSWERS = {"ping": Server._answer_ping, "info": Server._answer_info, "echo": Server._answer_echo,
            "cancel": Server._answer_cancel}
