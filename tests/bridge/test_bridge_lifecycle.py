"""The daemon's life: start, crash, disconnects, shutdown, auto-start, endpoints, permissions, studio mode (CURVE)."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import zmq
import zmq.auth
from bridge_helpers import halves, photo, serve_command

from chromaseg.bridge.client import (BridgeError, Client, CurveKeys, DaemonUnavailable, Frame, RequestFailed,
                                     RequestTimeout)
from chromaseg.bridge.endpoint import default_endpoint, parse_endpoint
from chromaseg.bridge.daemon.server import ConfigError, ServerConfig, check_config


def _long_harmonize(c: Client):
    layer = photo(2048, 4096, 3, seed=3)
    job = c.submit("harmonize", {}, {"layer": Frame.from_array(layer), "segments": Frame.from_array(halves(2048, 4096))})
    while job.progress is None or job.progress.stage != "harmonize":
        assert job.poll() is None
    return job


@pytest.mark.parametrize("backend", ["zmq", "zmtp"])
def test_kill_9_mid_request_raises_a_clear_error(fresh_daemon, backend) -> None:
    d = fresh_daemon()
    with Client(d.endpoint, timeout=3, backend=backend) as c:
        job = _long_harmonize(c)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        # The client's own liveness check (timeout=3) or the dropped connection answers, never the outer bound.
        with pytest.raises((DaemonUnavailable, RequestTimeout), match="chromaseg serve") as err:
            job.wait(60)
        assert "crashed" in str(err.value)


def test_client_disconnecting_mid_job_cancels_it(fresh_daemon) -> None:
    d = fresh_daemon()
    c = Client(d.endpoint, backend="zmtp")
    _long_harmonize(c)
    c.close()  # the editor goes away mid-job
    with Client(d.endpoint) as other:
        deadline = time.monotonic() + 20
        while other.info()["jobs"]["running"] is not None:
            assert time.monotonic() < deadline, "the orphaned job kept running"
            time.sleep(0.05)
        assert other.info()["clients_with_jobs"] == 0 and other.ping()["pong"]
    assert "went away; cancelled" in d.log.read_text()


def test_sigterm_shuts_down_gracefully(fresh_daemon, tmp_path) -> None:
    sock = tmp_path / "run" / "daemon.sock"
    d = fresh_daemon(endpoint=f"ipc://{sock}")
    with Client(d.endpoint) as c:
        job = _long_harmonize(c)
        d.proc.send_signal(signal.SIGTERM)
        with pytest.raises(RequestFailed) as err:
            job.wait(30)
        assert err.value.code == "shutting_down"
    assert d.proc.wait(20) == 0
    assert not sock.exists()
    log = d.log.read_text()
    assert "shutting down" in log and "stopped" in log


def test_ipc_socket_is_private_and_not_stolen(fresh_daemon, tmp_path) -> None:
    sock = tmp_path / "run" / "daemon.sock"
    d = fresh_daemon(endpoint=f"ipc://{sock}", wait_models=False)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    second = subprocess.run(serve_command(d.endpoint, tmp_path), capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "already serving" in second.stderr
    with Client(d.endpoint) as c:
        assert c.ping()["pong"]


def test_non_loopback_bind_is_refused_without_curve(tmp_path) -> None:
    for endpoint in ("tcp://0.0.0.0:47999", "tcp://*:47999", "tcp://example.org:47999"):
        with pytest.raises(ConfigError, match="refusing"):
            check_config(ServerConfig(endpoint))
    check_config(ServerConfig("tcp://127.0.0.1:47999"))
    check_config(ServerConfig("tcp://[::1]:47999"))
    out = subprocess.run(serve_command("tcp://0.0.0.0:47999", tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "refusing" in out.stderr and "--curve-secret" in out.stderr


def test_default_endpoint_is_a_private_ipc_socket(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CHROMASEG_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    ep = parse_endpoint(default_endpoint())
    assert ep.transport == "ipc" and ep.address == str(tmp_path / "chromaseg" / "daemon.sock")
    assert stat.S_IMODE((tmp_path / "chromaseg").stat().st_mode) == 0o700
    monkeypatch.setenv("CHROMASEG_ENDPOINT", "tcp://127.0.0.1:5000")
    assert default_endpoint() == "tcp://127.0.0.1:5000"


def test_autostart_spawns_the_daemon(tmp_path) -> None:
    endpoint = f"ipc://{tmp_path}/auto/daemon.sock"
    os.chmod(tmp_path, 0o700)
    command = serve_command(endpoint, tmp_path)
    with Client(endpoint, autostart=True, start_command=command, start_timeout=60) as c:
        info = c.info()
        assert info["endpoint"] == endpoint
    os.kill(info["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 20
    while os.path.exists(f"{tmp_path}/auto/daemon.sock"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def curve_setup(tmp_path):
    keys = tmp_path / "keys"
    clients = tmp_path / "clients"
    keys.mkdir()
    clients.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(keys, "server")
    alice_public, alice_secret = zmq.auth.create_certificates(keys, "alice")
    zmq.auth.create_certificates(keys, "mallory")
    os.rename(alice_public, clients / "alice.key")
    return keys, clients, server_public, server_secret, alice_secret


def test_curve_studio_mode(fresh_daemon, curve_setup) -> None:
    keys, clients, server_public, server_secret, alice_secret = curve_setup
    d = fresh_daemon("--curve-secret", str(server_secret), "--curve-clients", str(clients), wait_models=False)
    alice = CurveKeys.from_files(server_public, alice_secret)
    with Client(d.endpoint, timeout=10, backend="zmq", curve=alice) as c:
        assert c.ping()["pong"] and c.info()["curve"] is True
        data = np.arange(1000, dtype=np.float32)
        assert bytes(c.request("echo", {}, {"x": Frame.from_array(data)}).frames["x"].data) == data.tobytes()
    # A client without keys, or with keys the daemon does not know, gets no answer: a clear error, no service.
    mallory = CurveKeys.from_files(server_public, keys / "mallory.key_secret")
    for curve in (None, mallory):
        with pytest.raises(DaemonUnavailable, match="chromaseg serve"):
            Client(d.endpoint, timeout=1.5, backend="zmq", curve=curve).ping()
    with pytest.raises(DaemonUnavailable):
        Client(d.endpoint, timeout=1.5, backend="zmtp").ping()
    with pytest.raises(BridgeError, match="pyzmq"):
        Client(d.endpoint, timeout=1.5, backend="zmtp", curve=alice).ping()


def test_curve_needs_both_halves(curve_setup, tmp_path) -> None:
    _, clients, _, server_secret, _ = curve_setup
    with pytest.raises(ConfigError, match="both"):
        check_config(ServerConfig("tcp://0.0.0.0:47999", curve_secret=server_secret))
    check_config(ServerConfig("tcp://0.0.0.0:47999", curve_secret=server_secret, curve_clients=clients))


def test_chromaseg_cli_lists_serve() -> None:
    out = subprocess.run([sys.executable, "-m", "chromaseg.cli.main", "serve", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--endpoint" in out.stdout
