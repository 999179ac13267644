"""Rows the store's columns can hold, and spool payloads checked before anything is written.

Two rules, one per kind of trouble:

* **A value that cannot fit its column is stored as NULL, with a warning in the run's record**, never
  left to fail the whole write: an integer outside the columns' 32-bit range (PostgreSQL's INTEGER;
  e.g. RANK=99999999999999999999 from a launcher's environment), a number too large for a double or
  not finite (SQLite would store NaN as NULL anyway), text longer than its column or holding NUL
  (clipped and cleaned instead). A column that may not be NULL takes its default, else -1 for an
  integer (liveness.py reads a pid <= 0 as unknown) and 0.0 for a number. `fit_row` does this on
  every write, the live path's included.
* **A payload whose shape is wrong is refused whole, in one line** that names the file and what is
  wrong (`check_payload`): `run` not an object, no run id, `samples` not a list, a field of the wrong
  type or unknown to this version. Nothing of it is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Float, Integer, String, Table

from ..errors import MlfootprintError
from ..record import clip
from .layout import RUN_KINDS, RUN_STATUSES
from .schema import components, phases, run_values, runs, samples, serving_windows

__all__ = ["INT_MAX", "INT_MIN", "PAYLOAD_TABLES", "check_payload", "fit_row", "with_warnings"]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # INTEGER on PostgreSQL (SQLite's is wider; the smaller one rules)
MAX_RUN_ID = 32
PAYLOAD_TABLES: dict[str, Table] = {"components": components, "phases": phases, "values": run_values,
                                    "windows": serving_windows, "samples": samples}
_OWN_KEYS = ("run_id", "id")  # columns a payload row never carries: the store sets them


def fit_row(table: Table, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`row` with every value its column can hold, and a warning per value changed (see the module).
    An integer in a float column becomes a float without a word: nothing is lost."""
    out = dict(row)
    notes: list[str] = []
    for name, value in row.items():
        col = table.c.get(name)
        if col is None or value is None:
            continue
        fitted, changed = _fit(col, value)
        out[name] = fitted
        if changed == "clipped":
            notes.append(f"{table.name}.{name} did not fit its column (at most {_length(col)} characters, no NUL): "
                         "stored clipped")
        elif changed == "replaced":
            notes.append(f"{table.name}.{name}={_shown(value)} does not fit the store's column; stored as "
                         f"{'NULL' if fitted is None else repr(fitted)}")
    return out, notes


def with_warnings(warnings_json: str | None, notes: Sequence[str]) -> str:
    """A run's warnings_json with `notes` added once each."""
    try:
        warnings = json.loads(warnings_json or "[]")
    except ValueError:
        warnings = []
    if not isinstance(warnings, list):
        warnings = [str(warnings)]
    warnings += [n for n in notes if n not in warnings]
    return json.dumps(warnings)


def _fit(col: Column[Any], value: Any) -> tuple[Any, str | None]:
    """(the value to store, None | "clipped" | "replaced")."""
    if isinstance(col.type, Integer) and isinstance(value, int) and not isinstance(value, bool):
        return (value, None) if INT_MIN <= value <= INT_MAX else (_substitute(col, int_column=True), "replaced")
    if isinstance(col.type, Float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            x = float(value)
        except OverflowError:
            return _substitute(col), "replaced"
        return (x, None) if math.isfinite(x) else (_substitute(col), "replaced")  # SQLite stores NaN as NULL
    if isinstance(col.type, String) and isinstance(value, str):
        length = _length(col)
        if (length is not None and len(value) > length) or "\x00" in value:
            return clip(value, length or len(value)), "clipped"
    return value, None


def _substitute(col: Column[Any], int_column: bool = False) -> Any:
    if col.nullable:
        return None
    default = getattr(col.default, "arg", None)
    if default is not None and not callable(default):
        return default
    return -1 if int_column else 0.0


def _length(col: Column[Any]) -> int | None:
    return getattr(col.type, "length", None)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# -- payloads ------------------------------------------------------------------------------------------
class PayloadError(MlfootprintError):
    """A spool or rescue file whose content is not a run's rows."""


def check_payload(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """`payload` if it holds a run's rows this version can store; else PayloadError naming `name` and
    the first thing wrong. Sample numbers are returned as floats (an integer time is a time)."""
    run = payload.get("run")
    if not isinstance(run, dict):
        raise PayloadError(f"{name}: 'run' must be an object of the run's fields, not {_kind(run)}")
    run_id = run.get("id")
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > MAX_RUN_ID or not run_id.isprintable():
        raise PayloadError(f"{name}: the run has no usable 'id' (text of 1-{MAX_RUN_ID} printable characters), "
                           f"got {_shown(run_id)}")
    _check_row(runs, run, name, "run")
    if run["status"] not in RUN_STATUSES:
        raise PayloadError(f"{name}: run status {_shown(run['status'])} is not one of {', '.join(RUN_STATUSES)}")
    if run.get("kind") is not None and run["kind"] not in RUN_KINDS:
        raise PayloadError(f"{name}: run kind {_shown(run['kind'])} is not one of {', '.join(RUN_KINDS)}")
    for key, table in PAYLOAD_TABLES.items():
        rows = payload.get(key, [])
        if not isinstance(rows, list):
            raise PayloadError(f"{name}: '{key}' must be a list of rows, not {_kind(rows)}")
        if key == "samples":
            payload[key] = _checked_samples(rows, name)
            continue
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise PayloadError(f"{name}: {key}[{i}] must be an object, not {_kind(row)}")
            _check_row(table, row, name, f"{key}[{i}]")
    return payload


def _check_row(table: Table, row: dict[str, Any], name: str, where: str) -> None:
    """Every field known to `table` and of its column's type, every column without a default present; a
    null or a missing field where the column has a default takes the default, a null where it has none
    is refused."""
    for key, value in list(row.items()):
        col = table.c.get(key)
        if col is None or (key in _OWN_KEYS and table is not runs):
            raise PayloadError(f"{name}: {where} has the field {_shown(key)}, unknown to this mlfootprint's "
                               f"{table.name} table (written by a newer version?)")
        if value is None:
            if col.nullable and not col.primary_key:
                continue
            if _has_default(col):
                del row[key]  # the default, below (or the database's)
                continue
            raise PayloadError(f"{name}: {where}.{key} may not be null")
        expected = _expected(col)
        if not _is(value, expected):
            raise PayloadError(f"{name}: {where}.{key} must be {expected}, got {_shown(value)}")
    missing = [c.name for c in table.c if c.name not in row and c.name not in _OWN_KEYS
               and (c.primary_key or not c.nullable) and not _has_default(c)]
    if missing:
        raise PayloadError(f"{name}: {where} lacks {', '.join(repr(m) for m in missing)}")
    for c in table.c:  # a field left out that has a default gets it: every row then has every field
        default = getattr(c.default, "arg", None)
        if c.name not in row and default is not None and not callable(default):
            row[c.name] = default


def _has_default(col: Column[Any]) -> bool:
    return col.default is not None or col.server_default is not None


def _checked_samples(rows: list[Any], name: str) -> list[dict[str, Any]]:
    """Samples are the bulk of a large file: checked in one tight loop and completed in place (numbers
    made floats, span_s and phase present in every row, so one INSERT serves them all), not copied."""
    allowed = {"t_s", "key", "energy_j", "power_w", "span_s", "phase"}
    for i, s in enumerate(rows):
        try:
            good = (isinstance(s["key"], str) and _is_number(s["t_s"]) and _is_number(s["energy_j"])
                    and _is_number(s["power_w"]) and (s.get("span_s") is None or _is_number(s["span_s"]))
                    and (s.get("phase") is None or isinstance(s["phase"], str)))
        except (TypeError, KeyError):
            good = False
        if not good:
            raise PayloadError(f"{name}: samples[{i}] must be an object with t_s, energy_j, power_w (numbers), key "
                               f"(text) and optionally span_s (number) and phase (text), got {_shown(s)}")
        if len(s) > 4 and not s.keys() <= allowed:
            raise PayloadError(f"{name}: samples[{i}] has the field {_shown(sorted(set(s) - allowed)[0])}, unknown "
                               "to this mlfootprint's samples table (written by a newer version?)")
        try:
            for key in ("t_s", "energy_j", "power_w", "span_s"):
                value = s.get(key)
                if value is not None and type(value) is not float:
                    s[key] = float(value)
        except OverflowError:
            raise PayloadError(f"{name}: samples[{i}] holds a number too large for a float") from None
        if len(s) < 6:
            s.setdefault("span_s", None)
            s.setdefault("phase", None)
    return rows


def _expected(col: Column[Any]) -> str:
    if isinstance(col.type, Integer):
        return "an integer"
    if isinstance(col.type, Float):
        return "a number"
    return "text"


def _is(value: Any, expected: str) -> bool:
    if expected == "an integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "a number":
        return _is_number(value)
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true/false"}.get(
        type(value), "a number" if _is_number(value) else type(value).__name__)
