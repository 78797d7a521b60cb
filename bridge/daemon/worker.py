"""The single inference worker: one thread owns the models and runs one job at a time, most urgent first.

The socket loop must never block on a model, so it only enqueues `WorkItem`s here; replies (progress, result,
error) leave through the `emit` callback, which must be thread-safe (the server's is a queue plus a wake-up).
Interactive jobs (a prompt on a cached image) overtake queued long ones; a running job is never preempted, but it
checks its cancel flag between stages and tiles.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from chromaseg.bridge.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

INTERACTIVE = 0
NORMAL = 1
_PROGRESS_INTERVAL = 0.1  # seconds between progress messages of one stage (the first and last always go out)

# (result object, [(frame name, array)]) returned by a job.
Outcome = tuple[dict[str, Any], list[tuple[str, Any]]]


class Cancelled(Exception):
    """Raised inside a job by `JobContext.check_cancel` once the job was cancelled."""


@dataclass(eq=False)
class WorkItem:
    """A job for the worker: `run(ctx)` does the work; `key` = (client identity, request id)."""

    key: tuple[bytes, str]
    op: str
    priority: int
    run: Callable[["JobContext"], Outcome]
    cancel_event: threading.Event = field(default_factory=threading.Event)
    cancel_code: ErrorCode = ErrorCode.CANCELLED


# emit(item, kind, body, frames): kind is "progress", "result" or "error".
Emit = Callable[[WorkItem, str, dict[str, Any], list[tuple[str, Any]]], None]


class JobContext:
    """What a running job sees: progress reporting (throttled) and the cancel check."""

    def __init__(self, item: WorkItem, emit: Emit) -> None:
        self._item = item
        self._emit = emit
        self._last = (None, 0.0)

    def check_cancel(self) -> None:
        if self._item.cancel_event.is_set():
            raise Cancelled()

    def progress(self, stage: str, done: int, total: int) -> None:
        """Report progress and check for cancellation (call between stages and tiles)."""
        self.check_cancel()
        now = time.monotonic()
        last_stage, last_time = self._last
        if stage == last_stage and done < total and now - last_time < _PROGRESS_INTERVAL:
            return
        self._last = (stage, now)
        self._emit(self._item, "progress", {"stage": stage, "done": done, "total": total}, [])


class Worker:
    """A priority queue drained by one thread. `warmup` runs first in that thread (model loading)."""

    def __init__(self, emit: Emit, warmup: Callable[[], None] | None = None) -> None:
        self._emit = emit
        self._warmup = warmup
        self._heap: list[tuple[int, int, WorkItem]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._running: WorkItem | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="chromaseg-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._heap)

    @property
    def running(self) -> WorkItem | None:
        return self._running

    @property
    def alive(self) -> bool:
        """Whether the thread still runs (after `stop`: a job, or the model loading, that did not stop in time)."""
        return self._thread.is_alive()

    def submit(self, item: WorkItem) -> int:
        """Enqueue; returns how many jobs run before it (its position)."""
        with self._cond:
            heapq.heappush(self._heap, (item.priority, next(self._seq), item))
            ahead = sum(1 for p, _, _ in self._heap if p <= item.priority) - 1
            self._cond.notify()
        return ahead + (self._running is not None)

    def cancel(self, match: Callable[[WorkItem], bool], code: ErrorCode = ErrorCode.CANCELLED) -> list[str]:
        """Cancel every queued or running job for which `match` is true; returns their states ("queued"/"running").

        Queued jobs are answered at once; a running one stops at its next check.
        """
        states = []
        with self._cond:
            dropped = [e for e in self._heap if match(e[2])]
            if dropped:
                self._heap = [e for e in self._heap if not match(e[2])]
                heapq.heapify(self._heap)
            running = self._running
            if running is not None and match(running):
                running.cancel_code = code
                running.cancel_event.set()
                states.append("running")
        for _, _, item in dropped:
            states.append("queued")
            what = "stopped: the daemon is shutting down" if code is ErrorCode.SHUTTING_DOWN else "cancelled"
            self._emit(item, "error", _error_body(code, f"{what} (the job had not started)"), [])
        return states

    def stop(self, timeout: float) -> bool:
        """Cancel everything (code shutting_down) and wait for the thread; False if a job did not stop in time."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.cancel(lambda _: True, ErrorCode.SHUTTING_DOWN)
        if not self._thread.is_alive():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon_running(self, code: ErrorCode) -> None:
        """Answer the running job now (it did not stop in time) so its client is not left waiting on a closed socket."""
        item = self._running
        if item is not None:
            self._emit(item, "error", _error_body(code, "stopped: the daemon is shutting down (the job did not stop)"), [])

    def _loop(self) -> None:
        if self._warmup is not None:
            try:
                self._warmup()
            except Exception:  # the daemon still serves ping/info/echo and says what failed
                log.exception("worker warm-up failed")
        while True:
            with self._cond:
                while not self._heap and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                _, _, item = heapq.heappop(self._heap)
                self._running = item
            try:
                self._run(item)
            finally:
                with self._cond:
                    self._running = None

    def _run(self, item: WorkItem) -> None:
        ctx = JobContext(item, self._emit)
        started = time.monotonic()
        try:
            ctx.check_cancel()
            result, frames = item.run(ctx)
        except Cancelled:
            log.info("%s %s cancelled", item.op, item.key[1])
            what = "stopped: the daemon is shutting down" if item.cancel_code is ErrorCode.SHUTTING_DOWN else "cancelled"
            self._emit(item, "error", _error_body(item.cancel_code, f"{what} (the job was running)"), [])
        except ProtocolError as exc:
            self._emit(item, "error", _error_body(exc.code, exc.message), [])
        except MemoryError:
            log.exception("%s %s ran out of memory", item.op, item.key[1])
            self._emit(item, "error", _error_body(ErrorCode.TOO_LARGE, "the daemon ran out of memory"), [])
        except Exception as exc:
            log.exception("%s %s failed", item.op, item.key[1])
            msg = f"{type(exc).__name__}: {exc}"
            self._emit(item, "error", _error_body(ErrorCode.INTERNAL, msg), [])
        else:
            log.info("%s %s done in %.3f s", item.op, item.key[1], time.monotonic() - started)
            self._emit(item, "result", result, frames)


def _error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"code": code.value, "message": message}
