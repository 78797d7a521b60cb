"""A daemon that dies is noticed within 2 s, started again through the one launcher when autostart is on, and the
request is sent once more: the blocking client and the editors' runner alike (issue 17, item 3)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from bridge_helpers import halves, photo, serve_command

from chromaseg.bridge.client import Client, DaemonUnavailable, Frame, Reply
from chromaseg.plugins.common.actions import Plan
from chromaseg.plugins.common.runner import Runner, State
from chromaseg.plugins.common.settings import Settings

DETECTED_WITHIN = 2.0  # seconds from the daemon's death to the client knowing
RESTART_WITHIN = 90.0  # seconds to start a daemon again on a loaded 2-core machine (it answers before its models load)


def _endpoint(tmp_path: Path) -> str:
    os.chmod(tmp_path, 0o700)
    return f"ipc://{tmp_path}/run/daemon.sock"


def _kill(pid: int) -> None:
    """SIGKILL: the daemon gets no chance to say goodbye; wait until the process is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)  # our child when the launcher started it: reap it
        except ChildProcessError:
            waited = pid if not os.path.exists(f"/proc/{pid}") else 0
        if waited == pid:
            return
        time.sleep(0.02)
    raise AssertionError(f"daemon {pid} did not die")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _long_harmonize_frames() -> dict[str, Frame]:
    return {"layer": Frame.from_array(photo(2048, 2048, 3, seed=5)), "segments": Frame.from_array(halves(2048, 2048))}


def test_a_dead_daemon_fails_the_job_within_2_s(fresh_daemon, backend) -> None:
    d = fresh_daemon(wait_models=False)
    with Client(d.endpoint, timeout=30, backend=backend) as c:
        job = c.submit("harmonize", {}, _long_harmonize_frames())
        while job.progress is None or job.progress.stage != "harmonize":
            assert job.poll() is None
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        dead = time.monotonic()
        with pytest.raises(DaemonUnavailable):
            job.wait(30)
        assert time.monotonic() - dead < DETECTED_WITHIN


def test_a_killed_daemon_is_started_again_and_the_next_request_succeeds(tmp_path, backend) -> None:
    endpoint = _endpoint(tmp_path)
    c = Client(endpoint, timeout=30, backend=backend, autostart=True, start_command=serve_command(endpoint, tmp_path),
               start_timeout=RESTART_WITHIN)
    first = c.info()["pid"]
    try:
        _kill(first)
        dead = time.monotonic()
        assert c.ping()["pong"]  # the idle client's first request after the death: autostarted, not failed
        assert time.monotonic() - dead < RESTART_WITHIN
        info = c.info()
        assert info["pid"] != first and info["endpoint"] == endpoint
    finally:
        pid = c.server_info["pid"] if c.server_info else None
        c.close()
        if pid:
            _stop(pid)


def test_a_job_in_flight_when_the_daemon_dies_is_sent_once_more(tmp_path) -> None:
    endpoint = _endpoint(tmp_path)
    c = Client(endpoint, timeout=30, autostart=True, start_command=serve_command(endpoint, tmp_path),
               start_timeout=RESTART_WITHIN)
    first = c.info()["pid"]
    try:
        frames = _long_harmonize_frames()
        job = c.submit("harmonize", {}, frames)
        while job.progress is None or job.progress.stage != "harmonize":
            assert job.poll() is None
        _kill(first)
        reply = job.wait(RESTART_WITHIN + 120)
        assert reply.frames["layer"].shape == (2048, 2048, 3) and "changed_pixels" in reply.result
        info = c.info()
        assert info["pid"] != first and info["stats"]["by_op"].get("harmonize") == 1  # sent exactly once more
    finally:
        pid = c.server_info["pid"] if c.server_info else None
        c.close()
        if pid:
            _stop(pid)


def test_the_runner_starts_a_killed_daemon_again_and_its_next_action_succeeds(tmp_path) -> None:
    endpoint = _endpoint(tmp_path)
    runner = Runner(Settings(endpoint=endpoint, daemon_command=" ".join(serve_command(endpoint, tmp_path))))
    layer = np.full((32, 48, 3), 120, np.uint8)
    plan = Plan("Harmonize", "harmonize", {}, {"layer": Frame.from_array(layer),
                                               "segments": Frame.from_array(halves(32, 48))}, _applied)

    def run() -> State:
        update = runner.start(plan)
        deadline = time.monotonic() + RESTART_WITHIN + 30
        while runner.busy and time.monotonic() < deadline:
            time.sleep(0.02)
            update = runner.pump()
        assert not runner.busy, update
        return update.state

    try:
        assert run() is State.DONE
        first = runner._client.server_info["pid"]
        _kill(first)
        assert run() is State.DONE  # found dead, started again through the launcher, the action sent once more
        assert runner._client.server_info["pid"] != first
    finally:
        pid = runner._client.server_info["pid"] if runner._client and runner._client.server_info else None
        runner.close()
        if pid:
            _stop(pid)


def _applied(reply: Reply) -> str:
    return "applied"
