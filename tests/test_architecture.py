"""The domain's dependency rule, read from the import graph of hub/domain.

Every import counts: at the top of a module, inside a function, or under TYPE_CHECKING, because each
of them is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ROOT / "hub" / "domain"

# Frameworks and adapters the domain must never see: it emits events and the adapters carry them.
FORBIDDEN = (
    "flask", "flask_socketio", "flask_login", "flask_wtf", "socketio", "engineio", "simple_websocket",
    "paho", "gevent", "amqtt",
    "hub.api", "hub.web", "hub.realtime", "hub.notify", "hub.app", "hub.server", "hub.core",
    "hub.scheduler", "hub.demo", "hub.cli", "hub.broker", "hub.children", "hub.entry",
)


def imports_of(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, relative ones resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from hub.domain import billing` names a package, not a symbol
            if module == "hub.domain":
                found += [(node.lineno, f"hub.domain.{alias.name}") for alias in node.names]
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def context_of(module: str) -> str | None:
    """The domain package a module belongs to (`hub.domain.queue.core` -> `queue`)."""
    parts = module.split(".")
    if parts[:2] != ["hub", "domain"] or len(parts) < 3:
        return None
    return parts[2]


def package_graph() -> dict[str, dict[str, list[str]]]:
    """context -> {imported context: [where, ...]} over every module of hub/domain."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in domain_modules():
        rel = path.relative_to(DOMAIN)
        if len(rel.parts) < 2:
            continue
        source = rel.parts[0]
        graph.setdefault(source, {})
        for line, module in imports_of(path):
            target = context_of(module)
            if target and target != source:
                graph[source].setdefault(target, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of the package graph as a path [a, b, ..., a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_domain_is_packages_by_context() -> None:
    flat = [p.name for p in DOMAIN.glob("*.py") if p.name != "__init__.py"]
    assert flat == [], f"modules directly under hub/domain belong in a context package: {flat}"
    for package in (p for p in DOMAIN.iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = package / "__init__.py"
        assert init.is_file(), f"{package} has no __init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "May import" in doc, f"{init} must say what the package owns and what it may import"


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_no_framework_or_adapter_in_the_domain(path: Path) -> None:
    bad = [f"line {line}: {module}" for line, module in imports_of(path)
           if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"{path.relative_to(ROOT)} imports what the domain must not: {bad}"


def test_no_import_circle_between_domain_packages() -> None:
    graph = package_graph()
    cycle = find_cycle(graph)
    if cycle:
        edges = [f"{a} -> {b} ({graph[a][b][0]})" for a, b in pairwise(cycle)]
        pytest.fail("import circle between domain packages: " + "; ".join(edges))


def test_each_package_imports_only_what_its_docstring_allows() -> None:
    graph = package_graph()
    problems = []
    for package, targets in graph.items():
        doc = ast.get_docstring(ast.parse((DOMAIN / package / "__init__.py").read_text(encoding="utf-8"))) or ""
        allowed_line = doc.split("May import:", 1)[1].split("\n\n")[0] if "May import:" in doc else ""
        if "every other package" in allowed_line:
            continue
        allowed = {word.strip(" .,()") for word in allowed_line.replace("\n", " ").split(",")}
        allowed = {a for a in allowed if a}
        for target, where in targets.items():
            if target not in allowed:
                problems.append(f"{package} -> {target} ({where[0]}); allowed: {sorted(allowed)}")
    assert problems == [], "\n".join(problems)


def test_the_checker_finds_a_circle() -> None:
    """The cycle finder itself: a graph with a circle is reported, one without is not."""
    assert find_cycle({"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {}}) is None


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Imports inside functions and under TYPE_CHECKING are found too."""
    module = tmp_path / "probe.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import flask\n"
                      "def f():\n    from hub.api import errors\n    from . import core\n", encoding="utf-8")
    found = [m for _, m in imports_of(module, package="hub.domain.queue")]
    assert "flask" in found and "hub.api" in found and "hub.domain.queue" in found
