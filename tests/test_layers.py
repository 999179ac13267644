"""The package's layers, held by a test rather than by convention.

Every import of every module is read from its source (function-level and TYPE_CHECKING imports
included: they are edges of the design even when they are not executed at import time), and:

* the measuring core never imports presentation: the CLI, report, outputs, the dashboard, rich, typer,
  matplotlib or starlette;
* no module imports another in a circle (a package's __init__ re-exporting its modules counts: a
  submodule must not import its own package's __init__);
* no private name (`_x`) of one module is imported by another.

KNOWN lists violations still being removed; it is empty, and a new violation fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mlfootprint"
CORE = ("sensors", "meter", "phases", "record", "store", "impact", "config", "grid", "estimate", "jobs", "ownership")
PRESENTATION = ("mlfootprint.cli", "mlfootprint.report", "mlfootprint.outputs", "rich", "typer", "matplotlib",
                "starlette", "uvicorn", "jinja2")
KNOWN: set[tuple[str, str]] = set()  # (importer, imported) pairs still allowed: none


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """(module imported, names imported from it, line) for every import statement of module `name`."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            names = [alias.name for alias in node.names]
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            if len(submodules) < len(names):  # `from pkg import name`: the package itself
                found.append((target, [n for n in names if n not in submodules], node.lineno))
            # `from pkg import submodule` imports that module
            found += [(f"{target}.{n}", [], node.lineno) for n in submodules]
    return found


def internal_edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name in MODULES:
        for target, _, _ in imports(name):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def _core(name: str) -> bool:
    rest = name.split(".", 1)[1] if "." in name else ""
    return rest.split(".")[0] in CORE


def test_the_measuring_core_imports_no_presentation() -> None:
    bad = []
    for name in MODULES:
        if not _core(name):
            continue
        for target, _, line in imports(name):
            if any(target == p or target.startswith(p + ".") for p in PRESENTATION) and (name, target) not in KNOWN:
                bad.append(f"{MODULES[name].relative_to(SRC)}:{line} imports {target}")
    assert not bad, "the measuring core imports presentation:\n" + "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if (v, w) in KNOWN:
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


def test_no_module_imports_another_in_a_circle() -> None:
    cycles = _cycles(internal_edges())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_private_name_crosses_modules() -> None:
    bad = []
    for name in MODULES:
        for target, names, line in imports(name):
            if not target.startswith(PACKAGE):
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__") and f"{target}.{n}" not in MODULES:
                    bad.append(f"{MODULES[name].relative_to(SRC)}:{line} imports {target}.{n}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", ["mlfootprint.cli.runs", "mlfootprint.store"])
def test_the_checks_see_function_level_imports(module: str) -> None:
    """The walk reads imports inside functions too (a test that could not fail proves nothing)."""
    targets = {t for t, _, _ in imports(module)}
    assert targets, f"no import found in {module}"
    if module == "mlfootprint.cli.runs":
        assert "mlfootprint.command" in targets  # imported inside `track`
