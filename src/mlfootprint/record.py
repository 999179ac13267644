"""The run record: rows as every writer stores them, and the documented JSON shape built from them.

The record is built here, once, outside any output: the store, rescue files, `show --json` and
exports all go through `to_record`. Rows are plain dicts of JSON-safe values (`clean_rows` makes sure:
a NaN metric or an over-long name must never make a whole save fail).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

# Column limits of the store (store/schema.py): longer names are cut, with a marker, never refused.
MAX_NAME = 200  # run_values.name
MAX_PATH = 255  # phases.path
ELLIPSIS = "…"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def finite(value: Any) -> float | None:
    """A float, or None for NaN, infinities and anything that is not a number."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def clip(text: str, limit: int) -> str:
    """Text a database column takes: at most `limit` characters, no NUL (PostgreSQL refuses it)."""
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def clean_rows(phase_rows: Iterable[dict[str, Any]], value_rows: Iterable[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Phase and value rows the store accepts: names clipped to the columns; values None when not finite.

    Clipping can make two names equal; the first one keeps its row (a run logging two 300-character
    metric names that differ only at the end is not a case worth a lost save).
    """
    phases: dict[str, dict[str, Any]] = {}
    for r in phase_rows:
        path = clip(r["path"], MAX_PATH)
        phases.setdefault(path, {**r, "path": path})
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for r in value_rows:
        name = clip(str(r["name"]), MAX_NAME)
        values.setdefault((r["kind"], name), {**r, "name": name, "value": finite(r["value"])})
    return list(phases.values()), list(values.values())


def dumps(data: Any, **kwargs: Any) -> str:
    """Standard JSON (no NaN or Infinity, which strict parsers reject): non-finite floats become null."""
    return json.dumps(_json_safe(data), allow_nan=False, **kwargs)


def _json_safe(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_json_safe(v) for v in data]
    return data


def to_record(row: dict[str, Any], component_rows: Iterable[dict[str, Any]],
              phase_rows: Iterable[dict[str, Any]] = (), value_rows: Iterable[dict[str, Any]] = (),
              window_rows: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The documented JSON shape of a run (see `mlfootprint show --json`)."""
    from .quality import generalization_gaps, phase_records
    from .impact import energy_basis
    from .serving import summarize_windows

    component_rows = list(component_rows)

    value_rows = list(value_rows)
    counts = {v["name"]: v["value"] for v in value_rows if v["kind"] == "count" and v["value"] is not None}
    metrics = {v["name"]: v["value"] for v in value_rows if v["kind"] == "metric"}  # None: logged, not finite
    forecast = {v["name"]: v["value"] for v in value_rows if v["kind"] == "forecast"}
    energy_j = row["energy_j"]
    return {
        "id": row["id"],
        "project": row["project"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row.get("ended_at"),
        "duration_s": row["duration_s"],
        "energy_j": row["energy_j"],
        "energy_uncertainty_j": row["energy_uncertainty_j"],
        "facility_energy_j": row["facility_energy_j"],
        "pue": row["pue"],
        "co2e_kg": row["co2e_kg"],
        "components": [
            {k: c.get(k) for k in ("key", "kind", "name", "energy_j", "method", "source", "uncertainty_rel", "note")}
            for c in component_rows
        ],
        "location": {
            "country": row["country"],
            "region": row["region"],
            "intensity_g_per_kwh": row["intensity_g_per_kwh"],
            "intensity_source": row["intensity_source"],
        },
        "scope": row["scope"],
        "interval_s": row["interval_s"],
        "host": row["host"],
        "pid": row["pid"],
        "command": row["command"],
        "exit_code": row.get("exit_code"),
        "phases": phase_records(list(phase_rows), energy_j),
        "counts": counts,
        "energy_per_sample_j": energy_j / counts["samples"] if counts.get("samples") else None,
        "energy_per_token_j": energy_j / counts["tokens"] if counts.get("tokens") else None,
        "metrics": metrics,
        "generalization_gap": generalization_gaps({k: v for k, v in metrics.items() if v is not None}),
        # the last projection made from progress reports: estimated, never part of the measured totals
        "forecast": dict(forecast, method="estimated from progress") if forecast else None,
        # impact.assess() as of the last flush; None for runs recorded before schema 3
        "impact": json.loads(row["impact_json"]) if row.get("impact_json") else None,
        # a served model (`mlfootprint serve`): energy per request and per token over time windows
        "serving": summarize_windows(list(window_rows), row["co2e_kg"] / energy_j if energy_j else 0.0,
                                     json.loads(row.get("settings_json") or "{}").get("serve", {}).get("value"),
                                     energy_basis(component_rows)[0])
        if window_rows else None,
        # the distributed job this run is one rank of (see jobenv and ownership); None when it ran alone
        "job": dict(json.loads(row.get("job_json") or "{}"), id=row["job_id"], rank=row.get("job_rank"))
        if row.get("job_id") else None,
        "settings": json.loads(row.get("settings_json") or "{}"),
        "warnings": json.loads(row.get("warnings_json") or "[]"),
    }
