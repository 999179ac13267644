"""Runs as CSV or JSON files: flat columns for spreadsheets, full records for programs.

Both are streamed record by record, so exporting thousands of runs holds one batch in memory.
CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) are prefixed with a quote: a project name or command is data, never a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from ..record import dumps

CSV_COLUMNS = ["id", "project", "status", "started_at", "ended_at", "duration_s", "energy_j",
               "energy_uncertainty_j", "facility_energy_j", "pue", "co2e_kg", "country", "region",
               "intensity_g_per_kwh", "intensity_source", "scope", "host", "command", "exit_code",
               "gpu_energy_j", "cpu_energy_j", "ram_energy_j", "methods", "co2e_market_kg", "co2e_embodied_kg",
               "co2e_total_kg", "water_l", "electricity_cost", "currency", "job_id", "job_rank", "job_launcher",
               "job_owns", "serving_requests", "serving_tokens", "energy_per_request_idle_included_j",
               "energy_per_request_idle_excluded_j", "serving_idle_share"]
IMPACT_COLUMNS = ("co2e_market_kg", "co2e_embodied_kg", "co2e_total_kg", "water_l", "electricity_cost")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text (OWASP's CSV-injection advice); numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def flat(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: record.get(k) for k in CSV_COLUMNS}
    row.update(record["location"])
    for kind in ("gpu", "cpu", "ram"):
        row[f"{kind}_energy_j"] = sum(c["energy_j"] for c in record["components"] if c["kind"] == kind)
    row["methods"] = ";".join(f"{c['key']}={c['method']}" for c in record["components"])
    impact = record.get("impact") or {}  # empty for runs recorded before impact figures existed
    for key in IMPACT_COLUMNS:
        row[key] = impact[key]["value"] if impact.get(key) else None
    row["currency"] = impact["electricity_cost"]["unit"] if impact.get("electricity_cost") else None
    job = record.get("job") or {}  # the distributed job this run is a rank of
    row.update(job_id=job.get("id"), job_rank=job.get("rank"), job_launcher=job.get("launcher"),
               job_owns=";".join(job.get("owns", [])) or None)
    serving = record.get("serving") or {}  # a served model (`mlfootprint serve`)
    per_request = serving.get("energy_per_request_j") or {}
    row.update(serving_requests=serving.get("requests"), serving_tokens=serving.get("tokens"),
               energy_per_request_idle_included_j=per_request.get("idle_included"),
               energy_per_request_idle_excluded_j=per_request.get("idle_excluded"),
               serving_idle_share=serving.get("idle_share"))
    return {k: safe_cell(row.get(k)) for k in CSV_COLUMNS}


def write_csv(records: Iterable[dict[str, Any]], out: TextIO, columns: list[str] = CSV_COLUMNS,
              row: Callable[[dict[str, Any]], dict[str, Any]] = flat) -> int:
    """One row per record (`row` flattens it into `columns`), streamed; returns how many."""
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    n = 0
    for n, record in enumerate(records, 1):
        writer.writerow(row(record))
    return n


def write_json(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A JSON array of full records (standard JSON: a NaN is written as null)."""
    n = 0
    out.write("[")
    for n, record in enumerate(records, 1):
        out.write(("\n" if n == 1 else ",\n") + dumps(record, indent=2))
    out.write("\n]\n" if n else "]\n")
    return n
