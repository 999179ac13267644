"""A fixed public surface (as httpx's test_exported_members): the package and each public module declare
`__all__`, every name in it exists, and no public name appears there without being exported.

A public name of a module is one it defines at its top level (a class, a function, a constant) without
a leading underscore; a package's are also the names its __init__ imports from its own modules (its
re-exports). The README's "Public modules" section names the same list; everything else is internal.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
PUBLIC = ["mlfootprint", "mlfootprint.command", "mlfootprint.estimate", "mlfootprint.jobs", "mlfootprint.lookup",
          "mlfootprint.record", "mlfootprint.reduce", "mlfootprint.report", "mlfootprint.sensors",
          "mlfootprint.serving", "mlfootprint.store", "mlfootprint.live", "mlfootprint.ranges"]


def public_names(source: str, package: bool) -> set[str]:
    """The public names a module's source defines at its top level (and, for a package, re-exports)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif package and isinstance(node, ast.ImportFrom) and node.level > 0:
            names |= {alias.asname or alias.name for alias in node.names}
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", PUBLIC)
def test_exported_members(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} declares no __all__"
    for member in exported:
        assert getattr(module, member, None) is not None, f"{name}.__all__ names {member!r}, which is not there"
    path = Path(module.__file__ or "")
    submodules = {p.stem for p in path.parent.glob("*.py")} if path.name == "__init__.py" else set()
    unexported = public_names(path.read_text(encoding="utf-8"), path.name == "__init__.py") - set(exported) - submodules
    assert not unexported, f"{name} has public names it does not export: {sorted(unexported)}"


def test_the_readme_names_the_public_modules() -> None:
    section = README.split("## Public modules", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(mlfootprint(?:\.[a-z_]+)*)`", section))
    assert set(PUBLIC) <= named, f"README's Public modules section lacks {sorted(set(PUBLIC) - named)}"


def test_a_new_public_name_fails_the_check() -> None:
    """The check itself can fail: a public function, class or constant added without exporting it is caught,
    a private one is not, and a package's re-export counts."""
    source = "X = 1\n_y = 2\ndef f(): ...\nclass C: ...\ndef _g(): ...\n"
    assert public_names(source, package=False) == {"X", "f", "C"}
    assert public_names("from .m import A, _B\n", package=True) == {"A"}
