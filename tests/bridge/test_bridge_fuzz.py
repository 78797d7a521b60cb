"""Fuzz: over ten thousand malformed and hostile requests against a real daemon under a memory cap. Every one gets
exactly one final answer, none of them `internal`, and the daemon is still serving at the end.

Frames are tiny and almost every message fails validation in the socket loop; the few that reach the worker (pixel
content: NaN, label maps, empty selections) are refused there before any model runs.
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import zmq
from bridge_helpers import Daemon, assert_no_internal, memory_kib, start_daemon

from chromaseg.bridge.contract import OPS
from chromaseg.bridge.daemon.handlers import MAX_SEGMENTS

MESSAGES = 10_500
BATCH = 50  # messages in flight at once; the daemon's per-client queue is raised to match
MEMORY_LIMIT = 3 << 30  # address space of the daemon (torch alone maps about 1.4 GiB)
H, W = 6, 8  # every frame of an op is this small

Message = tuple[list[bytes], frozenset[str] | None]  # parts, and the codes it may get (None: any but `internal`)

HUGE_INT = 10**400
HOSTILE_VALUES: list[Any] = [
    HUGE_INT, -HUGE_INT, 10**308, 1e308, -1e308, 5e-324, -0.0, 0, -1, 2**63, True, False, "", "x" * 2000, "1",
    [], [[]], [None], [True, False], [1, 2, 3], [[1, 2]] * 300, [[HUGE_INT, 1]], [[1, 1e308]], [[0, 0, 0]],
    [[[[[[1]]]]]], {}, {"a": 1}, [1, 2, 3, 4], [0, 0, 0, 0], [4, 4, 1, 1], [-9, -9, -1, -1],
    [1e308, 1e308, 1e308, 2e308],  # 2e308 is written as Infinity
]
RAW_GARBAGE: list[bytes] = [
    b"", b"\x00", b"\xff\xfe", b"null", b"1", b'"s"', b"[]", b"{", b"}", b"{{}}", b'{"v": NaN}', b'{"v": Infinity}',
    b'{"v": -Infinity}', b'{"v": 1e999}', b"[" * 3000, b'{"a":' * 3000, b"\xed\xa0\x80", "{\u2028}".encode(),
    b'{"v": 1, "op": "ping", "id": "a", "params": {"x": NaN}}', b'{"v": 1, "op": "ping", "id": "a"} trailing',
    b'{"v": 1, "v": 2, "op": "ping"}', b'{"v": 1' + b"0" * 5000 + b"}",
]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def request(op: str, rid: str, params: Any = None, frames: list[dict] | None = None, **extra: Any) -> bytes:
    h: dict[str, Any] = {"v": 1, "op": op, "id": rid}
    if params is not None:
        h["params"] = params
    if frames is not None:
        h["frames"] = frames
    h.update(extra)
    return dumps(h)


def desc(name: str, dtype: str, shape: list[Any]) -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": shape}


def frame(name: str, a: np.ndarray) -> tuple[dict[str, Any], bytes]:
    dtype = {"uint8": "u8", "uint16": "u16", "int32": "i32", "float32": "f32"}[str(a.dtype)]
    return desc(name, dtype, list(a.shape)), a.tobytes()


def layer(rng: random.Random, channels: int = 3, dtype: Any = np.uint8) -> np.ndarray:
    a = np.random.default_rng(rng.randrange(1 << 30)).random((H, W, channels) if channels else (H, W))
    return a.astype(np.float32) if dtype == np.float32 else (a * np.iinfo(dtype).max).astype(dtype)


def job(op: str, rid: str, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[bytes]:
    pairs = [frame(n, a) for n, a in arrays.items()]
    return [request(op, rid, params, [d for d, _ in pairs]), *(b for _, b in pairs)]


# --- message classes: each makes one malformed message from an id and a seeded RNG ------------------------------------


def garbage(rid: str, rng: random.Random) -> Message:
    raw = rng.choice(RAW_GARBAGE) if rng.random() < 0.6 else rng.randbytes(rng.randrange(0, 300))
    return [raw, *[b"x"] * rng.randrange(3)], None


def truncated_json(rid: str, rng: random.Random) -> Message:
    whole = request("ping", rid, {}, [])
    return [whole[: rng.randrange(len(whole))]], frozenset({"bad_message"})


def bad_header_field(rid: str, rng: random.Random) -> Message:
    field = rng.choice(["v", "id", "op", "params", "frames"])
    value = rng.choice([*HOSTILE_VALUES, None, "ping", 2, 1.0, "0" * 65, "a b", "é"])
    h: dict[str, Any] = {"v": 1, "op": "ping", "id": rid, "params": {}, "frames": []}
    h[field] = value
    return [dumps(h)], None


def unknown_field(rid: str, rng: random.Random) -> Message:
    return [request("ping", rid, {}, [], **{rng.choice(["colour", "V", "Op", "x" * 40]): 1})], frozenset(
        {"unknown_field"})


def unknown_op(rid: str, rng: random.Random) -> Message:
    op = rng.choice(["", "PING", "launch", "colorise", "echo ", "x" * 10_000, "ping\x00"])
    return [request(op, rid)], frozenset({"unknown_op"})


def bad_descriptor(rid: str, rng: random.Random) -> Message:
    d: dict[str, Any] = desc("a", "u8", [4])
    key = rng.choice(["name", "dtype", "shape", "extra", "drop"])
    if key == "drop":
        del d[rng.choice(["name", "dtype", "shape"])]
    elif key == "shape":
        d["shape"] = rng.choice([[0], [-1], [1.5], [True], ["4"], [HUGE_INT], [1, 1, 1, 1, 1], [], 4, None,
                                 [2**62, 2**62], [4, -4], [[4]]])
    elif key == "dtype":
        d["dtype"] = rng.choice(["u64", "f16", "U8", "", None, 8, ["u8"], "x" * 5000])
    elif key == "name":
        d["name"] = rng.choice(["", "A", "1a", "a" * 33, "a-b", None, 7, ["a"], "é"])
    else:
        d["stride"] = 4
    return [request("echo", rid, {}, [d]), b"xxxx"], None


def frame_mismatch(rid: str, rng: random.Random) -> Message:
    n = rng.randrange(1, 4)
    descs = [desc(f"f{i}", rng.choice(["u8", "u16", "i32", "f32"]), [rng.randrange(1, 9)]) for i in range(n)]
    sizes = [{"u8": 1, "u16": 2, "i32": 4, "f32": 4}[d["dtype"]] * d["shape"][0] for d in descs]
    kind = rng.choice(["short", "long", "missing", "extra", "empty"])
    parts = [b"\x01" * s for s in sizes]
    if kind == "short":
        parts[-1] = parts[-1][:-1]
    elif kind == "long":
        parts[0] += b"\x00"
    elif kind == "missing":
        parts.pop()
    elif kind == "extra":
        parts += [b"y"] * rng.randrange(1, 4)
    else:
        parts[rng.randrange(n)] = b""
    return [request("echo", rid, {}, descs), *parts], frozenset({"frame_mismatch"})


def too_many_or_too_large(rid: str, rng: random.Random) -> Message:
    if rng.random() < 0.5:
        n = rng.randrange(9, 40)
        return [request("echo", rid, {}, [desc(f"f{i}", "u8", [1]) for i in range(n)]), *[b"x"] * n], frozenset(
            {"too_many_frames"})
    dtype, shape = rng.choice([("u8", [200_000, 200_000]), ("u8", [10_001, 10_000]), ("f32", [9000, 9000, 4]),
                               ("u8", [1, 1, 2**40]), ("i32", [2**40]), ("u16", [HUGE_INT, 1])])
    return [request("echo", rid, {}, [desc("a", dtype, shape)])], frozenset({"too_large"})


def oversized_header(rid: str, rng: random.Random) -> Message:
    pad = {"points": [[1, 1]] * 12_000} if rng.random() < 0.5 else {"junk": "x" * 70_000}
    return [request("segment", rid, pad)], frozenset({"too_large"})


def bad_param(rid: str, rng: random.Random) -> Message:
    op = rng.choice(["segment", "colorize", "harmonize", "cancel", "ping", "info"])
    names = sorted(OPS[op].specs) or ["x"]
    params = {rng.choice(names): rng.choice(HOSTILE_VALUES) for _ in range(rng.randrange(1, 3))}
    if op == "cancel":
        params.setdefault("target", 12)  # a bad target: the request never becomes a valid cancel
    arrays: dict[str, np.ndarray] = {"layer": layer(rng)} if op in ("segment", "colorize", "harmonize") else {}
    if op == "segment":  # a valid request would run the segmenter: keep it invalid through the frames
        arrays["junk"] = np.zeros(1, np.uint8)
    if op in ("colorize", "harmonize"):
        arrays["selection"] = np.zeros((H + 1, W), np.uint8)
    return job(op, rid, params, arrays), None


def bad_frames_for_op(rid: str, rng: random.Random) -> Message:
    op = rng.choice(["segment", "colorize", "harmonize"])
    kind = rng.choice(["dtype", "channels", "size", "missing", "unknown", "rank"])
    arrays: dict[str, np.ndarray] = {"layer": layer(rng, 4)}
    code = {"dtype": "bad_dtype", "channels": "bad_shape", "size": "bad_shape", "missing": "frame_mismatch",
            "unknown": "unknown_field", "rank": "bad_shape"}[kind]
    if kind == "dtype":
        arrays["layer"] = np.zeros((H, W, 3), np.int32)
    elif kind == "channels":
        arrays["layer"] = np.zeros((H, W, rng.choice([1, 2, 5])), np.uint8)
    elif kind == "size":
        arrays["selection"] = np.zeros((H, W + rng.choice([-1, 1])), np.uint8)
    elif kind == "missing":
        arrays = {"selection": np.zeros((H, W), np.uint8)}
    elif kind == "unknown":
        arrays["mask"] = np.zeros((H, W), np.uint8)
    else:
        arrays["layer"] = np.zeros((H, W, 3, 1), np.uint8)
    return job(op, rid, {}, arrays), frozenset({code})


def degenerate_prompt(rid: str, rng: random.Random) -> Message:
    params = rng.choice([
        {"box": [2, 2, 2, 5]}, {"box": [5, 2, 2, 5]}, {"box": [2, 5, 5, 2]}, {"box": [W, 0, W + 5, H]},
        {"box": [-10, -10, -1, -1]}, {"box": [0.1, 0, 0.4, H]}, {"box": [1e308, 1e308, 1.5e308, 1.7e308]},
        {"points": [[W, 0]]}, {"points": [[-1, 1]]}, {"points": [[1, H + 0.5]]}, {"points": [[HUGE_INT, 1]]},
        {"points": [[1, 1]], "labels": [0]}, {"points": [[1, 1], [2, 2]], "labels": [0, 0]},
        {"points": [[1, 1]], "labels": [1, 0]}, {"labels": [1]}, {"points": [], "labels": [1]},
        {"points": [[1, 1]], "labels": [2]}, {"points": [[1, 1]], "labels": [True]},
    ])
    return job("segment", rid, params, {"layer": layer(rng)}), frozenset({"bad_params"})


def bad_pixels(rid: str, rng: random.Random) -> Message:
    """Reaches the worker: refused there from the pixels, before any model runs."""
    kind = rng.choice(["nan_layer", "nan_hints", "nan_prompts", "nan_hint_list", "labels", "empty_selection",
                       "selection_outside_box", "unpainted_prompts", "red_prompts"])
    if kind in ("nan_layer", "nan_hints", "nan_prompts", "nan_hint_list"):
        a = layer(rng, 4, np.float32)
        a[rng.randrange(H), rng.randrange(W), rng.randrange(4)] = rng.choice([np.nan, np.inf, -np.inf])
        if kind == "nan_layer":
            op = rng.choice(["colorize", "harmonize", "segment"])
            return job(op, rid, {}, {"layer": a}), frozenset({"bad_frame"})
        if kind == "nan_prompts":
            return job("segment", rid, {}, {"layer": layer(rng), "prompts": a}), frozenset({"bad_frame"})
        if kind == "nan_hint_list":
            return job("hints", rid, {}, {"hints": a}), frozenset({"bad_frame"})
        return job("colorize", rid, {}, {"layer": layer(rng), "hints": a}), frozenset({"bad_frame"})
    if kind in ("unpainted_prompts", "red_prompts"):  # no positive click: refused before the segmenter runs
        dtype = rng.choice([np.uint8, np.uint16, np.float32])
        top = 1 if dtype == np.float32 else np.iinfo(dtype).max
        prompts = np.zeros((H, W, 4), dtype)
        if kind == "red_prompts":
            prompts[rng.randrange(H), rng.randrange(W)] = (top, 0, 0, top)
        params = {"points": [[1, 1]], "labels": [0]} if rng.random() < 0.5 else {}
        return job("segment", rid, params, {"layer": layer(rng), "prompts": prompts}), frozenset({"bad_params"})
    if kind == "labels":
        side = int(np.ceil(np.sqrt(MAX_SEGMENTS + 1)))
        labels = np.arange(1, side * side + 1, dtype=np.int32).reshape(side, side)
        if rng.random() < 0.5:
            labels *= 500_000  # huge values too
        big = np.zeros((side, side, 3), np.uint8)
        op = rng.choice(["colorize", "harmonize"])
        params = {"harmonize": True} if op == "colorize" else {}
        return job(op, rid, params, {"layer": big, "segments": labels}), frozenset({"bad_frame"})
    selection = np.zeros((H, W), np.uint8)
    params: dict[str, Any] = {}
    if kind == "selection_outside_box":
        selection[H - 1, W - 1] = 255
        params["box"] = [0, 0, 2, 2]
    return job("segment", rid, params, {"layer": layer(rng), "selection": selection}), frozenset({"bad_params"})


def bad_cancel(rid: str, rng: random.Random) -> Message:
    target = rng.choice([None, "", "x" * 65, 7, [], {}, True])
    return [request("cancel", rid, {} if target is None else {"target": target})], frozenset({"bad_params"})


CLASSES: list[tuple[Callable[[str, random.Random], Message], int]] = [  # (class, weight)
    (garbage, 10), (truncated_json, 5), (bad_header_field, 12), (unknown_field, 3), (unknown_op, 3),
    (bad_descriptor, 12), (frame_mismatch, 10), (too_many_or_too_large, 6), (oversized_header, 1),
    (bad_param, 20), (bad_frames_for_op, 8), (degenerate_prompt, 8), (bad_pixels, 3), (bad_cancel, 2),
]


def messages(seed: int, count: int) -> Iterator[tuple[str, Message]]:
    rng = random.Random(seed)
    classes, weights = zip(*CLASSES)
    for i in range(count):
        yield f"fz{i}", rng.choices(classes, weights)[0](f"fz{i}", rng)


# --- the test -------------------------------------------------------------------------------------------------------


@pytest.fixture
def capped_daemon(tmp_path: Path, tiny_colorizer_checkpoint: Path) -> Iterator[Daemon]:
    d = start_daemon(tmp_path / "fuzz", "tcp://127.0.0.1:0", "--colorizer", str(tiny_colorizer_checkpoint),
                     "--max-queue", str(BATCH), memory_limit=MEMORY_LIMIT)
    yield d
    assert d.stop() == 0


def _final_replies(sock: zmq.Socket, count: int) -> list[dict[str, Any]]:
    """The next `count` final replies (progress skipped); fewer when the daemon stays silent for 30 s."""
    finals: list[dict[str, Any]] = []
    while len(finals) < count and sock.poll(30_000):
        head = json.loads(sock.recv_multipart()[0])
        if head["kind"] != "progress":
            finals.append(head)
    return finals


def test_fuzz_ten_thousand_malformed_messages(capped_daemon: Daemon) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(capped_daemon.endpoint)
    pid = capped_daemon.proc.pid
    codes: Counter[str] = Counter()
    wrong: list[str] = []
    unanswered = 0
    started = time.monotonic()
    try:
        pending: dict[str, frozenset[str] | None] = {}
        for n, (rid, (parts, expect)) in enumerate(messages(seed=11, count=MESSAGES), start=1):
            sock.send_multipart(parts)
            pending[rid] = expect
            if n % BATCH and n != MESSAGES:
                continue
            replies = _final_replies(sock, len(pending))
            unanswered += len(pending) - len(replies)
            for head in replies:
                code = head["error"]["code"] if head["kind"] == "error" else "ok"
                codes[code] += 1
                rid = head["id"]
                if not (isinstance(rid, str) and rid.startswith("fz")):
                    continue  # the request's own id was unreadable or one of the hostile values
                if rid not in pending:
                    wrong.append(f"{rid}: a reply to nothing pending (duplicate?)")
                expect = pending.pop(rid, None)
                if expect is not None and code not in expect:
                    wrong.append(f"{rid}: {code} (expected {sorted(expect)}): {head.get('error')}")
            pending.clear()
        sock.send_multipart([request("ping", "alive")])
        pong = _final_replies(sock, 1)
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    rss, peak = memory_kib(pid), memory_kib(pid, "VmHWM")
    print(f"\nfuzz: {MESSAGES} messages in {elapsed:.1f} s; replies by code {dict(codes.most_common())}; "
          f"daemon RSS {rss / 1024:.0f} MiB (peak {peak / 1024:.0f} MiB, address space capped at "
          f"{MEMORY_LIMIT >> 30} GiB)")
    assert capped_daemon.proc.poll() is None, "the daemon died"
    assert pong and pong[0]["result"]["pong"], "the daemon stopped answering"
    assert unanswered == 0
    assert codes["internal"] == 0
    assert sum(codes.values()) == MESSAGES
    assert not wrong, "\n".join(wrong[:20])
    assert len(codes) >= 12  # the classes reach every check, not one error path
    assert_no_internal(capped_daemon)

