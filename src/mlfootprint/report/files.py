"""Runs as CSV or JSON files: flat columns for spreadsheets, full records for programs.

Both are streamed record by record, so exporting thousands of runs holds one batch in memory.
CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) are prefixed with a quote: a project name or command is data, never a formula. Column names
are the record's (energy_j: IT energy charged to the run; co2e_kg: operational, location-based); a
nested run (parent_id set) is charged nothing, so summing a column counts each device once.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from ..record import RunRecord, dumps

CSV_COLUMNS = ["id", "project", "status", "started_at", "ended_at", "duration_s", "energy_j",
               "energy_uncertainty_j", "facility_energy_j", "pue", "co2e_kg", "country", "region",
               "intensity_g_per_kwh", "intensity_source", "scope", "host", "command", "exit_code",
               "gpu_energy_j", "cpu_energy_j", "ram_energy_j", "methods", "co2e_market_kg", "co2e_embodied_kg",
               "co2e_total_kg", "water_l", "electricity_cost", "currency", "job_id", "job_rank", "job_launcher",
               "job_owns", "serving_requests", "serving_tokens", "energy_per_request_idle_included_j",
               "energy_per_request_idle_excluded_j", "serving_idle_share", "parent_id", "kind"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text (OWASP's CSV-injection advice); numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def flat(record: RunRecord) -> dict[str, Any]:
    """One CSV row. energy_j is IT energy charged to the run (0 for a nested run: see parent_id);
    co2e_kg is operational, location-based."""
    loc, impact, job, serving = record.location, record.impact, record.job, record.serving
    charged = [c for c in record.components if not c.charged_to]
    values = [record.id, record.project, record.status, record.started_at, record.ended_at, record.duration_s,
              record.energy_j, record.energy_uncertainty_j, record.facility_energy_j, record.pue, record.co2e_kg,
              loc.country, loc.region, loc.intensity_g_per_kwh, loc.intensity_source, record.scope, record.host,
              record.command, record.exit_code,
              *(sum(c.energy_j for c in charged if c.kind == kind) for kind in ("gpu", "cpu", "ram")),
              ";".join(f"{c.key}={c.method}" for c in record.components),
              *((impact.co2e_market_kg.value if impact.co2e_market_kg else None, impact.co2e_embodied_kg.value,
                 impact.co2e_total_kg.value, impact.water_l.value,
                 impact.electricity_cost.value if impact.electricity_cost else None,
                 impact.electricity_cost.unit if impact.electricity_cost else None) if impact is not None
                else (None,) * 6),
              job.id if job else None, job.rank if job else None, job.launcher if job else None,
              ";".join(job.owns) or None if job else None,
              *((serving.requests, serving.tokens, serving.energy_per_request_j.idle_included,
                 serving.energy_per_request_j.idle_excluded, serving.idle_share) if serving is not None
                else (None,) * 5),
              record.parent_id, record.kind]
    return {k: safe_cell(v) for k, v in zip(CSV_COLUMNS, values)}


def write_csv(records: Iterable[RunRecord], out: TextIO, columns: list[str] = CSV_COLUMNS,
              row: Callable[[RunRecord], dict[str, Any]] = flat) -> int:
    """One row per record (`row` flattens it into `columns`), streamed; returns how many."""
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    n = 0
    for n, record in enumerate(records, 1):
        writer.writerow(row(record))
    return n


def write_json(records: Iterable[RunRecord], out: TextIO) -> int:
    """A JSON array of full records (standard JSON: a NaN is written as null)."""
    n = 0
    out.write("[")
    for n, record in enumerate(records, 1):
        out.write(("\n" if n == 1 else ",\n") + dumps(record, indent=2))
    out.write("\n]\n" if n else "]\n")
    return n
