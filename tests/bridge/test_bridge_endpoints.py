"""Endpoints and the client's view of the daemon (issue 11, items 4 and 6): `serve --endpoint` never removes anything
but a stale socket file, abstract IPC and IPv6 loopback work with both clients, startup errors are one line; the
client names the log the daemon reports, calls a CURVE refusal by its name and survives a daemon restart."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zmq.auth
from bridge_helpers import halves, photo, serve_command

from chromaseg.bridge.client import AccessDenied, Client, CurveKeys, DaemonUnavailable, Frame, RequestTimeout
from chromaseg.bridge import endpoint
from chromaseg.bridge.endpoint import default_log_path

LINUX = sys.platform.startswith("linux")


def _serve(endpoint: str, workdir: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `chromaseg serve` to its end (startup failures end it at once)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(serve_command(endpoint, workdir, *extra), capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def _assert_one_line_failure(out: subprocess.CompletedProcess, *expected: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0, out.stderr
    assert len(lines) == 1 and lines[0].startswith("chromaseg serve: "), out.stderr
    assert "Traceback" not in out.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- item 4: endpoints ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "directory", "symlink"])
def test_serve_never_removes_what_is_not_a_stale_socket(tmp_path, kind) -> None:
    target = tmp_path / "run" / "daemon.sock"
    target.parent.mkdir(mode=0o700)
    if kind == "file":
        target.write_text("an artist's notes")
    elif kind == "directory":
        target.mkdir()
        (target / "keep.txt").write_text("kept")
    else:
        (tmp_path / "elsewhere.txt").write_text("linked")
        target.symlink_to(tmp_path / "elsewhere.txt")
    out = _serve(f"ipc://{target}", tmp_path)
    _assert_one_line_failure(out, "refusing", "not a socket")
    if kind == "file":
        assert target.read_text() == "an artist's notes"
    elif kind == "directory":
        assert (target / "keep.txt").read_text() == "kept"
    else:
        assert target.is_symlink() and (tmp_path / "elsewhere.txt").read_text() == "linked"


def test_stale_socket_is_replaced_and_a_live_one_refused(fresh_daemon, tmp_path, backend) -> None:
    sock = tmp_path / "run" / "daemon.sock"
    sock.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))  # a socket file nobody listens on: what a daemon killed with -9 leaves behind
    dead.close()
    d = fresh_daemon(endpoint=f"ipc://{sock}", wait_models=False)
    with Client(d.endpoint, backend=backend) as c:
        assert c.ping()["pong"]
        out = _serve(d.endpoint, tmp_path / "second")
        _assert_one_line_failure(out, "already serving")
        assert c.ping()["pong"] and sock.exists()
    assert d.stop() == 0 and not sock.exists()


@pytest.mark.skipif(not LINUX, reason="abstract sockets are a Linux feature (the refusal elsewhere: below)")
def test_abstract_ipc_serves_both_clients_and_touches_no_file(fresh_daemon, tmp_path, monkeypatch) -> None:
    name = f"chromaseg-test-{secrets.token_hex(6)}"
    monkeypatch.chdir(tmp_path)  # the daemon's working directory: a file called "@name" there must stay
    (tmp_path / f"@{name}").write_text("not a socket")
    d = fresh_daemon(endpoint=f"ipc://@{name}", wait_models=False)
    assert d.endpoint == f"ipc://@{name}"
    for backend in ("zmq", "zmtp"):
        with Client(d.endpoint, backend=backend) as c:
            assert c.info()["endpoint"] == d.endpoint
            data = np.arange(4096, dtype=np.uint8)
            assert bytes(c.request("echo", {}, {"x": Frame.from_array(data)}).frames["x"].data) == data.tobytes()
    _assert_one_line_failure(_serve(d.endpoint, tmp_path / "second"), "already in use")
    assert d.stop() == 0
    assert (tmp_path / f"@{name}").read_text() == "not a socket"


def test_abstract_ipc_is_refused_in_one_line_elsewhere(monkeypatch) -> None:
    monkeypatch.setattr(endpoint.sys, "platform", "darwin")
    with pytest.raises(ValueError, match="Linux only") as err:
        endpoint.parse_endpoint("ipc://@chromaseg")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="Linux only"):
        Client("ipc://@chromaseg")


@pytest.mark.skipif(not _ipv6_loopback(), reason="this host has no IPv6 loopback")
def test_ipv6_loopback_serves_both_clients(fresh_daemon) -> None:
    d = fresh_daemon(endpoint="tcp://[::1]:0", wait_models=False)
    assert d.endpoint.startswith("tcp://[::1]:")
    for backend in ("zmq", "zmtp"):
        with Client(d.endpoint, backend=backend) as c:
            assert c.info()["endpoint"] == d.endpoint
            data = np.arange(1 << 16, dtype=np.float32)
            assert bytes(c.request("echo", {}, {"x": Frame.from_array(data)}).frames["x"].data) == data.tobytes()


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, Path]:
    keys, clients = tmp_path / "keys", tmp_path / "clients"
    keys.mkdir()
    clients.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(keys, "server")
    alice_public, alice_secret = zmq.auth.create_certificates(keys, "alice")
    zmq.auth.create_certificates(keys, "mallory")
    os.rename(alice_public, clients / "alice.key")
    return {"server_public": Path(server_public), "server_secret": Path(server_secret), "clients": clients,
            "alice_secret": Path(alice_secret), "mallory_public": keys / "mallory.key",
            "mallory_secret": keys / "mallory.key_secret"}


def test_startup_errors_are_one_line_without_traceback(tmp_path, certificates) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    garbage = tmp_path / "garbage.key_secret"
    garbage.write_text("not a certificate\n")
    junk_clients = tmp_path / "junk_clients"
    junk_clients.mkdir()
    (junk_clients / "bob.key").write_text("no key in here\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            (["tcp://127.0.0.1:port"], "tcp://127.0.0.1:47231"),
            (["udp://127.0.0.1:5000"], "ipc:// or tcp://"),
            (["ipc://"], "needs a path"),
            ([f"tcp://127.0.0.1:{port}"], "in use"),
            ([f"ipc://{a_file}/daemon.sock"], "cannot create the directory"),
            (["tcp://127.0.0.1:0", "--curve-secret", str(tmp_path), "--curve-clients", str(certificates["clients"])],
             "certificate"),
            (["tcp://127.0.0.1:0", "--curve-secret", str(garbage), "--curve-clients", str(certificates["clients"])],
             "certificate"),
            (["tcp://127.0.0.1:0", "--curve-secret", str(certificates["server_secret"]), "--curve-clients",
              str(junk_clients)], "client certificates"),
            (["tcp://127.0.0.1:0", "--curve-secret", str(certificates["server_secret"]), "--curve-clients",
              str(tmp_path / "missing")], "not a directory"),
            (["tcp://127.0.0.1:0", "--log-file", str(a_file / "daemon.log")], "log file"),
        ]
        for n, (args, expected) in enumerate(cases):
            _assert_one_line_failure(_serve(args[0], tmp_path / f"w{n}", *args[1:]), expected)


def test_unwritable_ready_file_ends_the_daemon_in_one_line(tmp_path) -> None:
    out = _serve("tcp://127.0.0.1:0", tmp_path, "--ready-file", str(tmp_path / "missing" / "ready"))
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert lines[-1].startswith("chromaseg serve: stopped") and "ready" in lines[-1]


# --- item 6: the client ---------------------------------------------------------------------------------------------


def _long_harmonize(c: Client):
    job = c.submit("harmonize", {}, {"layer": Frame.from_array(photo(2048, 2048, 3, seed=5)),
                                     "segments": Frame.from_array(halves(2048, 2048))})
    while job.progress is None or job.progress.stage != "harmonize":
        assert job.poll() is None
    return job


def test_info_reports_the_log_and_the_client_names_it(fresh_daemon, backend) -> None:
    d = fresh_daemon(wait_models=False)
    assert d.log != default_log_path()
    with Client(d.endpoint, timeout=3, backend=backend) as c:
        assert c.info()["log"] == str(d.log) == c.daemon_log
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        with pytest.raises(DaemonUnavailable) as err:  # the port is gone: the reconnect finds nobody
            c.ping()
    assert str(d.log) in str(err.value) and str(default_log_path()) not in str(err.value)


def test_client_that_never_reached_a_daemon_does_not_claim_a_log_path(tmp_path) -> None:
    with pytest.raises(DaemonUnavailable) as err:
        Client(f"ipc://{tmp_path}/none.sock", timeout=1).ping()
    assert "--log-file" in str(err.value)


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_idle_client_survives_a_daemon_restart(fresh_daemon, tmp_path, backend, transport) -> None:
    endpoint = f"ipc://{tmp_path}/run/daemon.sock" if transport == "ipc" else f"tcp://127.0.0.1:{_free_port()}"
    first = fresh_daemon(endpoint=endpoint, wait_models=False)
    with Client(endpoint, timeout=30, backend=backend) as c:  # long: no liveness ping on a slow (loaded) machine
        assert c.info()["pid"] == first.proc.pid
        assert first.stop() == 0
        second = fresh_daemon(endpoint=endpoint, wait_models=False)
        assert c.ping()["pong"]  # the first request after the restart succeeds
        info = c.info()
        assert info["pid"] == second.proc.pid
        # The new daemon saw the reconnect's handshake, the ping and this info: the ping was sent exactly once.
        assert info["stats"]["requests"] == 3


def test_job_in_flight_when_the_daemon_dies_fails_and_is_never_resent(fresh_daemon, tmp_path, backend) -> None:
    endpoint = f"ipc://{tmp_path}/run/daemon.sock"
    first = fresh_daemon(endpoint=endpoint)
    with Client(endpoint, timeout=3, backend=backend) as c:
        job = _long_harmonize(c)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        with pytest.raises((DaemonUnavailable, RequestTimeout)) as err:
            job.wait(60)
        assert str(first.log) in str(err.value)
        second = fresh_daemon(endpoint=endpoint, wait_models=False)
        assert c.ping()["pong"]
        info = c.info()
        assert info["pid"] == second.proc.pid and info["jobs"] == {"queued": 0, "running": None}
        assert "harmonize" not in info["stats"]["by_op"]  # never resent (a liveness ping may have been sent)


def test_curve_refusals_are_reported_as_such(fresh_daemon, certificates) -> None:
    k = certificates
    d = fresh_daemon("--curve-secret", str(k["server_secret"]), "--curve-clients", str(k["clients"]),
                     wait_models=False)
    alice = CurveKeys.from_files(k["server_public"], k["alice_secret"])
    with Client(d.endpoint, timeout=5, backend="zmq", curve=alice) as c:
        assert c.info()["curve"] is True
    cases = [
        ("zmq", CurveKeys.from_files(k["server_public"], k["mallory_secret"]), "does not know this client's CURVE key"),
        ("zmq", None, "no CURVE keys"),
        ("zmq", CurveKeys.from_files(k["mallory_public"], k["alice_secret"]), "server key"),
        ("zmtp", None, "pyzmq"),
    ]
    for backend, curve, expected in cases:
        with pytest.raises(AccessDenied) as err:
            Client(d.endpoint, timeout=3, backend=backend, curve=curve).ping()
        assert expected in str(err.value) and "no chromaseg daemon answers" not in str(err.value)
    # A refusal means a daemon is there: autostart must not start another one.
    never = [sys.executable, "-c", "raise SystemExit(7)"]
    with pytest.raises(AccessDenied):
        Client(d.endpoint, timeout=3, backend="zmq", autostart=True, start_command=never).ping()


def test_curve_keys_against_a_plain_daemon_are_reported_as_such(fresh_daemon, certificates) -> None:
    d = fresh_daemon(wait_models=False)
    alice = CurveKeys.from_files(certificates["server_public"], certificates["alice_secret"])
    with pytest.raises(AccessDenied, match="does not use CURVE"):
        Client(d.endpoint, timeout=3, backend="zmq", curve=alice).ping()
