"""`chromaseg install-plugin`: where each editor looks, what gets copied, and that uninstall removes exactly that."""
from __future__ import annotations

from pathlib import Path

import pytest

from chromaseg.install.plugins import default_plugin_dir, install, uninstall


@pytest.mark.parametrize("editor,platform,env,expected", [
    ("krita", "linux", {"HOME": "/h"}, "/h/.local/share/krita/pykrita"),
    ("krita", "linux", {"HOME": "/h", "XDG_DATA_HOME": "/d"}, "/d/krita/pykrita"),
    ("krita", "darwin", {"HOME": "/h"}, "/h/Library/Application Support/krita/pykrita"),
    ("krita", "win32", {"HOME": "/h", "APPDATA": "/a"}, "/a/krita/pykrita"),
    ("gimp", "linux", {"HOME": "/h"}, "/h/.config/GIMP/3.0/plug-ins"),
    ("gimp", "linux", {"HOME": "/h", "XDG_CONFIG_HOME": "/c"}, "/c/GIMP/3.0/plug-ins"),
    ("gimp", "darwin", {"HOME": "/h"}, "/h/Library/Application Support/GIMP/3.0/plug-ins"),
    ("gimp", "win32", {"HOME": "/h", "APPDATA": "/a"}, "/a/GIMP/3.0/plug-ins"),
])
def test_default_plugin_folders(editor: str, platform: str, env: dict, expected: str) -> None:
    assert default_plugin_dir(editor, platform, env) == Path(expected)


def test_unknown_editor_and_missing_install_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown editor 'paint'"):
        install("paint", tmp_path)
    with pytest.raises(FileNotFoundError, match="no chromaseg krita plugin installed"):
        uninstall("krita", tmp_path)


@pytest.mark.parametrize("editor,home", [("krita", "chromaseg_krita"), ("gimp", "chromaseg-gimp")])
def test_install_vendors_a_standard_library_client_and_uninstall_removes_only_it(tmp_path: Path, editor: str,
                                                                                 home: str) -> None:
    import json
    import subprocess
    import sys

    dest = tmp_path / "plugins"
    dest.mkdir()
    (dest / "someone-elses-plugin.py").write_text("")
    installed = install(editor, dest)
    assert installed == dest / home
    vendor = installed / "vendor"
    assert (vendor / "chromaseg" / "bridge" / "client.py").is_file()
    assert not (vendor / "chromaseg" / "bridge" / "server.py").exists()  # the daemon side never goes into an editor
    assert not (vendor / "chromaseg" / "bridge" / "daemon").exists()
    assert (vendor / "chromaseg" / "bridge" / "launcher.py").is_file()  # the one launcher runs inside the editor
    manifest = json.loads((installed / "chromaseg-install.json").read_text())
    assert manifest["serve_command"][:2] == [sys.executable, "-m"]
    # The vendored tree imports with the standard library alone (-I -S: no site-packages, no numpy, no zmq).
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import chromaseg.bridge.client, "
             "chromaseg.plugins.common.actions, chromaseg.plugins.common.runner; "
             "assert 'numpy' not in sys.modules and 'torch' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(vendor)], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    if editor == "gimp":
        assert (dest / "chromaseg-gimp" / "chromaseg-gimp.py").stat().st_mode & 0o111
    else:
        assert (dest / "chromaseg_krita.desktop").is_file()
    assert install(editor, dest) == installed  # reinstalling replaces the earlier copy
    uninstall(editor, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["someone-elses-plugin.py"]
