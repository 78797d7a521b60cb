"""The house rules, read from the source (ast, nothing imported): which package may import which, no import cycles,
and no module so long that nobody reads it whole.

Arrows: plugins -> bridge client (never bridge.daemon, never core, never the daemon's numeric stack); the bridge client
modules -> standard library only (pyzmq optional, imported where chosen); bridge.daemon -> bridge client modules and
core; core -> nothing of the editor side.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the repository root is the chromaseg package
PACKAGES = ("batch", "bridge", "cli", "core", "install", "plugins")
MAX_LINES = 400  # "about 400": a module this long says in its docstring why (the word "lines" and the reason)
LINE_SLACK = 20
HEAVY = {"numpy", "torch", "torchvision", "zmq", "cv2", "scipy", "skimage", "PIL", "segment_anything", "mobile_sam"}


@dataclass(frozen=True)
class Import:
    target: str  # the imported module's dotted name ("chromaseg.bridge.client", "numpy", ...)
    top_level: bool  # at module level (runs on import), not inside a function
    typing_only: bool  # under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(("chromaseg", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - node.level + is_package]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[Import]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []

    def visit(node: ast.AST, top: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, top, typing_only) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, child, path.name == "__init__.py")
                for a in child.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{base}.{a.name}"
                    found.append(Import(sub if sub in MODULES else base, top, typing_only))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, top, True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False, typing_only)
            else:
                visit(child, top, typing_only)

    visit(tree, True, False)
    return [i for i in found if not i.typing_only]


IMPORTS = {m: _imports(m) for m in MODULES}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _client_module(module: str) -> bool:
    return _in(module, "chromaseg.bridge") and not _in(module, "chromaseg.bridge.daemon")


def _violations(rule: callable, packages: tuple[str, ...]) -> list[str]:
    return [f"{m} imports {i.target}" for m in MODULES if any(_in(m, p) for p in packages)
            for i in IMPORTS[m] if not rule(i)]


def test_the_module_map_is_what_the_rules_talk_about() -> None:
    assert "chromaseg.bridge.client" in MODULES and "chromaseg.bridge.daemon.server" in MODULES
    assert "chromaseg.plugins.common.runner" in MODULES and "chromaseg.core.colorize" in MODULES
    assert any(i.target == "chromaseg.bridge.client" for i in IMPORTS["chromaseg.plugins.common.runner"])


def test_plugins_reach_the_daemon_only_through_the_bridge_client() -> None:
    def allowed(i: Import) -> bool:
        if i.target.split(".")[0] in HEAVY:
            return False
        if not _in(i.target, "chromaseg"):
            return True
        return _in(i.target, "chromaseg.plugins") or (_client_module(i.target) and i.target != "chromaseg.bridge")

    assert _violations(allowed, ("chromaseg.plugins",)) == []


def test_the_bridge_client_modules_are_standard_library_only() -> None:
    def allowed(i: Import) -> bool:
        if _in(i.target, "chromaseg"):
            return _client_module(i.target)
        top = i.target.split(".")[0]
        return top in sys.stdlib_module_names or (top == "zmq" and not i.top_level)  # pyzmq: optional, when chosen

    client_side = [m for m in MODULES if _client_module(m)]
    assert "chromaseg.bridge.launcher" in client_side and "chromaseg.bridge.transports" in client_side
    assert [v for v in _violations(allowed, ("chromaseg.bridge",)) if _client_module(v.split()[0])] == []


def test_the_daemon_uses_core_and_the_client_side_wire_modules_never_the_editor_side() -> None:
    def allowed(i: Import) -> bool:
        return not any(_in(i.target, p) for p in ("chromaseg.plugins", "chromaseg.cli", "chromaseg.install")) and \
            i.target != "chromaseg.bridge.client"

    assert _violations(allowed, ("chromaseg.bridge.daemon",)) == []
    assert any(_in(i.target, "chromaseg.core") for m in MODULES if _in(m, "chromaseg.bridge.daemon")
               for i in IMPORTS[m])


def test_core_knows_nothing_of_the_bridge_the_editors_or_the_command_line() -> None:
    def allowed(i: Import) -> bool:
        return not any(_in(i.target, p) for p in ("chromaseg.bridge", "chromaseg.plugins", "chromaseg.cli",
                                                  "chromaseg.install", "chromaseg.batch"))

    assert _violations(allowed, ("chromaseg.core",)) == []


def _graph(modules: list[str], module_level_only: bool) -> dict[str, list[str]]:
    return {m: sorted({i.target for i in IMPORTS[m] if i.target in modules and i.target != m
                       and (i.top_level or not module_level_only)}) for m in modules}


def test_no_import_cycles() -> None:
    """No cycle among the imports that run on import anywhere; in the bridge, core and plugins, none even through an
    import inside a function (a deferred import may keep heavy modules off a start-up path, never break a cycle)."""
    everywhere = _cycles(_graph(list(MODULES), module_level_only=True))
    assert everywhere == [], "import cycles: " + "; ".join(" -> ".join(c) for c in everywhere)
    layered = [m for m in MODULES if any(_in(m, f"chromaseg.{p}") for p in ("bridge", "core", "plugins"))]
    deferred = _cycles(_graph(layered, module_level_only=False))
    assert deferred == [], "import cycles: " + "; ".join(" -> ".join(c) for c in deferred)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for v in graph:
            if v not in index:
                strong(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_long_without_saying_why(module: str) -> None:
    text = MODULES[module].read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines <= MAX_LINES + LINE_SLACK:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert "lines" in docstring, f"{module} has {lines} lines and its docstring does not say why"
