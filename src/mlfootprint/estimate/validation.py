"""Estimates next to published training footprints (a CSV shaped like tests/data/published_training_footprints.csv).

Two checks per model, both with the same assumptions as any other estimate (no per-model constant):
* `hours`: the published accelerator-hours, our datasheet power (TDP), the published PUE and intensity:
  this re-multiplies the publisher's own arithmetic, a check of our data and sums;
* `flops`: parameters and tokens only (6 N D, the fitted utilization, TDP), the published PUE and
  intensity. Those runs are among the ones the utilization is fitted on, so this is in sample: the
  out-of-sample error is utilization.validate()'s (benchmarks/estimate_validation.py).
PUE and grid intensity are the place, not the model: they are taken from the publication.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..constants import DEFAULT_WUE, WORLD_WATER_INTENSITY
from ..impact import Place
from .estimator import estimate
from .workload import HoursWorkload, TrainingWorkload


def published_place(pue: float, intensity_kg_per_kwh: float) -> Place:
    return Place(pue=pue, pue_source="published", intensity_g_per_kwh=intensity_kg_per_kwh * 1000,
                 intensity_source="published", wue_l_per_kwh=DEFAULT_WUE.value, wue_source=DEFAULT_WUE.source,
                 generation_water_l_per_kwh=WORLD_WATER_INTENSITY.value,
                 generation_water_source=WORLD_WATER_INTENSITY.source)


def _err(estimated: float, published: float | None) -> float | None:
    return None if not published else (estimated - published) / published


def compare(csv_path: str | Path) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(Path(csv_path).read_text(encoding="utf-8").splitlines()))
    results = []
    for r in rows:
        place = published_place(float(r["pue"]), float(r["intensity_kg_per_kwh"]))
        energy_mwh = float(r["energy_mwh"]) if r["energy_mwh"] else None
        co2e_t = float(r["co2e_t"])
        hours = float(r["accelerator_hours"])
        for method, workload in (
            ("hours", HoursWorkload(hours, r["hardware"])),
            ("flops", TrainingWorkload(r["hardware"], float(r["params"]), float(r["tokens"]))),
        ):
            est = estimate(workload, place)
            facility_mwh = est.facility_energy_j / 3.6e9
            results.append({
                "model": r["model"], "method": method,
                "hours": est.accelerator_hours, "published_hours": hours, "hours_error": _err(est.accelerator_hours, hours),
                "energy_mwh": facility_mwh, "published_energy_mwh": energy_mwh, "energy_error": _err(facility_mwh, energy_mwh),
                "co2e_t": est.co2e_kg / 1000, "published_co2e_t": co2e_t, "co2e_error": _err(est.co2e_kg / 1000, co2e_t),
            })
    return results


def mape(results: list[dict[str, Any]], method: str, key: str = "co2e_error") -> float:
    errors = [abs(r[key]) for r in results if r["method"] == method and r[key] is not None]
    return sum(errors) / len(errors)


def table(results: list[dict[str, Any]]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:+.1%}"

    lines = [f"{'model':<12} {'from':<6} {'accel-h':>11} {'published':>11} {'err':>7} {'MWh':>8} {'published':>9} "
             f"{'err':>7} {'tCO2e':>7} {'published':>9} {'err':>7}"]
    for r in results:
        pub_e = f"{r['published_energy_mwh']:9.0f}" if r["published_energy_mwh"] else f"{'-':>9}"
        lines.append(f"{r['model']:<12} {r['method']:<6} {r['hours']:11,.0f} {r['published_hours']:11,.0f} "
                     f"{pct(r['hours_error']):>7} {r['energy_mwh']:8.0f} {pub_e} {pct(r['energy_error']):>7} "
                     f"{r['co2e_t']:7.1f} {r['published_co2e_t']:9.1f} {pct(r['co2e_error']):>7}")
    for method in ("hours", "flops"):
        lines.append(f"mean absolute error from {method}: CO2e {mape(results, method):.1%}, "
                     f"energy {mape(results, method, 'energy_error'):.1%}, "
                     f"accelerator-hours {mape(results, method, 'hours_error'):.1%}")
    return "\n".join(lines)
