"""Install the editor plugins: the plugin's entry files plus a vendored, standard-library-only copy of what runs inside
the editor (the bridge client's modules - every module of chromaseg.bridge, never its daemon subpackage - the
shared plugin logic and that editor's adapter).

Editors ship their own Python (Krita embeds CPython, GIMP 3 runs plug-ins with its own interpreter), usually without
pip, so the plugin cannot rely on chromaseg being importable there. The vendored tree sits inside the plugin's own
folder (``vendor/chromaseg/...``) and the entry puts it first on ``sys.path``: the plugin always runs the client that
was installed with it. A manifest records what was copied, so uninstall removes exactly that and nothing else.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

MANIFEST = "chromaseg-install.json"


@dataclass(frozen=True)
class EditorPlugin:
    """Where an editor looks for plugins and which files make ours."""

    editor: str
    entries: tuple[str, ...]  # files/folders under plugins/<editor>/<source_dir> copied to the destination as they are
    source_dir: str  # folder inside the editor's plugin package holding the entries
    home: str  # the entry folder (inside the destination) that receives vendor/ and the manifest
    executable: str | None  # the entry file GIMP runs (relative to the destination), made executable
    enable_hint: str

    def default_dest(self, platform: str = sys.platform, env: os._Environ | dict | None = None) -> Path:
        return default_plugin_dir(self.editor, platform, env if env is not None else os.environ)


EDITORS: dict[str, EditorPlugin] = {
    "krita": EditorPlugin(
        editor="krita",
        entries=("chromaseg_krita.desktop", "chromaseg_krita"),
        source_dir="pykrita",
        home="chromaseg_krita",
        executable=None,
        enable_hint="Restart Krita, enable 'Chromaseg' in Settings > Configure Krita > Python Plugin Manager, restart "
                    "again; the commands are in the Chromaseg menu and the docker under Settings > Dockers > Chromaseg.",
    ),
    "gimp": EditorPlugin(
        editor="gimp",
        entries=("chromaseg-gimp",),
        source_dir="",
        home="chromaseg-gimp",
        executable="chromaseg-gimp/chromaseg-gimp.py",
        enable_hint="Restart GIMP 3; the actions are under Filters > Colors > Chromaseg.",
    ),
}


def default_plugin_dir(editor: str, platform: str, env: os._Environ | dict) -> Path:
    """The per-user plugin folder each editor scans (Linux, macOS, Windows)."""
    home = Path(env.get("HOME") or Path.home())
    if editor == "krita":
        if platform.startswith("win"):
            return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "krita" / "pykrita"
        if platform == "darwin":
            return home / "Library" / "Application Support" / "krita" / "pykrita"
        return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "krita" / "pykrita"
    if editor == "gimp":
        if platform.startswith("win"):
            return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "GIMP" / "3.0" / "plug-ins"
        if platform == "darwin":
            return home / "Library" / "Application Support" / "GIMP" / "3.0" / "plug-ins"
        return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "GIMP" / "3.0" / "plug-ins"
    raise ValueError(f"unknown editor {editor!r}; known: {', '.join(EDITORS)}")


def _package_dir(name: str) -> Path:
    module = __import__(name, fromlist=["__file__"])
    return Path(module.__file__).resolve().parent


def _vendor_files(editor: str) -> dict[str, Path]:
    """vendor-relative path -> source file, for everything the plugin imports inside the editor."""
    files: dict[str, Path] = {}
    bridge = _package_dir("chromaseg.bridge")
    for path in sorted(bridge.glob("*.py")):  # the client modules: the daemon is the bridge.daemon subpackage
        files[f"chromaseg/bridge/{path.name}"] = path
    plugins = _package_dir("chromaseg.plugins")
    files["chromaseg/plugins/__init__.py"] = plugins / "__init__.py"
    for package in ("common", editor):
        for path in sorted((plugins / package).glob("*.py*")):
            if path.suffix in (".py", ".pyi"):
                files[f"chromaseg/plugins/{package}/{path.name}"] = path
    return files


def _serve_command() -> list[str]:
    """How the plugin auto-starts the daemon: this very interpreter, which has the daemon's dependencies."""
    return [sys.executable, "-m", "chromaseg.cli.main", "serve"]


def install(editor: str, dest: Path | None = None) -> Path:
    """Copy the plugin into ``dest`` (default: the editor's per-user plugin folder), replacing an earlier install.
    Returns the folder that holds the entry."""
    spec = _spec(editor)
    dest = Path(dest) if dest is not None else spec.default_dest()
    uninstall(editor, dest, missing_ok=True)
    source = _package_dir(f"chromaseg.plugins.{editor}") / spec.source_dir
    dest.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    for entry in spec.entries:
        src = source / entry
        if not src.exists():
            raise FileNotFoundError(f"the {editor} plugin's entry {src} is missing from this chromaseg installation")
        target = dest / entry
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
        copied.append(entry)
    home = dest / spec.home
    for rel, src in _vendor_files(editor).items():
        target = home / "vendor" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    if spec.executable is not None:
        entry = dest / spec.executable
        entry.chmod(entry.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    manifest = {
        "editor": editor,
        "version": _version(),
        "entries": copied,
        "serve_command": _serve_command(),
    }
    (home / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return home


def uninstall(editor: str, dest: Path | None = None, missing_ok: bool = False) -> list[Path]:
    """Remove what an install put in ``dest`` (read from its manifest); returns the removed paths."""
    spec = _spec(editor)
    dest = Path(dest) if dest is not None else spec.default_dest()
    manifest_path = dest / spec.home / MANIFEST
    if not manifest_path.is_file():
        if missing_ok:
            return []
        raise FileNotFoundError(f"no chromaseg {editor} plugin installed in {dest} (no {manifest_path.name} there)")
    entries = json.loads(manifest_path.read_text())["entries"]
    removed = []
    for entry in entries:
        if "/" in entry or "\\" in entry or entry in ("", ".", ".."):
            raise ValueError(f"refusing to remove {entry!r}: not a plain entry name (damaged manifest?)")
        target = dest / entry
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        removed.append(target)
    return removed


def _spec(editor: str) -> EditorPlugin:
    try:
        return EDITORS[editor]
    except KeyError:
        raise ValueError(f"unknown editor {editor!r}; known: {', '.join(EDITORS)}") from None


def _version() -> str:
    try:
        return metadata.version("chromaseg")
    except metadata.PackageNotFoundError:
        return "unknown"
