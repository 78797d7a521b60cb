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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from chromaseg.bridge import ops
from chromaseg.bridge.endpoint import parse_endpoint
from chromaseg.bridge.protocol import (
    DTYPES,
    OPS,
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

_HWM = 16  # messages per peer queued in libzmq, each way: a slow or hostile peer gets back-pressure, not memory
_OUTBOX_MAX = 256  # replies kept per peer while its pipe is full (results and errors only; progress is dropped)
_BATCH = 64  # requests read per wake-up before replies are flushed again
_FAREWELL = 1.0  # seconds the socket stays open at shutdown after the last final replies went out


class ConfigError(Exception):
    """The daemon cannot start with this configuration; the message says how to fix it."""


@dataclass
class ServerConfig:
    endpoint: str
    limits: Limits = field(default_factory=Limits)
    colorizer: str | None = None  # checkpoint path; None: the shipped weights
    curve_secret: Path | None = None  # the daemon's certificate (with its secret key), studio mode
    curve_clients: Path | None = None  # directory of the certificates of the artists allowed in
    ready_file: Path | None = None  # written with the bound endpoint once the daemon accepts requests
    grace: float = 5.0  # seconds a running job gets to stop at shutdown

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
        self.models = ops.Models(config.colorizer)
        self._outgoing: queue.SimpleQueue[tuple[WorkItem, str, dict[str, Any], list[tuple[str, Any]]]] = (
            queue.SimpleQueue()
        )
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.worker = Worker(self._emit, warmup=self.models.load)
        self._pending: dict[bytes, set[str]] = {}  # request ids queued or running, per peer
        self._outbox: dict[bytes, list[tuple[list[Any], bool]]] = {}
        self._stopping = False
        self._stats = {"requests": 0, "rejected": 0, "dropped_replies": 0}
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
        sock.setsockopt(zmq.RCVHWM, _HWM)
        sock.setsockopt(zmq.SNDHWM, _HWM)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 10_000)  # notice editors that vanished without closing the connection
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 60_000)
        if self.config.curve:
            self._setup_curve(sock)
        ep = parse_endpoint(self.config.endpoint)
        try:
            if ep.transport == "ipc":
                self._prepare_ipc(ep.address)
                sock.bind(ep.url)
                os.chmod(ep.address, 0o600)
                self._ipc_path = ep.address
            else:
                sock.bind(ep.url.rsplit(":", 1)[0] + ":*" if ep.port == 0 else ep.url)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            raise ConfigError(f"cannot listen on {self.config.endpoint}: {exc}") from None
        self.bound_endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return sock

    @staticmethod
    def _prepare_ipc(path: str) -> None:
        """Refuse to steal the socket of a running daemon; remove a stale one; keep the directory private."""
        parent = Path(path).parent
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.path.exists(path):
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a daemon that died without cleaning up
            return
        finally:
            probe.close()
        raise ConfigError(f"another chromaseg daemon is already serving at ipc://{path}")

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
        log.info("serving on %s (pid %d, limits %s)", self.bound_endpoint, os.getpid(), self.limits.to_dict())
        try:
            while not self._stopping:
                events = dict(poller.poll(10 if self._outbox else 1000))
                if self._wake_r.fileno() in events:
                    self._drain_wakeups()
                self._flush_worker_replies()
                if self._router in events:
                    for _ in range(_BATCH):
                        if not self._read_request():
                            break
                self._retry_outbox()
        finally:
            self._shutdown()

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
        if self._ipc_path and os.path.exists(self._ipc_path):
            os.unlink(self._ipc_path)
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
        """Read and answer one message; False when none is waiting."""
        try:
            ident = self._router.recv(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        identity = ident.bytes
        head = self._router.recv(copy=False)
        try:
            req = parse_request(head.buffer, self.limits)
        except ProtocolError as exc:
            self._drain(head.more)
            self._reject(identity, exc, None)
            return True
        try:
            frames = self._read_frames(req, head.more)
            self._stats["requests"] += 1
            self._dispatch(identity, req, frames)
        except ProtocolError as exc:
            self._reject(identity, exc, req.op)
        return True

    def _read_frames(self, req: Request, more: bool) -> list[zmq.Frame]:
        """The frames the header declared, each checked against its descriptor as it arrives; on a mismatch the rest
        of the message is discarded (never held) and ProtocolError says what was wrong."""
        frames: list[zmq.Frame] = []
        for d in req.frames:
            if not more:
                raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                    f"header declares {len(req.frames)} frame(s) but the message carries {len(frames)}",
                                    req.id)
            part = self._router.recv(copy=False)
            more = part.more
            if len(part) != d.nbytes:
                self._drain(more)
                raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                    f"frame {d.name!r} ({d.dtype} {list(d.shape)}) must have {d.nbytes} bytes, "
                                    f"got {len(part)}", req.id)
            frames.append(part)
        if more:
            extra = self._drain(more)
            raise ProtocolError(ErrorCode.FRAME_MISMATCH,
                                f"header declares {len(req.frames)} frame(s) but {extra} more follow", req.id)
        return frames

    def _drain(self, more: bool) -> int:
        """Discard the rest of a rejected multipart message (never holding it); returns how many parts."""
        n = 0
        while more:
            more = self._router.recv(copy=False).more
            n += 1
        return n

    def _reject(self, identity: bytes, exc: ProtocolError, op: str | None) -> None:
        self._stats["rejected"] += 1
        n = self._stats["rejected"]
        if n <= 20 or n % 1000 == 0:
            log.warning("rejected message #%d (%s): %s", n, exc.code.value, exc.message)
        self._send(identity, [encode_error(exc.code, exc.message, exc.request_id, op)], final=True)

    # --- answering ------------------------------------------------------------------------------------------------

    def _dispatch(self, identity: bytes, req: Request, frames: list[zmq.Frame]) -> None:
        params = ops.validate(req)
        if req.op == "ping":
            body = {"pong": True, "protocol": PROTOCOL_VERSION, "version": _package_version(), "time": time.time()}
            self._send(identity, [encode_reply("result", req.id, req.op, body)], final=True)
        elif req.op == "info":
            self._send(identity, [encode_reply("result", req.id, req.op, self._info())], final=True)
        elif req.op == "echo":
            descriptors = [{"name": d.name, "dtype": d.dtype, "shape": list(d.shape)} for d in req.frames]
            body = {"frames": len(frames), "bytes": sum(len(f) for f in frames)}
            header = encode_reply("result", req.id, req.op, body, descriptors)
            self._send(identity, [header, *frames], final=True)  # the received buffers go back as they are
        elif req.op == "cancel":
            target = params["target"]
            states = self.worker.cancel(lambda item: item.key == (identity, target))
            body = {"target": target, "state": states[0] if states else "unknown"}
            self._send(identity, [encode_reply("result", req.id, req.op, body)], final=True)
        else:
            self._enqueue(identity, req, params, frames)

    def _enqueue(self, identity: bytes, req: Request, params: dict[str, Any], frames: list[zmq.Frame]) -> None:
        if self._stopping:
            raise ProtocolError(ErrorCode.SHUTTING_DOWN, "the daemon is shutting down", req.id)
        why = self.models.unavailable(ops.SPECS[req.op].needs)
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
        arrays = {d.name: ops.as_array(f.buffer, d) for d, f in zip(req.frames, frames)}
        handler = ops.HANDLERS[req.op]
        item = WorkItem(
            key=(identity, req.id),
            op=req.op,
            priority=ops.priority(req.op, params, req.frames),
            run=functools.partial(_run_handler, handler, self.models, params, arrays),
        )
        pending.add(req.id)
        position = self.worker.submit(item)
        body = {"stage": "queued", "done": 0, "total": 0, "position": position}
        self._send(identity, [encode_reply("progress", req.id, req.op, body)], final=False)

    def _info(self) -> dict[str, Any]:
        running = self.worker.running
        return {
            "server": "chromaseg",
            "version": _package_version(),
            "protocol": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "endpoint": self.bound_endpoint,
            "curve": self.config.curve,
            "device": self.models.device,
            "models": dict(self.models.status),
            "segmenter": self.models.segmenter_info(),
            "ops": list(OPS),
            "dtypes": list(DTYPES),
            "limits": self.limits.to_dict(),
            "jobs": {"queued": self.worker.queued, "running": running.op if running else None},
            "clients_with_jobs": len(self._pending),
            "stats": dict(self._stats),
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
            arrays = [np.ascontiguousarray(a) for _, a in frames]
            try:
                descriptors = [
                    {"name": name, "dtype": _wire_dtype(a), "shape": list(a.shape)}
                    for (name, _), a in zip(frames, arrays)
                ]
            except TypeError as exc:
                log.error("%s %s: %s", item.op, rid, exc)
                kind, body, arrays, descriptors = "error", {"code": ErrorCode.INTERNAL.value, "message": str(exc)}, [], []
            final = kind != "progress"
            if final:
                finals += 1
                pending = self._pending.get(identity)
                if pending is not None:
                    pending.discard(rid)
                    if not pending:
                        del self._pending[identity]
            header = encode_reply(kind, rid, item.op, body, descriptors)
            self._send(identity, [header, *(memoryview(a).cast("B") for a in arrays)], final)

    def _send(self, identity: bytes, parts: list[Any], final: bool) -> None:
        """Send without ever blocking: a full peer pipe keeps results in a bounded outbox and drops progress."""
        box = self._outbox.get(identity)
        if box is not None:
            self._queue_out(identity, box, parts, final)
            return
        try:
            self._router.send_multipart([identity, *parts], flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self._queue_out(identity, self._outbox.setdefault(identity, []), parts, final)
        except zmq.ZMQError as exc:
            if exc.errno != errno.EHOSTUNREACH:
                raise
            self._peer_gone(identity)

    def _queue_out(self, identity: bytes, box: list[tuple[list[Any], bool]], parts: list[Any], final: bool) -> None:
        if not final:
            return
        if len(box) >= _OUTBOX_MAX:
            self._stats["dropped_replies"] += 1
            log.warning("client %s does not read its replies; dropping one", identity.hex())
            return
        box.append((parts, final))

    def _retry_outbox(self) -> None:
        for identity in list(self._outbox):
            box = self._outbox[identity]
            while box:
                try:
                    self._router.send_multipart([identity, *box[0][0]], flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                except zmq.ZMQError as exc:
                    if exc.errno != errno.EHOSTUNREACH:
                        raise
                    box.clear()
                    self._peer_gone(identity)
                    break
                box.pop(0)
            if not box:
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


def _run_handler(
    handler: ops.Handler, models: ops.Models, params: dict[str, Any], arrays: dict[str, np.ndarray], ctx: Any
) -> Any:
    return handler(ctx, models, params, arrays)


def _wire_dtype(array: np.ndarray) -> str:
    for name, (_, numpy_str) in DTYPES.items():
        if array.dtype.str == numpy_str:
            return name
    raise TypeError(f"a handler returned dtype {array.dtype}, which has no wire form")
