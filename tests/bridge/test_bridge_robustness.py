"""Malformed, truncated, oversized and hostile input: each gets an error (or, below ZMTP, a dropped connection) and
the daemon keeps serving with bounded memory."""
from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
import zmq
from bridge_helpers import memory_kib

from chromaseg.bridge.client import Client, DaemonUnavailable, Frame, RequestFailed
from chromaseg.bridge.endpoint import parse_endpoint
from chromaseg.bridge.zmtp import GREETING


def header(op: str = "ping", rid: str = "r1", frames: list | None = None, **extra) -> bytes:
    h = {"v": 1, "op": op, "id": rid, "params": {}, "frames": frames or []}
    h.update(extra)
    return json.dumps(h).encode()


def u8(name: str, n: int) -> dict:
    return {"name": name, "dtype": "u8", "shape": [n]}


# (parts, expected code)
MALFORMED = [
    ([b"\xff\xfe not utf-8"], "bad_message"),
    ([b"{not json"], "bad_message"),
    ([b"[1, 2]"], "bad_message"),
    ([b'{"v": 1, "op": "ping", "id": "x", "params": {}, "frames": [], "n": NaN}'], "bad_message"),
    ([b""], "bad_message"),
    ([b"[" * 5000 + b"]" * 5000], "bad_message"),
    ([header(v=2)], "unsupported_version"),
    ([header(v="1")], "bad_header"),
    ([header(op="launch_missiles")], "unknown_op"),
    ([header(colour="red")], "unknown_field"),
    ([header(rid="")], "bad_header"),
    ([header(rid="x" * 65)], "bad_header"),
    ([header(params=[1])], "bad_header"),
    ([header("echo", frames=[{"name": "a", "dtype": "u64", "shape": [2]}]), b"x" * 16], "bad_dtype"),
    ([header("echo", frames=[{"name": "a", "dtype": "u8", "shape": [0]}]), b""], "bad_shape"),
    ([header("echo", frames=[{"name": "a", "dtype": "u8", "shape": [1, 1, 1, 1, 1]}]), b"x"], "bad_shape"),
    ([header("echo", frames=[{"name": "a", "dtype": "u8", "shape": [2.5]}]), b"x"], "bad_shape"),
    ([header("echo", frames=[{"name": "A!", "dtype": "u8", "shape": [1]}]), b"x"], "bad_header"),
    ([header("echo", frames=[u8("a", 1), u8("a", 1)]), b"x", b"x"], "bad_header"),
    ([header("echo", frames=[{"name": "a", "dtype": "u8", "shape": [1], "stride": 4}]), b"x"], "unknown_field"),
    ([header("echo", frames=[u8("a", 4)]), b"abc"], "frame_mismatch"),  # truncated frame
    ([header("echo", frames=[u8("a", 4), u8("b", 4)]), b"abcd"], "frame_mismatch"),  # missing frame
    ([header("echo", frames=[u8("a", 4)]), b"abcd", b"extra", b"more"], "frame_mismatch"),
    ([header("echo", frames=[u8(f"f{i}", 1) for i in range(9)]), *[b"x"] * 9], "too_many_frames"),
    ([header("echo", frames=[{"name": "a", "dtype": "u8", "shape": [200_000, 200_000]}])], "too_large"),
    ([header("echo", frames=[{"name": "a", "dtype": "f32", "shape": [9000, 9000, 4]}])], "too_large"),
    ([b" " * 70_000 + header()], "too_large"),
    ([header("cancel")], "bad_params"),
]


def dealer(endpoint: str) -> zmq.Socket:
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.rcvtimeo = 10_000
    s.connect(endpoint)
    return s


def error_of(reply: list[bytes]) -> dict:
    assert len(reply) == 1
    h = json.loads(reply[0])
    assert h["kind"] == "error", h
    return h["error"]


@pytest.mark.parametrize("parts,code", MALFORMED, ids=[f"{i}-{c}" for i, (_, c) in enumerate(MALFORMED)])
def test_malformed_message_gets_error_code(daemon, parts, code) -> None:
    s = dealer(daemon.endpoint)
    try:
        s.send_multipart(parts)
        err = error_of(s.recv_multipart())
        assert err["code"] == code and err["message"]
        s.send_multipart([header(rid="alive")])
        assert json.loads(s.recv_multipart()[0])["result"]["pong"]
    finally:
        s.close()


def test_ten_thousand_malformed_messages(daemon) -> None:
    """Each gets its error, ping keeps answering in between, and the daemon's memory stays bounded."""
    s = dealer(daemon.endpoint)
    pid = daemon.client().info()["pid"]
    try:
        batch = 50
        sent = 0
        codes = {}
        rss_after_warmup = None
        while sent < 10_000:
            for i in range(batch):
                parts, _ = MALFORMED[(sent + i) % len(MALFORMED)]
                s.send_multipart(parts)
            s.send_multipart([header(rid=f"ping{sent}")])
            for _ in range(batch):
                err = error_of(s.recv_multipart())
                codes[err["code"]] = codes.get(err["code"], 0) + 1
            pong = json.loads(s.recv_multipart()[0])
            assert pong["id"] == f"ping{sent}" and pong["result"]["pong"]
            sent += batch
            if sent == 1000:
                rss_after_warmup = memory_kib(pid)
        assert sum(codes.values()) == 10_000
        assert set(codes) == {code for _, code in MALFORMED}
        assert memory_kib(pid) - rss_after_warmup < 20_000  # KiB: no per-message growth
    finally:
        s.close()


def test_part_over_maxmsgsize_drops_only_that_connection(fresh_daemon) -> None:
    d = fresh_daemon("--max-message-bytes", "65536", wait_models=False)
    s = dealer(d.endpoint)
    try:
        s.send_multipart([header("echo", frames=[u8("a", 100_000)]), b"x" * 100_000])
        # libzmq disconnects a peer whose part exceeds ZMQ_MAXMSGSIZE: no reply on this connection...
        assert s.poll(1000) == 0
    finally:
        s.close()
    with d.client() as c:  # ...and everyone else is served as before
        assert c.ping()["pong"]
        with pytest.raises(RequestFailed) as err:  # the client checks the daemon's limits before sending
            c.request("echo", {}, {"a": Frame(b"x" * 100_000, "u8", (100_000,))})
        assert err.value.code == "too_large"
        # Parts each under the limit but together over it: answered with an error.
        s = dealer(d.endpoint)
        s.send_multipart([header("echo", frames=[u8("a", 40_000), u8("b", 40_000)]), b"x" * 40_000, b"y" * 40_000])
        assert error_of(s.recv_multipart())["code"] == "too_large"
        s.close()
        assert c.ping()["pong"]


def _raw_connect(endpoint: str) -> socket.socket:
    ep = parse_endpoint(endpoint)
    return socket.create_connection((ep.address, ep.port), timeout=5)


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not ZMTP at all
        GREETING + b"\x04\x05\x05READY",  # a READY command cut short
        GREETING + b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER" + b"\x03\xff\xff",  # truncated frame
        GREETING + b"\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER" + b"\x02" + b"\xff" * 8,  # 2^64 bytes
        bytes(range(256)) * 64,
    ],
)
def test_broken_zmtp_streams_do_not_hurt_the_daemon(daemon, payload) -> None:
    raw = _raw_connect(daemon.endpoint)
    try:
        raw.sendall(payload)
        time.sleep(0.05)
    finally:
        raw.close()
    with daemon.client() as c:
        assert c.ping()["pong"]


def test_queue_limit_per_client_and_duplicate_ids(fresh_daemon) -> None:
    d = fresh_daemon("--max-queue", "2")
    layer = np.zeros((1024, 2048, 3), np.uint8)
    seg = np.ones((1024, 2048), np.int32)
    frames = [Frame.from_array(layer).data, Frame.from_array(seg).data]
    descs = [{"name": "layer", "dtype": "u8", "shape": [1024, 2048, 3]},
             {"name": "segments", "dtype": "i32", "shape": [1024, 2048]}]
    s = dealer(d.endpoint)
    try:
        for rid in ("a", "a", "b", "c"):
            s.send_multipart([header("harmonize", rid, descs), *frames])
        finals = {}
        while len(finals) < 4:
            h = json.loads(s.recv_multipart()[0])
            if h["kind"] != "progress":
                finals.setdefault(h["id"], []).append(h.get("error", {}).get("code", "ok"))
                if h["id"] == "a" and len(finals["a"]) == 2:
                    finals["a2"] = finals["a"].pop()
        assert sorted([*finals["a"], finals["a2"]]) == ["duplicate_id", "ok"]
        assert finals["b"] == ["ok"] and finals["c"] == ["queue_full"]
    finally:
        s.close()
    with Client(d.endpoint) as c:  # other clients have their own quota
        assert c.ping()["pong"]


def test_client_without_daemon_says_what_to_do(tmp_path) -> None:
    for backend in ("zmq", "zmtp"):
        with pytest.raises(DaemonUnavailable, match="chromaseg serve"):
            Client(f"ipc://{tmp_path}/none.sock", timeout=2, backend=backend).ping()
    with socket.socket() as probe:  # a free port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for backend in ("zmq", "zmtp"):
        with pytest.raises(DaemonUnavailable, match="CHROMASEG_ENDPOINT"):
            Client(f"tcp://127.0.0.1:{port}", timeout=1, backend=backend).ping()
