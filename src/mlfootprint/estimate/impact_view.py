"""The one place the estimate reads `impact.assess`'s result.

`assess` returns a dict today; it is becoming a typed `Impact` with the same JSON shape (issue 20). The
estimate keeps the whole result (its JSON is part of `estimate --json`) and reads the handful of figures
it shows through `figures()` below, so switching to the typed value changes this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ImpactData = dict[str, Any]  # impact.assess's result; the typed Impact replaces it with the same JSON shape


@dataclass(frozen=True)
class ImpactFigures:
    facility_energy_j: float
    co2e_kg: float  # operational, location-based
    co2e_embodied_kg: float
    co2e_total_kg: float
    water_l: float
    electricity_cost: dict[str, Any] | None
    energy_j_range: tuple[float, float]  # IT energy, low and high
    co2e_total_range_kg: tuple[float, float]


def figures(impact: ImpactData) -> ImpactFigures:
    def value(key: str) -> float:
        return float(impact[key]["value"])

    def ends(key: str) -> tuple[float, float]:
        return float(impact[key]["low"]), float(impact[key]["high"])

    return ImpactFigures(value("facility_energy_j"), value("co2e_operational_kg"), value("co2e_embodied_kg"),
                         value("co2e_total_kg"), value("water_l"), impact["electricity_cost"], ends("energy_j"),
                         ends("co2e_total_kg"))


def to_data(impact: Any) -> ImpactData:
    """The JSON data of an assessment, whichever type `assess` returns (a dict today, a typed value soon)."""
    if isinstance(impact, dict):
        return impact
    from ..shapes import to_json

    data: ImpactData = to_json(impact)
    return data
