"""The package's layers: every import of bullpen code points down (or across, within a layer).

A newcomer reads the layout top down (README "Layout"); an import that runs upward makes a
low-level change ripple into places that should not care, and is how import cycles start.
Lazy imports inside functions count too: they hide the same dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "bullpen"

# Lowest first. A domain may import its own layer and the layers below it.
LAYERS: list[set[str]] = [
    {"__init__", "config", "prices", "teams", "events", "profiles"},  # no bullpen imports
    {"db"},  # Postgres: engine, embedded server, migrations, staging, shared queries
    {"collect", "players"},  # sources -> rows; people linked across sources
    {"features", "market"},  # rows -> model inputs; odds snapshots -> game lines
    {"models", "betting", "report"},  # train, evaluate, store versions; stake, judge, report
    {"registry"},  # aliases, gates, audit
    {"drift", "backup"},  # judge the champion over time; copy everything elsewhere
    {"runtime", "prefect_blocks"},  # where each resource is (settings, blocks)
    {"ops"},  # probes, metrics, health, status, automations
    {"cli"},
]
RANK = {domain: rank for rank, layer in enumerate(LAYERS) for domain in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _domain(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bullpen":
                found.update(f"bullpen.{alias.name}" for alias in node.names)
            elif node.module.startswith("bullpen."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bullpen."))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_every_domain_has_a_layer() -> None:
    domains = {_domain(m) for m in _graph()}
    assert domains - RANK.keys() == set(), "add new top-level modules to LAYERS"
    assert RANK.keys() - domains == set(), "LAYERS names a domain that no longer exists"


def test_no_import_runs_upward() -> None:
    upward = []
    for module, imported in _graph().items():
        for target in imported:
            source_domain, target_domain = _domain(module), _domain(target)
            if target_domain not in RANK:  # `from bullpen import DEFAULT_EVAL_SEASON`
                target_domain = "__init__"
            if RANK[target_domain] > RANK[source_domain]:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    modules = set(graph)
    edges = defaultdict(set)
    for module, imported in graph.items():
        for target in imported:
            # `from bullpen.x import y` may name a submodule y or a name in x.
            edges[module].add(target if target in modules else target.rsplit(".", 1)[0])
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges[node] & modules):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt) :], nxt])
                return True
            if nxt not in state and visit(nxt, [*stack, nxt]):
                return True
        state[node] = 2
        return False

    for module in sorted(modules):
        if module not in state and visit(module, [module]):
            break
    assert cycle == []


@pytest.mark.parametrize("layer", LAYERS[0:1])
def test_the_bottom_layer_imports_no_other_bullpen_domain(layer: set[str]) -> None:
    for module, imported in _graph().items():
        if _domain(module) in layer:
            assert {_domain(t) for t in imported} <= layer, module
