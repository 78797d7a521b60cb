"""Which jobs the daemon takes on: one id at a time per client, a per-client queue limit, and a memory budget over
everything held for clients (requests queued or running, replies unread or being written). A refusal is an
immediate `queue_full` / `duplicate_id` answer, so no client can make the daemon grow without bound.
"""
from __future__ import annotations

from typing import Any, Callable

from chromaseg.bridge.protocol import Budget, ErrorCode, Limits, ProtocolError, Request


class Admission:
    """The jobs queued or running per client and the request bytes each holds. `held_elsewhere()` gives the bytes
    of replies not yet taken or written (the sender's), which count against the same budget."""

    def __init__(self, limits: Limits, budget: Budget, held_elsewhere: Callable[[], dict[str, int]]) -> None:
        self._limits = limits
        self._budget = budget
        self._held_elsewhere = held_elsewhere
        self._pending: dict[bytes, set[str]] = {}  # request ids queued or running, per peer
        self._job_bytes: dict[tuple[bytes, str], int] = {}  # request bytes each queued or running job holds

    @property
    def clients_with_jobs(self) -> int:
        return len(self._pending)

    def has_jobs(self, identity: bytes) -> bool:
        return identity in self._pending

    def admit(self, identity: bytes, req: Request, nbytes: int) -> None:
        """Take the job on, or ProtocolError (duplicate id, queue full, memory budget) saying why not."""
        pending = self._pending.get(identity, set())
        if req.id in pending:
            raise ProtocolError(ErrorCode.DUPLICATE_ID, f"request id {req.id!r} is already queued or running", req.id)
        if len(pending) >= self._limits.max_queue:
            raise ProtocolError(
                ErrorCode.QUEUE_FULL,
                f"this client already has {len(pending)} jobs queued or running (limit {self._limits.max_queue})",
                req.id,
            )
        self.check_budget(req, nbytes)
        self._pending.setdefault(identity, set()).add(req.id)
        self._job_bytes[(identity, req.id)] = nbytes

    def check_budget(self, req: Request, nbytes: int) -> None:
        """Refuse (`queue_full`) a request that would take the daemon past its memory budget. One request is always
        admitted when nothing is held, so no request is refused forever."""
        held = self.held_bytes()
        if held and held + nbytes > self._budget.max_held_bytes:
            raise ProtocolError(
                ErrorCode.QUEUE_FULL,
                f"the daemon is busy: it holds {held} bytes of queued requests and unread replies, and this "
                f"request's {nbytes} would pass its memory budget of {self._budget.max_held_bytes} "
                "(--memory-budget); try again when jobs finish",
                req.id,
            )

    def finish(self, identity: bytes, rid: str) -> None:
        """The job's final reply is out: its request bytes and its place in the client's queue are free."""
        self._job_bytes.pop((identity, rid), None)
        pending = self._pending.get(identity)
        if pending is not None:
            pending.discard(rid)
            if not pending:
                del self._pending[identity]

    def held_bytes(self) -> int:
        """Bytes held for clients: requests queued or running, replies waiting in outboxes or being written."""
        return sum(self._job_bytes.values()) + sum(self._held_elsewhere().values())

    def memory(self) -> dict[str, Any]:
        """For `info`: the budget and what is held against it now."""
        return {**self._budget.to_dict(), "queued_bytes": sum(self._job_bytes.values()), **self._held_elsewhere()}
