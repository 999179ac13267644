"""The house in numbers, for a review: module sizes, the largest classes, and the import graph
(modules, edges, cycles, the measuring core's imports of presentation layers).

    python tools/house.py [SRC_DIR]        # default: src/mlfootprint of this checkout
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

CORE = ("sensors", "meter", "phases", "record", "rows", "store", "impact", "config", "grid", "estimate", "jobs",
        "ownership")
PRESENTATION = ("cli", "report", "outputs", "web", "rich", "typer", "matplotlib", "starlette")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path, path: Path, tree: ast.Module) -> set[str]:
    """Every module this file imports (function-level imports included), resolved to absolute names."""
    me = module_name(root, path).split(".")
    package = me if path.name == "__init__.py" else me[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src" / "mlfootprint")
    files = sorted(root.rglob("*.py"))
    names = {module_name(root, f): f for f in files}
    lines = {n: len(f.read_text().splitlines()) for n, f in names.items()}
    classes = []
    graph: dict[str, set[str]] = defaultdict(set)
    for name, f in names.items():
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                classes.append((size, len(methods), f"{name}.{node.name}"))
        for target in imports(root, f, tree):
            parts = target.split(".")
            while parts and ".".join(parts) not in names:
                parts.pop()
            found = ".".join(parts)
            # a package and its own modules (re-exports, lazy attributes) are one unit here, as in tests/test_layers.py
            if parts and found != name and not name.startswith(found + ".") and not found.startswith(name + "."):
                graph[name].add(found)
            elif target.split(".")[0] in PRESENTATION:
                graph[name].add(target.split(".")[0])
    print(f"# {root}: {len(files)} modules, {sum(lines.values()):,} lines")
    print("largest modules (lines):", ", ".join(f"{n.removeprefix('mlfootprint.')} {c}" for n, c in
                                                sorted(lines.items(), key=lambda x: -x[1])[:10]))
    print("largest classes (lines, methods):", ", ".join(f"{n.removeprefix('mlfootprint.')} {s}/{m}" for s, m, n in
                                                         sorted(classes, reverse=True)[:8]))
    edges = sum(len(v) for v in graph.values())
    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, set())})
    print(f"import graph: {edges} edges between modules (a package and its own modules not counted); "
          f"two-module cycles: {len(cycles)}"
          + (f" ({'; '.join(' <-> '.join(c) for c in cycles[:6])})" if cycles else ""))
    core_up = sorted({f"{a} -> {b}" for a in graph for b in graph[a]
                      if a.split(".")[1:2] and a.split(".")[1] in CORE
                      and (b.split(".")[0] in PRESENTATION or (b.split(".")[1:2] and b.split(".")[1] in PRESENTATION))})
    print(f"measuring core importing presentation: {len(core_up)}" + (f" ({'; '.join(core_up[:6])})" if core_up else ""))
    fan_in: dict[str, int] = defaultdict(int)
    for targets in graph.values():
        for t in targets:
            fan_in[t] += 1
    print("most imported:", ", ".join(f"{n.removeprefix('mlfootprint.')} {c}" for n, c in
                                      sorted(fan_in.items(), key=lambda x: -x[1])[:8] if n.startswith("mlfootprint")))


if __name__ == "__main__":
    main()
