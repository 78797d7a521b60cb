"""The runner against real daemon subprocesses: submit, pump, progress, cancel, failures, autostart."""
from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from bridge_helpers import Daemon, serve_command
from common_fakes import FakeDocument, box_mask, gray_bgra, object_rect

from chromaseg.plugins.common import actions
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.geometry import Rect
from chromaseg.plugins.common.runner import Runner, State, Update
from chromaseg.plugins.common.settings import Settings

W, H = 96, 64


def pump_until_final(runner: Runner, first: Update, limit: float = 120.0) -> tuple[Update, list[Update]]:
    """Pump like a UI timer would (every 20 ms); `limit` only stops a hung test, nothing asserts on time."""
    seen = [first]
    end = time.monotonic() + limit
    while runner.busy and time.monotonic() < end:
        time.sleep(0.02)
        seen.append(runner.pump())
    return seen[-1], seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_colorize_selection_through_a_real_daemon(daemon: Daemon) -> None:
    doc = FakeDocument(W, H, gray_bgra(W, H), selection=box_mask(W, H, Rect(30, 20, 30, 20)))
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    plan = actions.colorize(doc, Settings(), selection_only=True)
    last, seen = pump_until_final(runner, runner.start(plan))
    assert last.state is State.DONE, last.message
    assert any(u.state is State.RUNNING for u in seen) and last.fraction == 1.0
    name, rect, pixels, mask = doc.results[0]
    assert name.startswith("Colorized · Background") and rect == Rect(14, 4, 62, 52)
    assert len(pixels) == rect.w * rect.h * 4 and mask == box_mask(rect.w, rect.h, Rect(16, 16, 30, 20))
    assert pixels[3::4] == bytes([255]) * (rect.w * rect.h)  # alpha kept
    status = runner.daemon_status()
    assert status.startswith("Daemon ") and "colorizer ready" in status and status.endswith("; idle."), status
    assert "segments: classical fallback; for SAM: pip install segment-anything" in status, status  # no SAM weights
    runner.close()


def test_select_object_and_auto_segment_through_a_real_daemon(daemon: Daemon) -> None:
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    obj = object_rect(W, H)
    dot = bytearray(W * H * 4)
    for y in range(obj.y + obj.h // 2, obj.y + obj.h // 2 + 2):
        for x in range(obj.x + obj.w // 2, obj.x + obj.w // 2 + 2):
            dot[4 * (y * W + x) : 4 * (y * W + x) + 4] = b"\x00\xff\x00\xff"  # green, BGRA
    doc = FakeDocument(W, H, gray_bgra(W, H), selection=box_mask(W, H, Rect(2, 2, 6, 6)), clicks=bytes(dot))
    from chromaseg.plugins.common.adapter import SelectionMode

    last, _ = pump_until_final(runner, runner.start(actions.select_object(doc, Settings(), SelectionMode.ADD)))
    assert last.state is State.DONE, last.message
    assert "from 1 click" in last.message
    rect, mask, mode = doc.selection_ops[0]
    assert mode is SelectionMode.ADD and rect == Rect(0, 0, W, H) and mask.count(255) > 0
    inside = [mask[y * W + x] for y in range(obj.y, obj.bottom) for x in range(obj.x, obj.right)]
    assert inside.count(255) > 0.8 * len(inside) and mask.count(255) < 1.3 * obj.area  # the object, not the box
    last, _ = pump_until_final(runner, runner.start(actions.auto_segment(doc, Settings(max_segments=8))))
    assert last.state is State.DONE, last.message
    _, _, masks = doc.segment_groups[0]
    assert 1 <= len(masks) <= 8
    runner.close()


def test_harmonize_through_a_real_daemon(daemon: Daemon) -> None:
    colored = bytearray(gray_bgra(W, H))
    colored[0::4] = bytes((i * 7) % 256 for i in range(W * H))  # some blue variation to harmonize
    doc = FakeDocument(W, H, bytes(colored))
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    last, _ = pump_until_final(runner, runner.start(actions.harmonize(doc, Settings())))
    assert last.state is State.DONE, last.message
    assert doc.results[0][0] == "Harmonized · Background" and len(doc.results[0][2]) == W * H * 4
    runner.close()


def test_a_failing_write_leaves_the_document_alone_and_says_why(daemon: Daemon) -> None:
    doc = FakeDocument(W, H, gray_bgra(W, H), fail_writes=True)
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    last, _ = pump_until_final(runner, runner.start(actions.colorize(doc, Settings(), selection_only=False)))
    assert last.state is State.FAILED and "refuses writes" in last.message and doc.results == []
    runner.close()


def test_daemon_errors_become_artist_messages(daemon: Daemon) -> None:
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    plan = Plan("Broken", "colorize", {"vibrancy": 99.0}, actions.colorize(
        FakeDocument(8, 8, gray_bgra(8, 8)), Settings(), selection_only=False).frames, lambda r: "never")
    last, _ = pump_until_final(runner, runner.start(plan))
    assert last.state is State.FAILED and "could not do it" in last.message and "vibrancy" in last.message
    runner.close()


def test_one_job_at_a_time_and_cancel(daemon: Daemon) -> None:
    big = 512
    doc = FakeDocument(big, big, gray_bgra(big, big))
    runner = Runner(Settings(endpoint=daemon.endpoint, autostart=False))
    first = runner.start(actions.harmonize(doc, Settings()))
    assert first.state is State.RUNNING
    again = runner.start(actions.harmonize(doc, Settings()))
    assert "already running" in again.message
    cancelling = runner.cancel()
    assert cancelling.state is State.RUNNING and "cancelling" in cancelling.message
    last, _ = pump_until_final(runner, cancelling)
    # the daemon may finish a short job before it sees the cancel; either way the state is final and truthful
    assert last.state in (State.CANCELLED, State.DONE), last.message
    assert (last.state is State.CANCELLED) == (doc.results == [])
    if last.state is State.CANCELLED:
        assert "document is unchanged" in last.message
    runner.close()


def test_no_daemon_and_no_autostart_is_a_clear_refusal(tmp_path: Path) -> None:
    runner = Runner(Settings(endpoint=f"ipc://{tmp_path}/none.sock", autostart=False))
    update = runner.start(actions.colorize(FakeDocument(8, 8, gray_bgra(8, 8)), Settings(), selection_only=False))
    assert update.state is State.FAILED and "not running" in update.message and "chromaseg serve" in update.message
    assert "not running" in runner.daemon_status()


def test_autostart_runs_the_configured_command_without_blocking(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    command = " ".join(serve_command(endpoint, tmp_path))
    runner = Runner(Settings(endpoint=endpoint, daemon_command=command))
    doc = FakeDocument(W, H, gray_bgra(W, H), selection=box_mask(W, H, Rect(10, 10, 20, 20)))
    from chromaseg.plugins.common.adapter import SelectionMode

    first = runner.start(actions.select_object(doc, Settings(), SelectionMode.REPLACE))
    try:
        assert first.state is State.STARTING and "starting the chromaseg daemon" in first.message
        last, seen = pump_until_final(runner, first)
        assert last.state is State.DONE, last.message
        assert any(u.state is State.RUNNING for u in seen) and doc.selection_ops
    finally:
        runner.close()
        proc = runner._process
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_autostart_reports_a_daemon_that_dies(tmp_path: Path) -> None:
    runner = Runner(Settings(endpoint=f"ipc://{tmp_path}/x.sock", daemon_command="false"))
    first = runner.start(actions.colorize(FakeDocument(8, 8, gray_bgra(8, 8)), Settings(), selection_only=False))
    last, _ = pump_until_final(runner, first)
    assert last.state is State.FAILED and "exited at start (status 1)" in last.message
