"""The architecture in docs/architecture.md holds: its import rules, no import circles
outside the simulator, and no oversized modules outside it.

The rules are read from the document's "Import rules" table, so the document and the
check cannot drift apart. Every import counts: at module level, inside functions and in
``TYPE_CHECKING`` blocks (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gwctl"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 600
ROW = re.compile(r"^\| `(gwctl(?:\.\w+)*)` \| (`gwctl.*`) \|$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports() -> dict[str, frozenset[str]]:
    """module -> the gwctl modules (or packages) it imports."""
    known = modules()
    out: dict[str, frozenset[str]] = {}
    for name, path in known.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                    node.module == "gwctl" or node.module.startswith("gwctl.")):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    found.add(child if child in known else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names
                             if a.name == "gwctl" or a.name.startswith("gwctl."))
        out[name] = frozenset(found - {name})
    return out


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def contracts() -> list[tuple[str, list[str]]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line.strip())
        if m:
            rows.append((m[1], re.findall(r"`(gwctl(?:\.\w+)*)`", m[2])))
    return rows


def test_the_document_has_import_rules() -> None:
    rows = contracts()
    assert len(rows) >= 15
    for subject, _ in rows:
        assert any(within(m, subject) for m in modules()), f"no module {subject} exists"


@pytest.mark.parametrize("subject,forbidden", contracts(), ids=lambda v: str(v)[:40])
def test_import_rule(subject: str, forbidden: list[str]) -> None:
    broken = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items() if within(module, subject)
        for target in targets for bad in forbidden
        if within(target, bad) and not within(target, subject)
    )
    assert not broken, f"docs/architecture.md says {subject} never imports {forbidden}"


def strongly_connected(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, frozenset()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_outside_the_simulator() -> None:
    circles = [c for c in strongly_connected(imports())
               if not all(within(m, "gwctl.sim") for m in c)]
    assert not circles, circles


def test_the_circle_check_finds_circles() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}),
             "d": frozenset({"a"})}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_over_the_size_limit_outside_the_simulator() -> None:
    sizes: dict[str, int] = defaultdict(int)
    for name, path in modules().items():
        if not within(name, "gwctl.sim"):
            sizes[name] = len(path.read_text(encoding="utf-8").splitlines())
    assert not {n: s for n, s in sizes.items() if s > MAX_LINES}
