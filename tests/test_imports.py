"""The import graph of utils/: no cycle, no upward arrow, imports inside functions included.

Layers, from the bottom up: compute (every module not named below) <- plots <- widgets; checks on top of compute.
An arrow points from the importing module to the imported one. Allowed: plots -> compute, widgets -> plots and
compute, checks -> compute and checks. Nothing imports widgets or checks (but checks import each other).
A lazy import (inside a function) is still an arrow: it only hides a cycle until the function runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[1] / "utils"
RANK = {"compute": 0, "plots": 1, "widgets": 2}


def module_name(path: Path, root: Path = UTILS) -> str:
    """Return the dotted name of a module file under ``root`` (``utils/checks/_core.py`` -> ``utils.checks._core``)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """Return the modules of ``known`` that the module ``name`` imports anywhere in its source (every node)."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = submodules or [base]  # from utils import capstone -> utils.capstone; from x.y import name -> x.y
        else:
            continue
        for target in targets:
            while target and target not in known:  # utils.capstone.SETUPS -> utils.capstone
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = UTILS) -> dict[str, set[str]]:
    """Return {module: the modules of the package it imports}, read from the source with ``ast``."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(files)
    return {
        name: imported_modules(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", known)
        for name, path in files.items()
    }


def layer(module: str) -> str:
    """Return the layer a module belongs to: "checks", "widgets", "plots" or "compute"."""
    if module == "utils.checks" or module.startswith("utils.checks."):
        return "checks"
    return {"utils.widgets": "widgets", "utils.plots": "plots"}.get(module, "compute")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle as a path ``[a, b, ..., a]``, or None when the graph has none."""
    state, stack = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Return every arrow that points up the layers, as "importer -> imported (layer -> layer)"."""
    bad = []
    for importer, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = layer(importer), layer(target)
            if b == "checks":
                allowed = a == "checks"
            elif a == "checks":
                allowed = b == "compute"
            else:
                allowed = RANK[b] < RANK[a] or (a == b == "compute")
            if not allowed:
                bad.append(f"{importer} -> {target} ({a} -> {b})")
    return bad


def test_the_finders_see_a_cycle_and_an_upward_arrow():
    graph = {
        "utils.a": {"utils.b"},
        "utils.b": {"utils.c"},
        "utils.c": {"utils.a"},
        "utils.plots": {"utils.a", "utils.widgets"},
        "utils.widgets": {"utils.plots"},
        "utils.checks.ch01": {"utils.checks._core", "utils.a"},
        "utils.checks._core": set(),
        "utils.d": {"utils.checks.ch01"},
    }
    assert find_cycle(graph) == ["utils.a", "utils.b", "utils.c", "utils.a"]
    assert upward_arrows(graph) == [
        "utils.d -> utils.checks.ch01 (compute -> checks)",
        "utils.plots -> utils.widgets (plots -> widgets)",
    ]
    assert find_cycle({"utils.a": {"utils.b"}, "utils.b": set()}) is None


def test_lazy_and_relative_imports_are_arrows(tmp_path):
    package = tmp_path / "utils"
    (package / "checks").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plots.py").write_text("def f():\n    from utils import widgets\n")
    (package / "widgets.py").write_text("import utils.plots as p\n")
    (package / "checks" / "__init__.py").write_text("")
    (package / "checks" / "ch01.py").write_text("from . import _core\nfrom ._core import x\n")
    (package / "checks" / "_core.py").write_text("x = 1\n")
    graph = import_graph(package)
    assert graph["utils.plots"] == {"utils.widgets"} and graph["utils.widgets"] == {"utils.plots"}
    assert graph["utils.checks.ch01"] == {"utils.checks._core"}
    assert find_cycle(graph) == ["utils.plots", "utils.widgets", "utils.plots"]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_utils_has_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in utils/ (lazy imports included): " + " -> ".join(cycle)


def test_utils_has_no_upward_import(graph):
    bad = upward_arrows(graph)
    assert not bad, "imports against the layers (compute <- plots <- widgets; checks on top):\n" + "\n".join(bad)
