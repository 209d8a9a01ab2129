"""The product's modules import in one direction: no cycle, function-level imports included.

The graph is built from the source with `ast`, not by importing it, so an import deferred into a
function to dodge a cycle counts like any other; only `if TYPE_CHECKING:` blocks are left out
(they never run). Edges go to the product's own modules under apps/ and core/.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.support.processes import REPO

SKIPPED_PARTS = {"tests", "migrations", "__pycache__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for top in ("apps", "core")
        for path in (REPO / top).rglob("*.py")
        if not SKIPPED_PARTS & set(path.relative_to(REPO).parts)
    }


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(sub) for child in node.body for sub in ast.walk(child))
    return hidden


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module` imports, with `from a import b` giving both a and a.b."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()

    def resolve(name: str) -> str | None:
        while name:
            if name in modules:
                return name
            name = name.rpartition(".")[0]
        return None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name) for name in imported_names(module, path)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def test_the_graph_sees_the_product_and_its_deferred_imports() -> None:
    graph = import_graph()
    # A check that saw nothing would pass for the wrong reason.
    assert {"apps.events.lifecycle", "apps.events.tasks", "core.health"} <= graph.keys()
    assert "apps.events.effects" in graph["apps.events.lifecycle"]
    assert "apps.events.scheduling" in graph["apps.events.effects"]


def test_a_function_level_import_is_an_edge(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from apps.hidden import x\n"
        "def f():\n    from apps.events import tasks\n"
    )
    names = imported_names("apps.mod", source)
    assert "apps.events.tasks" in names
    assert not any(name.startswith("apps.hidden") for name in names)


def test_no_import_cycle_among_apps_and_core() -> None:
    graph = import_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise AssertionError(f"import cycle: {cycle}") from None
    assert len(order) == len(graph)


def test_the_domain_never_imports_an_edge() -> None:
    """Arrows point from the edges (api, web, admin, tasks, consumers, commands) inwards."""
    edges = ("api", "web", "admin", "tasks", "consumers", "management", "routing")
    graph = import_graph()
    domain = [m for m in graph if m.startswith("apps.events.")]
    inner = [m for m in domain if m.split(".")[2] not in edges]
    wrong = {
        module: sorted(
            t for t in graph[module] if t.startswith("apps.events.") and t.split(".")[2] in edges
        )
        for module in inner
    }
    assert {m: t for m, t in wrong.items() if t} == {}
