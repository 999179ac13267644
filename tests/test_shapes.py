"""Typed values: their JSON keys are spelled in one module, and their JSON reads back.

A record's fields are read as attributes everywhere; a key such as "energy_j" appears as a string only
where a shape is defined (the dataclass's own module, or a table's or file's column list), never in a
module that consumes it. The check below finds every string constant in src/ equal to a unit-suffixed
field name of a shape and fails when it stands outside the modules allowed to spell it.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from mlfootprint.config import SETTINGS
from mlfootprint.impact import Impact
from mlfootprint.jobs import JobSummary
from mlfootprint.record import RunRecord
from mlfootprint.shapes import from_json, to_json

SRC = Path(__file__).resolve().parents[1] / "src" / "mlfootprint"
UNIT = re.compile(r"_(j|kg|s|w|l|kwh|g_per_kwh|rel)$")
# modules that define a shape of their own with these names: a table, a CSV, a data file, a vocabulary
DEFINERS = {"record.py": "the record and its rows", "store/": "the tables' rows (store/schema.py)",
            "report/files.py": "the CSV export's columns", "report/fleet_files.py": "the fleet CSV's columns", "outputs/files.py": "CodeCarbon's emissions.csv columns",
            "grid/series.py": "the intensity CSV's columns", "grid/static.py": "data/grid_zones.csv's columns",
            "hardware.py": "data/hardware.csv's columns", "estimate/estimator.py": "the estimate's assumption names"}


def _shape_fields(cls: type, seen: set[type] | None = None) -> set[str]:
    """Unit-suffixed field names of a dataclass and of every dataclass reachable from its fields."""
    seen = seen if seen is not None else set()
    if cls in seen:
        return set()
    seen.add(cls)
    names = set()
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if UNIT.search(f.name):
            names.add(f.name)
    import typing

    hints = typing.get_type_hints(cls)
    for hint in hints.values():
        for arg in [hint, *typing.get_args(hint)] + [a for h in typing.get_args(hint) for a in typing.get_args(h)]:
            if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                names |= _shape_fields(arg, seen)
    return names


# a setting's name (interval_s) is the settings' vocabulary (config.SETTINGS), not a record key
KEYS = (_shape_fields(RunRecord) | _shape_fields(JobSummary) | _shape_fields(Impact)) - set(SETTINGS)


def _string_keys(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings and n.value in KEYS}


def test_record_keys_are_spelled_only_where_a_shape_is_defined() -> None:
    assert {"energy_j", "co2e_kg", "facility_energy_j", "duration_s"} <= KEYS  # the check sees the shapes
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if any(rel == d or (d.endswith("/") and rel.startswith(d)) for d in DEFINERS):
            continue
        found = _string_keys(path)
        if found:
            bad.append(f"{rel}: {sorted(found)}")
    assert not bad, "record keys spelled as strings outside their shapes:\n" + "\n".join(bad)


def test_the_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text('"""doc energy_j"""\nx = {"energy_j": 1}\n')
    assert _string_keys(sample) == {"energy_j"}


def test_a_record_reads_back_from_its_json(record: RunRecord) -> None:  # type: ignore[name-defined]
    assert RunRecord.from_json(record.to_json()) == record


@pytest.fixture
def record() -> RunRecord:
    from tests.outputs.conftest import record as make

    return make.__wrapped__()  # type: ignore[attr-defined]


def _keys(value: object, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {k for key, v in value.items() for k in {f"{path}.{key}", *_keys(v, f"{path}.{key}")}}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v, f"{path}[]")}
    return set()


def test_show_json_keeps_every_key_the_version_before_typed_records_wrote(isolated_env: Path) -> None:
    """`show --json` of a tracked command has every key it had before the records were typed (the README
    lists the keys added since)."""
    import subprocess
    import sys

    env = dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env))
    done = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "-q", "--project", "k", "--", sys.executable,
                           "-c", "import time\nt = time.time()\nwhile time.time() - t < 1.2: pass"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-m", "mlfootprint", "show", done.stderr.split()[-1], "--json"],
                           capture_output=True, text=True, env=env, timeout=120)
    before = {line for line in (Path(__file__).parent / "data" / "record_keys_0.1.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    missing = before - _keys(json.loads(shown.stdout))
    assert not missing, f"keys show --json no longer has: {sorted(missing)}"
