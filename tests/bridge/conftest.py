"""Fixtures: real daemons in subprocesses (loopback TCP on a port they pick, or IPC in a private tmp dir)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from bridge_helpers import Daemon, assert_no_internal, start_daemon


@pytest.fixture(scope="session")
def ipc_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("ipc")
    d = start_daemon(work, f"ipc://{work}/run/daemon.sock")
    yield d
    assert_no_internal(d)
    assert d.stop() == 0


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """A daemon of the test's own (to kill, to stop, or with special limits)."""
    started: list[Daemon] = []

    def make(*extra: str, endpoint: str = "tcp://127.0.0.1:0", wait_models: bool = True) -> Daemon:
        d = start_daemon(tmp_path / f"d{len(started)}", endpoint, *extra, wait_models=wait_models)
        started.append(d)
        return d

    yield make
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)
    for d in started:
        assert_no_internal(d)


@pytest.fixture(params=["zmq", "zmtp"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
