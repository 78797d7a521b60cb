"""Replies out of the daemon without ever blocking the socket loop: encoding a worker's result for the wire, handing it
to libzmq, and for a peer whose pipe is full a bounded outbox (results and errors kept, progress dropped).

Large replies are tracked until libzmq has written them, because their buffers stay held and the memory budget
must count them.
"""
from __future__ import annotations

import errno
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import zmq

from chromaseg.bridge.protocol import DTYPES, Budget, encode_reply

log = logging.getLogger(__name__)

OUTBOX_MAX = 256  # replies kept per peer while its pipe is full (results and errors only; progress is dropped)
_TRACKED = 1 << 20  # replies of at least this many bytes count against the budget until libzmq has written them


def size(parts: list[Any]) -> int:
    """Bytes of a message's parts (bytes, zmq frames, byte memoryviews)."""
    return sum(len(p) for p in parts)


def encode_result(kind: str, request_id: str, op: str, body: dict[str, Any],
                  frames: list[tuple[str, Any]]) -> list[Any]:
    """A handler's (body, named arrays) as the wire's parts: header, then each array's bytes (no copy when the array
    is already contiguous)."""
    arrays = [np.ascontiguousarray(a) for _, a in frames]
    descriptors = [{"name": name, "dtype": _wire_dtype(a), "shape": list(a.shape)}
                   for (name, _), a in zip(frames, arrays)]
    header = encode_reply(kind, request_id, op, body, descriptors)
    return [header, *(memoryview(a).cast("B") for a in arrays)]


def _wire_dtype(array: np.ndarray) -> str:
    for name, (_, numpy_str) in DTYPES.items():
        if array.dtype.str == numpy_str:
            return name
    raise TypeError(f"a handler returned dtype {array.dtype}, which has no wire form")


@dataclass
class _Outbox:
    """Final replies a peer has not taken yet (its libzmq pipe is full), and their size in bytes."""

    replies: deque[list[Any]] = field(default_factory=deque)
    nbytes: int = 0

    def push(self, parts: list[Any]) -> None:
        self.replies.append(parts)
        self.nbytes += size(parts)

    def pop(self) -> None:
        self.nbytes -= size(self.replies.popleft())


class Sender:
    """Every reply the ROUTER sends goes through here (socket-loop thread only). `peer_gone(identity)` is called when
    a peer has disconnected, so its jobs can be cancelled."""

    def __init__(self, router: zmq.Socket, budget: Budget, peer_gone: Callable[[bytes], None],
                 stats: dict[str, Any]) -> None:
        self._router = router
        self._budget = budget
        self._peer_gone = peer_gone
        self._stats = stats  # counts "dropped_replies"
        self._outbox: dict[bytes, _Outbox] = {}
        self._sending: list[tuple[zmq.MessageTracker, int]] = []  # large replies libzmq has not written yet, and size

    @property
    def backlog(self) -> bool:
        """Whether some peer has replies waiting in its outbox (the loop then polls more often)."""
        return bool(self._outbox)

    def send(self, identity: bytes, parts: list[Any], final: bool) -> None:
        """Send without ever blocking: a full peer pipe keeps results in a bounded outbox and drops progress."""
        if identity not in self._outbox and self._try_transmit(identity, parts) is not False:
            return
        if final:
            self._queue_out(identity, parts)

    def retry(self) -> None:
        """Hand waiting replies to libzmq, oldest first, as far as each peer's pipe takes them."""
        for identity in list(self._outbox):
            box = self._outbox[identity]
            while box.replies:
                sent = self._try_transmit(identity, box.replies[0])
                if not sent:
                    break
                box.pop()
            if not box.replies:
                self._outbox.pop(identity, None)

    def drain(self, deadline: float) -> None:
        """At shutdown every request still gets its final answer: wait (bounded) for slow peers to take them."""
        while self._outbox and time.monotonic() < deadline:
            self.retry()
            if self._outbox:
                time.sleep(0.01)

    def unread_bytes(self) -> int:
        return sum(box.nbytes for box in self._outbox.values())

    def sending_bytes(self) -> int:
        self._sending = [(tracker, n) for tracker, n in self._sending if not tracker.done]
        return sum(n for _, n in self._sending)

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
            self._outbox.pop(identity, None)
            self._peer_gone(identity)
            return None

    def _transmit(self, identity: bytes, parts: list[Any]) -> None:
        """Hand a reply to libzmq without blocking or copying (zmq.Again: the peer's pipe is full). A large one is
        tracked: libzmq holds its buffers until it has written them, and the budget must know."""
        n = size(parts)
        tracker = self._router.send_multipart([identity, *parts], flags=zmq.NOBLOCK, copy=False, track=n >= _TRACKED)
        if n >= _TRACKED:
            self._sending.append((tracker, n))

    def _queue_out(self, identity: bytes, parts: list[Any]) -> None:
        box = self._outbox.setdefault(identity, _Outbox())
        if box.nbytes >= self._budget.max_unread_bytes or len(box.replies) >= OUTBOX_MAX:
            self._drop_reply(identity, box, parts)
        else:
            box.push(parts)

    def _drop_reply(self, identity: bytes, box: _Outbox, parts: list[Any]) -> None:
        """The client does not read its replies: keeping more would let it grow the daemon without bound."""
        self._stats["dropped_replies"] += 1
        n = self._stats["dropped_replies"]
        if n <= 20 or n % 1000 == 0:
            log.warning("client %s does not read its replies (%d waiting, %d bytes; limits %d, %d bytes): "
                        "dropped reply #%d (%d bytes)", identity.hex(), len(box.replies), box.nbytes, OUTBOX_MAX,
                        self._budget.max_unread_bytes, n, size(parts))
