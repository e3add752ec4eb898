"""The local gateway's modules import one another in layers, without a circle.

The graph is read from the source with ``ast``, so it counts every import: top-level ones, those
under ``if TYPE_CHECKING:`` and those inside functions. A circle hidden from the interpreter by
TYPE_CHECKING or by a late import is still a circle for whoever reads or changes the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gateway"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        # A relative import: from the module's package, one level up per extra dot.
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # `from gateway.plugins import catalog` imports the submodule too.
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``root``'s package it imports anywhere in its source."""
    files = {_module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(t for t in _targets(node, module, is_package) if t in files)
        edges.discard(module)
        graph[module] = edges
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path that ends where it starts, or None.

    A package's ``__init__`` importing its own submodules is not a circle: importing a
    submodule runs the parent first, but the parent's code never needs the child's importer.
    """
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> list[str] | None:
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                circle = visit(target)
                if circle is not None:
                    return circle
        stack.pop()
        on_stack.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done:
            circle = visit(module)
            if circle is not None:
                return circle
    return None


def test_the_gateway_has_no_import_circle() -> None:
    graph = import_graph(PACKAGE)
    # The graph was read: the modules whose imports this test is about are in it.
    assert {"gateway.context", "gateway.config", "gateway.build", "gateway.plugins.jwt"} <= set(
        graph
    )
    circle = find_circle(graph)
    assert circle is None, " -> ".join(circle or ())


def test_context_is_the_bottom_layer() -> None:
    graph = import_graph(PACKAGE)
    assert graph["gateway.context"] == {"gateway.errors"}
    assert graph["gateway.errors"] == set()


def test_config_is_plain_data_and_only_the_build_step_knows_plugins_and_config() -> None:
    graph = import_graph(PACKAGE)
    plugins = {module for module in graph if module.startswith("gateway.plugins")}
    assert not graph["gateway.config"] & plugins
    assert {"gateway.config", "gateway.context", "gateway.plugins.catalog"} <= graph[
        "gateway.build"
    ]
    assert not any("gateway.config" in graph[module] for module in plugins)


def test_the_circle_finder_finds_circles() -> None:
    # The circle this layout removed (config -> plugins -> external -> context -> config).
    graph = {
        "gateway.config": {"gateway.plugins"},
        "gateway.plugins": {"gateway.plugins.external"},
        "gateway.plugins.external": {"gateway.context"},
        "gateway.context": {"gateway.config"},
    }
    assert find_circle(graph) == [
        "gateway.config",
        "gateway.plugins",
        "gateway.plugins.external",
        "gateway.context",
        "gateway.config",
    ]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_the_graph_counts_type_checking_and_late_imports(tmp_path: Path) -> None:
    package = tmp_path / "gateway"
    (package / "plugins").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "context.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway.config import X\n"
    )
    (package / "config.py").write_text("def f():\n    from .plugins import catalog\n")
    (package / "plugins" / "__init__.py").write_text("")
    (package / "plugins" / "catalog.py").write_text("from gateway import context\n")
    graph = import_graph(package)
    assert graph["gateway.context"] == {"gateway.config"}
    assert graph["gateway.config"] == {"gateway.plugins", "gateway.plugins.catalog"}
    assert graph["gateway.plugins.catalog"] == {"gateway", "gateway.context"}
    assert find_circle(graph) == [
        "gateway.config",
        "gateway.plugins.catalog",
        "gateway.context",
        "gateway.config",
    ]
