"""Runs as CSV or JSON files: flat columns for spreadsheets, full records for programs."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

CSV_COLUMNS = ["id", "project", "status", "started_at", "ended_at", "duration_s", "energy_j",
               "energy_uncertainty_j", "facility_energy_j", "pue", "co2e_kg", "country", "region",
               "intensity_g_per_kwh", "intensity_source", "scope", "host", "command", "exit_code",
               "gpu_energy_j", "cpu_energy_j", "ram_energy_j", "methods", "co2e_market_kg", "co2e_embodied_kg",
               "co2e_total_kg", "water_l", "electricity_cost", "currency"]
IMPACT_COLUMNS = ("co2e_market_kg", "co2e_embodied_kg", "co2e_total_kg", "water_l", "electricity_cost")


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: record.get(k) for k in CSV_COLUMNS}
    row.update(record["location"])
    for kind in ("gpu", "cpu", "ram"):
        row[f"{kind}_energy_j"] = sum(c["energy_j"] for c in record["components"] if c["kind"] == kind)
    row["methods"] = ";".join(f"{c['key']}={c['method']}" for c in record["components"])
    impact = record.get("impact") or {}  # empty for runs recorded before impact figures existed
    for key in IMPACT_COLUMNS:
        row[key] = impact[key]["value"] if impact.get(key) else None
    row["currency"] = impact["electricity_cost"]["unit"] if impact.get("electricity_cost") else None
    return {k: row.get(k) for k in CSV_COLUMNS}


def to_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(_flat(r) for r in records)
    return out.getvalue()


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=2)
