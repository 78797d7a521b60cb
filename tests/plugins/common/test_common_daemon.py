"""Finding the daemon and the command that starts it."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from chromaseg.plugins.common import daemon
from chromaseg.plugins.common.errors import PluginError


def test_reachable_tells_a_listening_socket_from_a_closed_port_and_a_stale_ipc_file(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert daemon.reachable(f"tcp://127.0.0.1:{port}")
    assert not daemon.reachable(f"tcp://127.0.0.1:{port}")
    assert not daemon.reachable(f"ipc://{tmp_path}/missing.sock")
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listening: like the file a crashed daemon leaves
    assert not daemon.reachable(f"ipc://{stale}")


def test_the_installers_manifest_names_the_serve_command(tmp_path: Path) -> None:
    module = tmp_path / "chromaseg_krita" / "vendor" / "chromaseg" / "plugins" / "common" / "daemon.py"
    module.parent.mkdir(parents=True)
    assert daemon.installed_command(str(module)) is None
    manifest = tmp_path / "chromaseg_krita" / daemon.INSTALL_MANIFEST
    manifest.write_text(json.dumps({"serve_command": ["/venv/bin/python", "-m", "chromaseg.cli.main", "serve"]}))
    assert daemon.installed_command(str(module)) == ["/venv/bin/python", "-m", "chromaseg.cli.main", "serve"]
    manifest.write_text(json.dumps({"serve_command": "not a list"}))
    assert daemon.installed_command(str(module)) is None


def test_start_command_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHROMASEG_SERVE_COMMAND", raising=False)
    ep = "tcp://127.0.0.1:9"
    assert daemon.start_command(["my", "serve"], ep, ["py", "serve"]) == ["my", "serve"]
    assert daemon.start_command(None, ep, ["py", "serve"]) == ["py", "serve", "--endpoint", ep]
    monkeypatch.setenv("CHROMASEG_SERVE_COMMAND", "env-serve --x")
    assert daemon.start_command(None, ep, ["py", "serve"]) == ["env-serve", "--x"]
    monkeypatch.delenv("CHROMASEG_SERVE_COMMAND")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(PluginError, match="no `chromaseg` command"):
        daemon.start_command(None, ep, None)


def test_a_command_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="Could not start the daemon"):
        daemon.launch([str(tmp_path / "no-such-chromaseg"), "serve"])
