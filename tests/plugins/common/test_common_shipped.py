"""What `chromaseg install-plugin` ships into an editor is what the plugin runs: every vendored plugin module is
imported from the plugin's entry modules, so no test double (the in-memory GIMP backend lives in tests/) and no
stray module lands in an artist's plugin folder."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chromaseg.install.plugins import install

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
ENTRIES = {  # what each editor loads: the entry file's imports and the backend/docker it loads by name
    "gimp": ("chromaseg.plugins.gimp.procedures", "chromaseg.plugins.gimp.gimpfu", "chromaseg.plugins.gimp.gimp3"),
    "krita": ("chromaseg.plugins.krita.extension", "chromaseg.plugins.krita.docker"),
}


def _file(module: str) -> Path | None:
    parts = module.split(".")[2:]  # chromaseg.plugins.<package>.<module>
    path = PLUGINS.joinpath(*parts).with_suffix(".py")
    return path if path.exists() else None


def _plugin_imports(path: Path) -> set[str]:
    """The chromaseg.plugins modules `path` imports (a `from package import module` counts as the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chromaseg.plugins"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("chromaseg.plugins"))
    return {module for module in found if _file(module) is not None}


def _imported_from(entries: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_plugin_imports(_file(module)))
    return seen


@pytest.mark.parametrize("editor", sorted(ENTRIES))
def test_every_shipped_plugin_module_is_one_the_plugin_imports(editor: str, tmp_path: Path) -> None:
    home = install(editor, tmp_path / editor)
    vendored = home / "vendor" / "chromaseg" / "plugins"
    shipped = {f"chromaseg.plugins.{path.parent.name}.{path.stem}" for path in vendored.glob("*/*.py")
               if path.stem != "__init__"}
    assert shipped and shipped <= _imported_from(ENTRIES[editor]), shipped - _imported_from(ENTRIES[editor])
    assert not any("memory" in module for module in shipped)
