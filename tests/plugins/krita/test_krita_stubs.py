"""The typed stubs and the fake cover every `krita` name and method the plugin modules use."""
from __future__ import annotations

import ast
from pathlib import Path

import fake_krita

import chromaseg.plugins.krita as plugin

PLUGIN = Path(plugin.__file__).parent
STUBS = ast.parse((PLUGIN / "stubs" / "krita.pyi").read_text())
STUB_CLASSES = {node.name: node for node in STUBS.body if isinstance(node, ast.ClassDef)}


def imported_krita_names() -> set[str]:
    names = set()
    for path in PLUGIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "krita":
                names.update(alias.name for alias in node.names)
    return names


def stub_methods(cls: str) -> set[str]:
    methods = {n.name for n in STUB_CLASSES[cls].body if isinstance(n, ast.FunctionDef)}
    for base in STUB_CLASSES[cls].bases:
        if isinstance(base, ast.Name) and base.id in STUB_CLASSES:
            methods |= stub_methods(base.id)
    return methods


def test_every_imported_krita_name_is_stubbed() -> None:
    assert imported_krita_names() <= set(STUB_CLASSES)


def test_the_fake_implements_the_stubbed_data_model() -> None:
    for cls in ("Krita", "Selection", "Node", "SelectionMask", "TransparencyMask"):
        fake = getattr(fake_krita, cls)
        missing = {m for m in stub_methods(cls) if not m.startswith("__")} - set(dir(fake))
        assert not missing, f"fake {cls} lacks {missing}"
    doc = fake_krita.Document(1, 1)
    assert {m for m in stub_methods("Document")} <= set(dir(doc))
