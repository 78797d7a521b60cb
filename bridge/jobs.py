"""What a submitted request gives back: a `Job` to poll or wait on, its `Progress` and its `Reply` (standard library
only)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from chromaseg.bridge.errors import BridgeError, ProtocolMismatch, RequestCancelled, RequestFailed, RequestTimeout
from chromaseg.bridge.protocol import PROTOCOL_VERSION, ErrorCode, Frame, ReplyHeader, check_frame_sizes

if TYPE_CHECKING:
    from chromaseg.bridge.client import Client


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
        self._resend: list[Any] | None = None  # the request's parts while it may be sent once more (autostart)

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

    def _take(self, head: ReplyHeader, parts: list[Any]) -> bool:
        """Take a reply to this job (its header already checked, `parts` its frames); True when it is final."""
        body = head.body
        if head.kind == "progress":
            extra = {k: v for k, v in body.items() if k not in ("stage", "done", "total")}
            self.progress = Progress(str(body.get("stage", "")), int(body.get("done", 0)), int(body.get("total", 0)),
                                     extra)
            if self._on_progress is not None:
                self._on_progress(self.progress)
            return False
        if head.kind == "error":
            cls = RequestCancelled if body["code"] == ErrorCode.CANCELLED.value else RequestFailed
            self._error = cls(body["code"], body["message"], self.id, self.op)
            return True
        try:
            check_frame_sizes(head.frames, [memoryview(p).nbytes for p in parts], head.id)
            frames = {d.name: Frame(data, d.dtype, d.shape) for d, data in zip(head.frames, parts)}
        except ValueError as exc:  # ProtocolError is a ValueError too
            self._error = ProtocolMismatch(f"the daemon sent a malformed reply: {exc}")
            return True
        header = {"v": PROTOCOL_VERSION, "id": head.id, "op": head.op, "kind": head.kind, "result": head.body}
        self._reply = Reply(header, frames)
        return True
