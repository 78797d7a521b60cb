"""8 editors at once, 50 mixed requests each, pipelined: every reply arrives, once, to the right job."""
from __future__ import annotations

import random
import threading

import numpy as np
from bridge_helpers import halves, photo

from chromaseg.bridge.client import Client, Frame, RequestFailed


def _client_session(endpoint: str, index: int, failures: list[str]) -> None:
    rng = random.Random(index)
    backend = "zmq" if index % 2 else "zmtp"
    layer = photo(48, 40, 4, seed=index)
    seg = halves(48, 40)
    try:
        with Client(endpoint, timeout=60, backend=backend) as c:
            pending = []
            for n in range(50):
                kind = rng.choice(["ping", "echo", "echo", "harmonize", "segment", "bad", "info"])
                if kind == "echo":
                    payload = np.frombuffer(rng.randbytes(rng.randint(1, 300_000)), np.uint8)
                    job = c.submit("echo", {}, {"p": Frame.from_array(payload)})
                    expect = ("echo", payload.tobytes())
                elif kind == "harmonize":
                    job = c.submit("harmonize", {"min_pixels": 10},
                                   {"layer": Frame.from_array(layer), "segments": Frame.from_array(seg)})
                    expect = ("harmonize", layer[..., 3].tobytes())
                elif kind == "segment":
                    job = c.submit("segment", {"max_segments": 4}, {"layer": Frame.from_array(layer)})
                    expect = ("segment", None)
                elif kind == "bad":
                    job = c.submit("harmonize", {"delta_a": -1}, {"layer": Frame.from_array(layer),
                                                                  "segments": Frame.from_array(seg)})
                    expect = ("bad", None)
                else:
                    job = c.submit(kind)
                    expect = (kind, None)
                pending.append((n, job, expect))
                # Keep up to 3 in flight (the per-client queue limit is 4), finishing the oldest first.
                while len(pending) >= 3 or (n == 49 and pending):
                    _check(pending.pop(0), failures, index)
    except Exception as exc:  # noqa: BLE001 - collected and asserted in the test thread
        failures.append(f"client {index}: {type(exc).__name__}: {exc}")


def _check(entry, failures: list[str], index: int) -> None:
    n, job, (kind, expect) = entry
    try:
        reply = job.wait(60)
    except RequestFailed as exc:
        if kind != "bad" or exc.code != "bad_params":
            failures.append(f"client {index} #{n} {kind}: {exc}")
        return
    ok = reply.header["id"] == job.id and reply.header["op"] == job.op
    if kind == "echo":
        ok = ok and bytes(reply.frames["p"].data) == expect
    elif kind == "harmonize":
        out = np.frombuffer(reply.frames["layer"].data, np.uint8).reshape(48, 40, 4)
        ok = ok and out[..., 3].tobytes() == expect
    elif kind == "segment":
        ok = ok and reply.frames["segments"].shape == (48, 40)
    elif kind == "ping":
        ok = ok and reply.result["pong"] is True
    elif kind == "info":
        ok = ok and reply.result["protocol"] == 1
    if not ok or kind == "bad":
        failures.append(f"client {index} #{n} {kind}: wrong reply {reply.header}")


def test_eight_clients_fifty_mixed_requests_each(daemon) -> None:
    failures: list[str] = []
    threads = [threading.Thread(target=_client_session, args=(daemon.endpoint, i, failures)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    with Client(daemon.endpoint) as c:
        info = c.info()
    assert info["clients_with_jobs"] == 0 and info["jobs"] == {"queued": 0, "running": None}
