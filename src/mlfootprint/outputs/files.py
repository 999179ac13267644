"""Outputs written at a run's end: the JSON record, a CodeCarbon emissions.csv row, the HTML report."""

from __future__ import annotations

import csv
import os
import platform
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from ..atomic import write_atomic
from ..constants import J_PER_KWH
from ..live import LiveFigures
from ..record import RunRecord, SampleRow, dumps

# CodeCarbon 3.x emissions.csv, column for column (codecarbon/output_methods/emissions_data.py), so a
# notebook or dashboard built on CodeCarbon's file reads ours. Units as CodeCarbon's: kg, kWh, W, s, L.
CODECARBON_COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue"]


def codecarbon_row(record: RunRecord) -> dict[str, Any]:
    """One record in CodeCarbon's columns. CodeCarbon's `emissions` and `energy_consumed` include the
    PUE (it scales power by it); so do ours here: facility energy, operational CO2e."""
    from ..report.files import safe_cell

    duration = record.duration_s or 0.0
    by_kind = {k: sum(c.energy_j for c in record.components if c.kind == k and not c.charged_to)
               for k in ("cpu", "gpu", "ram")}
    names = {k: sorted({c.name for c in record.components if c.kind == k}) for k in ("cpu", "gpu")}
    region = record.location.region or ""
    pue = record.pue
    row = {
        "timestamp": record.ended_at or record.started_at, "project_name": record.project,
        "run_id": record.id, "experiment_id": record.job.id if record.job else "", "duration": duration,
        "emissions": record.co2e_kg, "emissions_rate": record.co2e_kg / duration if duration else 0.0,
        "cpu_power": by_kind["cpu"] / duration * pue if duration else 0.0,
        "gpu_power": by_kind["gpu"] / duration * pue if duration else 0.0,
        "ram_power": by_kind["ram"] / duration * pue if duration else 0.0,
        "cpu_energy": by_kind["cpu"] * pue / J_PER_KWH, "gpu_energy": by_kind["gpu"] * pue / J_PER_KWH,
        "ram_energy": by_kind["ram"] * pue / J_PER_KWH, "energy_consumed": record.facility_energy_j / J_PER_KWH,
        "water_consumed": record.impact.water_l.value if record.impact else 0.0,
        "country_name": "", "country_iso_code": record.location.country or "",
        "region": "", "cloud_provider": region.split(":")[0] if region else "",
        "cloud_region": region.split(":", 1)[1] if region else "", "os": platform.platform(),
        "python_version": platform.python_version(), "codecarbon_version": "",
        "cpu_count": os.cpu_count() or 0, "cpu_model": ", ".join(names["cpu"]),
        "gpu_count": sum(1 for c in record.components if c.kind == "gpu"), "gpu_model": ", ".join(names["gpu"]),
        "longitude": "", "latitude": "", "ram_total_size": "", "tracking_mode": record.scope,
        "cpu_utilization_percent": "", "gpu_utilization_percent": "", "ram_utilization_percent": "",
        "ram_used_gb": "", "on_cloud": "Y" if region else "N", "pue": pue,
        "wue": "",
    }
    return {k: safe_cell(v) for k, v in row.items()}


def write_codecarbon(records: Iterable[RunRecord], out: TextIO) -> int:
    from ..report.files import write_csv

    return write_csv(records, out, CODECARBON_COLUMNS, codecarbon_row)


class JsonOutput:
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def start(self, live: LiveFigures) -> None:
        pass

    def flush(self, live: LiveFigures) -> None:
        pass

    def end(self, record: RunRecord) -> None:
        write_atomic(self.path, dumps(record, indent=2))


class CodecarbonOutput(JsonOutput):
    def end(self, record: RunRecord) -> None:
        """One row appended; the header first when the file is new or empty."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CODECARBON_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(codecarbon_row(record))


class HtmlOutput(JsonOutput):
    def __init__(self, path: str, samples_of: Callable[[str], list[SampleRow]] | None = None) -> None:
        super().__init__(path)
        self._samples_of = samples_of

    def end(self, record: RunRecord) -> None:
        """The report, once the run's samples are in the store (its power curve reads them)."""
        from ..report.html import run_report

        samples = self._samples_of(record.id) if self._samples_of is not None else []
        write_atomic(self.path, run_report(record, samples))


__all__ = ["CODECARBON_COLUMNS", "CodecarbonOutput", "HtmlOutput", "JsonOutput", "codecarbon_row",
           "write_codecarbon"]
