"""A flood: 50 clients sending 16 MiB requests as fast as the daemon answers them, some of which never read their
replies. The daemon's memory stays under a bound set by its budget, not by the number of clients, and `ping` from
another client answers within a second throughout (docs/protocol.md, "Flood").
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import zmq
from bridge_helpers import Daemon, assert_no_internal, memory_kib, start_daemon

from chromaseg.bridge.client import Client, Frame, RequestFailed

MIB = 1 << 20
CLIENTS = 50
NON_READERS = 2  # of the 50: they send 4 MiB echoes and never read, and start first, so their echoes are taken
HEAD_START = 0.5  # seconds the non-readers flood alone
IN_FLIGHT = 2  # requests a reading client keeps outstanding
NON_READER_REQUESTS = 32  # each non-reader sends these, then waits without reading
DURATION = 6.0  # seconds of flood
BUDGET = 256 * MIB  # --memory-budget of the daemon under test
UNREAD = 16 * MIB  # --max-unread-bytes
# What the flood may add to the daemon's resident memory (docs/protocol.md): the budget, plus what libzmq receives
# outside it, up to three messages per connection, plus the running job's working memory.
GROWTH_BOUND = BUDGET + CLIENTS * 3 * 16 * MIB + 256 * MIB
PING_BOUND = 1.0  # seconds
MEMORY_LIMIT = 4 << 30  # address space of the daemon: a runaway fails there instead of taking the machine

H, W = 2048, 2048  # harmonize: a 12 MiB RGB layer plus a 4 MiB label map = 16 MiB
LAYER = np.zeros((H, W, 3), np.uint8)
SEGMENTS = np.zeros((H, W), np.uint8)  # no segment: the job is cheap, its request and result are not
ECHO = memoryview(bytearray(16 * MIB))


def harmonize_parts(rid: str) -> list:
    header = {"v": 1, "op": "harmonize", "id": rid, "frames": [
        {"name": "layer", "dtype": "u8", "shape": [H, W, 3]}, {"name": "segments", "dtype": "u8", "shape": [H, W]}]}
    return [json.dumps(header).encode(), LAYER.data, SEGMENTS.data]


def echo_parts(rid: str, blob: memoryview) -> list:
    header = {"v": 1, "op": "echo", "id": rid, "frames": [{"name": "blob", "dtype": "u8", "shape": [len(blob)]}]}
    return [json.dumps(header).encode(), blob]


def request(n: int, rid: str, reads: bool) -> list:
    """A reader alternates 16 MiB harmonize and echo requests; a non-reader sends 4 MiB echoes (libzmq keeps 16
    replies for it, counted in the budget, before its outbox and then the drops begin)."""
    if not reads:
        return echo_parts(rid, ECHO[: 4 * MIB])
    return harmonize_parts(rid) if n % 2 else echo_parts(rid, ECHO)


@pytest.fixture
def flood_daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = start_daemon(tmp_path / "flood", "tcp://127.0.0.1:0", "--memory-budget", str(BUDGET),
                     "--max-unread-bytes", str(UNREAD), memory_limit=MEMORY_LIMIT)
    yield d
    assert_no_internal(d)
    assert d.stop() == 0


class Flooder:
    """One flooding DEALER: sends 16 MiB requests without copying them; a reader keeps IN_FLIGHT outstanding."""

    def __init__(self, ctx: zmq.Context, endpoint: str, name: str, reads: bool) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if not reads:
            self.sock.rcvhwm = 1  # its own libzmq takes one reply for it, so the rest wait in the daemon
        self.sock.connect(endpoint)
        self.name, self.reads = name, reads
        self.sent = self.outstanding = 0
        self.finals: Counter[str] = Counter()

    def pump(self) -> None:
        """Send what this client may send now, then (a reader) take every reply waiting."""
        limit = IN_FLIGHT if self.reads else NON_READER_REQUESTS - self.sent
        while self.outstanding < limit and self._send():
            pass
        while self.reads and self.sock.poll(0):
            head = json.loads(self.sock.recv_multipart(copy=False)[0].bytes)
            if head["kind"] != "progress":
                self.outstanding -= 1
                self.finals[head.get("error", {}).get("code", "ok")] += 1

    def _send(self) -> bool:
        try:
            self.sock.send_multipart(request(self.sent, f"{self.name}-{self.sent}", self.reads), zmq.NOBLOCK,
                                     copy=False)
        except zmq.Again:
            return False
        self.sent += 1
        self.outstanding += 1
        return True


# The editor that pings is a process of its own, as an editor is: its latencies are the daemon's, not this test's.
PINGER = """
import json, sys, time, zmq
sock = zmq.Context().socket(zmq.DEALER)
sock.linger = 0
sock.connect(sys.argv[1])
end, out = time.monotonic() + float(sys.argv[2]), []
while time.monotonic() < end:
    time.sleep(0.05)
    started = time.monotonic()
    sock.send(json.dumps({"v": 1, "op": "ping", "id": f"p{len(out)}"}).encode())
    if not sock.poll(5000):
        out.append(float("inf"))
        break
    assert json.loads(sock.recv())["result"]["pong"]
    out.append(time.monotonic() - started)
print(json.dumps(out))
"""


def sample_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    """The daemon's resident memory every 50 ms (KiB), until `stop`."""
    while not stop.wait(0.05):
        out.append(memory_kib(pid))


def wait_released(c: Client, timeout: float = 20) -> None:
    """Wait until the daemon holds nothing for its clients (cancelled jobs end, dropped peers are noticed)."""
    deadline = time.monotonic() + timeout
    while (held := held_bytes(c.info()["memory"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held == 0


def held_bytes(memory: dict[str, int]) -> int:
    return memory["queued_bytes"] + memory["unread_bytes"] + memory["sending_bytes"]


def test_flood_of_fifty_clients_bounded_memory_and_ping(flood_daemon: Daemon) -> None:
    with flood_daemon.client() as c:
        pid = c.info()["pid"]
    baseline = memory_kib(pid)
    ctx = zmq.Context()
    clients = [Flooder(ctx, flood_daemon.endpoint, f"c{i}", reads=i >= NON_READERS) for i in range(CLIENTS)]
    pinger = subprocess.Popen([sys.executable, "-c", PINGER, flood_daemon.endpoint, str(DURATION)],
                              stdout=subprocess.PIPE)
    stop, rss = threading.Event(), []
    sampler = threading.Thread(target=sample_rss, args=(pid, stop, rss))
    sampler.start()
    try:
        start = time.monotonic()
        while (now := time.monotonic()) < start + DURATION:
            for client in clients[: NON_READERS if now < start + HEAD_START else CLIENTS]:
                client.pump()
            time.sleep(0.002)
        with flood_daemon.client() as c:
            during = c.info()
        latencies = json.loads(pinger.communicate(timeout=30)[0])
    finally:
        stop.set()
        sampler.join(10)
        pinger.kill()
        for client in clients:
            client.sock.close()
        ctx.term()
    peak = memory_kib(pid, "VmHWM")
    finals = sum((c.finals for c in clients), Counter())
    report = (f"flood: RSS baseline {baseline // 1024} MiB, sampled max {max(rss) // 1024} MiB, peak (VmHWM) "
              f"{peak // 1024} MiB; ping median {statistics.median(latencies) * 1000:.1f} ms, max "
              f"{max(latencies) * 1000:.1f} ms over {len(latencies)} pings; finals {dict(finals)}; "
              f"sent {sum(c.sent for c in clients)}; stats {during['stats']}; memory {during['memory']}")
    print(report)
    assert max(latencies) < PING_BOUND, report
    assert (peak - baseline) * 1024 < GROWTH_BOUND, report
    assert finals["ok"] > 0 and finals["queue_full"] > 0, report  # work went on, and the budget refused some
    assert during["stats"]["dropped_replies"] > 0, report  # the non-readers' replies past their bound
    assert "does not read its replies" in flood_daemon.log.read_text()
    with flood_daemon.client() as c:  # the flood is over: everything held for it is released
        assert c.ping()["pong"]
        wait_released(c)


def test_budget_refuses_when_full_drops_unread_replies_and_recovers(tmp_path: Path) -> None:
    """A client that never reads fills the budget: others get `queue_full` (busy), its own replies past its bound
    are dropped with a log line, and once it goes away everything is released and requests are taken again."""
    d = start_daemon(tmp_path / "budget", "tcp://127.0.0.1:0", "--memory-budget", str(8 * MIB),
                     "--max-unread-bytes", str(4 * MIB), "--colorizer", str(tmp_path / "none.pt"))
    blob = memoryview(bytes(2 * MIB))
    header = {"v": 1, "op": "echo", "frames": [{"name": "blob", "dtype": "u8", "shape": [len(blob)]}]}
    hog = zmq.Context.instance().socket(zmq.DEALER)
    hog.linger, hog.rcvhwm = 0, 1
    hog.connect(d.endpoint)
    try:
        with d.client() as c:
            sent = iter(range(10_000))

            def hog_sends() -> None:
                hog.send_multipart([json.dumps({**header, "id": f"h{next(sent)}"}).encode(), blob], copy=False)

            while c.info()["stats"]["dropped_replies"] == 0:
                hog_sends()
            with pytest.raises(RequestFailed) as err:
                for _ in range(100):  # while the hog keeps sending, the budget fills: the others are refused
                    hog_sends()
                    c.request("echo", {}, {"blob": Frame(blob, "u8", (len(blob),))})
            assert err.value.code == "queue_full" and "busy" in str(err.value)
            hog.close()
            wait_released(c)
            assert c.request("echo", {}, {"blob": Frame(blob, "u8", (len(blob),))}).result["bytes"] == len(blob)
        assert "does not read its replies" in d.log.read_text()
    finally:
        hog.close()
        assert_no_internal(d)
        assert d.stop() == 0
