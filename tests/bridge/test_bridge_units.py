"""The parts on their own: header and frame validation (property-based), the worker's priorities, ZMTP details."""
from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chromaseg.bridge.protocol import (DTYPES, ErrorCode, Frame, Limits, ProtocolError, check_frame_sizes,
                                       encode_request, parse_reply, parse_request, encode_reply)
from chromaseg.bridge.daemon.worker import INTERACTIVE, NORMAL, WorkItem, Worker
from chromaseg.bridge.zmtp import ZmtpSocket

LIMITS = Limits(max_pixels=10_000, max_frames=4, max_message_bytes=1_000_000)

names = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
shapes = st.lists(st.integers(1, 12), min_size=1, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@given(st.sampled_from(["ping", "echo", "colorize"]), st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True),
       st.dictionaries(st.text(max_size=8), json_values, max_size=4),
       st.dictionaries(names, st.tuples(st.sampled_from(sorted(DTYPES)), shapes), max_size=4))
def test_valid_requests_round_trip(op, rid, params, frames) -> None:
    built = {n: Frame(bytes(DTYPES[d][0] * int(np.prod(s))), d, tuple(s)) for n, (d, s) in frames.items()}
    req = parse_request(encode_request(op, rid, params, built), LIMITS)
    assert (req.op, req.id, req.params) == (op, rid, params)
    assert [(d.name, d.dtype, d.shape) for d in req.frames] == [(n, f.dtype, f.shape) for n, f in built.items()]
    check_frame_sizes(req.frames, [f.nbytes for f in built.values()], rid)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_never_crash_the_parser(raw) -> None:
    try:
        parse_request(raw, LIMITS)
    except ProtocolError as exc:
        assert isinstance(exc.code, ErrorCode) and exc.message


@given(st.dictionaries(st.sampled_from(["name", "dtype", "shape", "stride"]),
                       json_values | shapes | st.sampled_from(sorted(DTYPES) + ["u64", "f16"]) | names, max_size=4))
def test_descriptor_fuzz_is_accepted_only_when_valid(desc) -> None:
    raw = json.dumps({"v": 1, "op": "echo", "id": "x", "frames": [desc]}).encode()
    valid = (set(desc) == {"name", "dtype", "shape"} and isinstance(desc["name"], str)
             and bool(re.fullmatch(r"[a-z][a-z0-9_]{0,31}", desc["name"])) and isinstance(desc["dtype"], str) and desc["dtype"] in DTYPES
             and isinstance(desc["shape"], list) and 1 <= len(desc["shape"]) <= 4
             and all(type(s) is int and s >= 1 for s in desc["shape"]))
    if valid:
        shape = desc["shape"]
        pixels = shape[0] * shape[1] if len(shape) > 1 else shape[0]
        valid = pixels <= LIMITS.max_pixels and DTYPES[desc["dtype"]][0] * int(np.prod(shape)) <= LIMITS.max_message_bytes
    try:
        parse_request(raw, LIMITS)
        assert valid
    except ProtocolError as exc:
        assert not valid, exc


@given(shapes, st.sampled_from(sorted(DTYPES)), st.integers(-3, 3))
def test_frame_size_must_match_descriptor_exactly(shape, dtype, delta) -> None:
    req = parse_request(encode_request("echo", "x", {}, {"a": Frame(bytes(DTYPES[dtype][0] * int(np.prod(shape))),
                                                                  dtype, shape)}), LIMITS)
    size = req.frames[0].nbytes + delta
    if delta == 0:
        check_frame_sizes(req.frames, [size])
    else:
        with pytest.raises(ProtocolError) as err:
            check_frame_sizes(req.frames, [size])
        assert err.value.code is ErrorCode.FRAME_MISMATCH


def test_frame_checks_its_buffer() -> None:
    with pytest.raises(ValueError, match="need 12"):
        Frame(b"x" * 11, "u8", (3, 4))
    with pytest.raises(ValueError, match="unknown dtype"):
        Frame(b"x", "u64", (1,))
    with pytest.raises(ValueError, match="contiguous"):
        Frame(np.zeros((4, 4), np.uint8)[:, ::2], "u8", (4, 2))
    with pytest.raises(ValueError, match="no wire form"):
        Frame.from_array(np.zeros(3, np.float64))
    assert Frame.from_array(np.zeros((2, 3), np.uint16)).nbytes == 12


def test_reply_headers_are_validated() -> None:
    ok = parse_reply(encode_reply("error", "a", "ping", {"code": "x", "message": "m"}), LIMITS)
    assert ok.kind == "error" and ok.body["code"] == "x"
    for bad in (b'{"v":1,"kind":"weird","weird":{}}', b'{"v":1,"kind":"error","error":{"code":1}}', b"[]"):
        with pytest.raises(ProtocolError):
            parse_reply(bad, LIMITS)


def test_worker_runs_interactive_jobs_first_and_cancels() -> None:
    order: list[str] = []
    events: list[tuple[str, str]] = []
    gate = threading.Event()

    def emit(item, kind, body, frames):
        events.append((item.key[1], body.get("code", kind)))

    def job(name, block=False):
        def run(ctx):
            if block:
                gate.wait(10)
            order.append(name)
            for i in range(3):
                ctx.progress("x", i, 3)
            return {}, []
        return run

    w = Worker(emit)
    w.start()
    w.submit(WorkItem((b"c", "block"), "harmonize", NORMAL, job("block", True)))
    while w.running is None:
        time.sleep(0.01)
    w.submit(WorkItem((b"c", "long1"), "colorize", NORMAL, job("long1")))
    w.submit(WorkItem((b"c", "long2"), "colorize", NORMAL, job("long2")))
    w.submit(WorkItem((b"c", "click"), "segment", INTERACTIVE, job("click")))
    assert w.cancel(lambda it: it.key[1] == "long2") == ["queued"]
    gate.set()
    deadline = time.monotonic() + 10
    while order[-1:] != ["long1"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert order == ["block", "click", "long1"]
    assert ("long2", "cancelled") in events
    assert w.stop(5)


def test_worker_cancel_running_job_between_tiles() -> None:
    events = []
    started = threading.Event()

    def run(ctx):
        started.set()
        for i in range(10_000):
            ctx.progress("tiles", i, 10_000)
            time.sleep(0.001)
        return {}, []

    w = Worker(lambda item, kind, body, frames: events.append(body.get("code", kind)))
    w.start()
    w.submit(WorkItem((b"c", "j"), "colorize", NORMAL, run))
    started.wait(5)
    assert w.cancel(lambda it: True) == ["running"]
    deadline = time.monotonic() + 10
    while "cancelled" not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events[-1] == "cancelled" and "result" not in events
    w.stop(5)


def test_zmtp_answers_heartbeats_and_moves_large_multipart_messages() -> None:
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.setsockopt(zmq.HEARTBEAT_IVL, 50)
    router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 2000)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    z = ZmtpSocket(f"tcp://127.0.0.1:{port}", timeout=5)
    try:
        assert z.recv_multipart(0.5) is None  # heartbeats flow meanwhile; the connection must survive them
        big = np.random.default_rng(0).integers(0, 255, 3_000_000, dtype=np.uint8)
        z.send_multipart([b"h", big, b"", b"x" * 255, b"y" * 256], timeout=5)
        assert router.poll(5000)
        msg = router.recv_multipart()
        assert [len(p) for p in msg[1:]] == [1, 3_000_000, 0, 255, 256] and msg[2] == big.tobytes()
        router.send_multipart(msg)
        back = z.recv_multipart(5)
        assert [bytes(p) for p in back] == msg[1:]
    finally:
        z.close()
        router.close()
        ctx.term()


@given(st.sampled_from(["ping", "cancel", "segment", "colorize", "harmonize"]),
       st.dictionaries(st.sampled_from(["target", "points", "labels", "box", "max_segments", "min_area", "vibrancy",
                                        "resolution", "feather", "harmonize", "delta_a", "delta_b", "min_pixels",
                                        "tile"]), json_values, max_size=4))
def test_op_param_validation_only_raises_protocol_errors(op, params) -> None:
    from chromaseg.bridge.daemon.validation import validate

    raw = encode_request(op, "x", params, {"layer": Frame(bytes(48), "u8", (4, 4, 3)),
                                           "segments": Frame(bytes(16), "u8", (4, 4))})
    try:
        validate(parse_request(raw, LIMITS))
    except ProtocolError as exc:
        assert exc.code in (ErrorCode.BAD_PARAMS, ErrorCode.UNKNOWN_FIELD)


@given(st.sampled_from([np.uint8, np.uint16, np.int32]), st.lists(st.integers(-2**31, 2**31 - 1), min_size=1,
                                                                  max_size=40))
def test_label_maps_are_numbered_densely_whatever_their_values(dtype, values) -> None:
    from chromaseg.bridge.daemon.handlers import core_labels

    info = np.iinfo(dtype)
    labels = np.clip(values, info.min, info.max).astype(dtype)[None]
    out = core_labels(labels)
    segment = labels > 0
    assert out.dtype == np.int32 and out.shape == labels.shape and (out[~segment] == -1).all()
    # the same pixels share a segment, numbered 0..n-1 in label order
    assert np.array_equal(out[segment], np.unique(labels[segment], return_inverse=True)[1].ravel())
