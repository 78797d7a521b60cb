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
