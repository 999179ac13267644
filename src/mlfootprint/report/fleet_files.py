"""A fleet result as a CSV a sustainability team can load: one row per group and one for the total.

Units are in the column names (kWh for energy, kg for CO2e, L for water) with each figure's low and
high ends and its basis; label values are user text, written through `safe_cell` so a spreadsheet
never runs one as a formula.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from ..constants import J_PER_KWH
from ..fleet.result import FleetResult, GroupImpact
from ..impact import Figure
from .files import safe_cell

COLUMNS = ["group", "unallocated", "labels", "period_start", "period_end", "it_energy_kwh", "it_energy_kwh_low",
           "it_energy_kwh_high", "energy_basis", "share", "gpu_hours", "facility_energy_kwh",
           "co2e_location_kg", "co2e_location_kg_low", "co2e_location_kg_high", "co2e_market_kg",
           "co2e_embodied_kg", "co2e_embodied_kg_low", "co2e_embodied_kg_high", "co2e_total_kg",
           "co2e_total_kg_low", "co2e_total_kg_high", "co2e_basis", "water_l", "electricity_cost", "currency",
           "sites", "sources"]


def _fig(prefix: str, fig: Figure | None, scale: float = 1.0, ends: bool = True) -> dict[str, Any]:
    if fig is None:
        return {prefix: None}
    row = {prefix: round(fig.value * scale, 6)}
    if ends:
        row.update({f"{prefix}_low": round(fig.low * scale, 6), f"{prefix}_high": round(fig.high * scale, 6)})
    return row


def _row(name: str, unallocated: bool, labels: dict[str, str], share: float, hours: float, impact: GroupImpact,
         sites: str, sources: str, result: FleetResult) -> dict[str, Any]:
    row: dict[str, Any] = {"group": name, "unallocated": unallocated,
                           "labels": ";".join(f"{k}={v}" for k, v in labels.items()),
                           "period_start": result.start, "period_end": result.end, "share": round(share, 6),
                           "gpu_hours": round(hours, 3), "energy_basis": impact.energy.basis,
                           "co2e_basis": impact.co2e_total_kg.basis, "sites": sites, "sources": sources}
    row.update(_fig("it_energy_kwh", impact.energy, 1 / J_PER_KWH))
    row.update(_fig("facility_energy_kwh", impact.facility_energy_j, 1 / J_PER_KWH, ends=False))
    row.update(_fig("co2e_location_kg", impact.co2e_location_kg))
    row.update(_fig("co2e_market_kg", impact.co2e_market_kg, ends=False))
    row.update(_fig("co2e_embodied_kg", impact.co2e_embodied_kg))
    row.update(_fig("co2e_total_kg", impact.co2e_total_kg))
    row.update(_fig("water_l", impact.water_l, ends=False))
    cost = impact.electricity_cost
    row.update(electricity_cost=round(cost.value, 4) if cost else None, currency=cost.unit if cost else None)
    return {k: safe_cell(row.get(k)) for k in COLUMNS}


def write_fleet_csv(result: FleetResult, out: TextIO) -> int:
    """Rows for every group and the total; returns how many were written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for g in result.groups:
        writer.writerow(_row(g.name, g.unallocated, g.labels, g.share, g.device_hours, g.impact,
                             ";".join(f"{s.site}={s.energy_j / J_PER_KWH:.6g}kWh" for s in g.sites),
                             ";".join(f"{k}={v / J_PER_KWH:.6g}kWh" for k, v in g.sources.items()), result))
    t = result.totals
    writer.writerow(_row("total", False, {}, 1.0, t.device_hours, t.impact,
                         ";".join(f"{s.name}={s.energy_j / J_PER_KWH:.6g}kWh" for s in result.sites),
                         ";".join(f"{s.name}={s.energy_j / J_PER_KWH:.6g}kWh" for s in result.sources), result))
    return len(result.groups) + 1


__all__ = ["COLUMNS", "write_fleet_csv"]
