"""The engine's import graph has no cycle, at module or at package level, and keeps its layers.

Every import of every module under ``migtd/`` counts — top-level, inside
functions (the lazy ones that keep start-up cheap), under ``TYPE_CHECKING`` —
because a cycle that only shows at run time on one code path is still a
cycle. Imports are read from the source (AST), so nothing is executed.

Package level: each first-level subpackage (``migtd.attest``, ``migtd.policy``,
…) and each top-level module (``migtd.cli``, …) is one node; an edge joins two
nodes when any module of one imports any module of the other.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import migtd

ROOT = Path(migtd.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ("migtd", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: Mapping[str, Path]) -> str | None:
    """The module ``name`` refers to: itself, or the package/module that defines it."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in mods:
            return candidate
        parts.pop()
    return None


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """module → modules of ``migtd`` it imports (anywhere in its source)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # ``from pkg import sub`` imports the submodule when there is one
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in mods else source
                           for alias in node.names]
            for target in targets:
                if target == "migtd" or target.startswith("migtd."):
                    resolved = _resolve(target, mods)
                    if resolved is not None and resolved != module:
                        graph[module].add(resolved)
    return graph


def package_of(module: str) -> str:
    """``migtd.attest.verify`` → ``migtd.attest``; ``migtd.cli`` → ``migtd.cli``; ``migtd`` → ``migtd``."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        here = package_of(module)
        out.setdefault(here, set())
        for target in targets:
            if package_of(target) != here:
                out[here].add(package_of(target))
    return out


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    lazy = "def f():\n    from migtd.x import y\n"
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(ast.parse(lazy)))  # function-level imports are seen


def test_the_graph_sees_lazy_and_type_checking_imports() -> None:
    graph = import_graph()
    assert "migtd.verifiers.dcap" in graph["migtd.modes.base"]      # imported inside a function
    assert "migtd.verdict" in graph["migtd.modes.base"]             # imported under TYPE_CHECKING
    assert len(graph) > 80


def test_no_module_level_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_package_level_cycle() -> None:
    assert cycles(package_graph(import_graph())) == []


#: What each layer may import (besides itself). Layers not listed are unconstrained.
LOWER = {"migtd", "migtd.result", "migtd.errors", "migtd.inputs", "migtd.der", "migtd.paths", "migtd.eventlog"}
ALLOWED = {
    "migtd.verdict": LOWER,
    "migtd.attest": LOWER,
    "migtd.ratls": LOWER | {"migtd.verdict"},
    "migtd.mock": LOWER | {"migtd.attest"},
    "migtd.policy": LOWER | {"migtd.attest", "migtd.mock"},
    "migtd.verifiers": LOWER | {"migtd.verdict", "migtd.attest", "migtd.policy", "migtd.emu"},
    # where the defaults are: the bottom, imports nothing of migtd
    "migtd.paths": set(),
    # the SPDM stack is a pure package: bytes in, values out
    "migtd.spdm": LOWER,
    # fleet evaluates evidence offline: never the session, the CLI, the tools or the planner
    "migtd.fleet": LOWER | {"migtd.attest", "migtd.policy", "migtd.mock", "migtd.modes"},
    "migtd.completion": {"migtd"},
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_what_is_below_them(layer: str) -> None:
    """Production trust code never reaches mock material or the session; verdicts are neutral."""
    imports = package_graph(import_graph())[layer]
    assert sorted(imports - ALLOWED[layer]) == []
