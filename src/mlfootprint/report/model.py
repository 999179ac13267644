"""What every view of a footprint shows, decided once: the impact rows, their words, their sources.

The terminal, the HTML report, the dashboard and the statement all render the rows made here, so a
figure has one label everywhere ("IT energy", "facility energy", "CO2e operational (location-based)",
"CO2e total (operational + embodied)") and one numbered source list (`Citations`). Pure: no rich, no
Jinja, no matplotlib.

The figure to quote is the operational CO2e (location-based) with its range: it is what carbon
reports and papers state for electricity (the GHG Protocol's scope 2, location-based), and what can be
compared between runs and tools; the total with the hardware's embodied share is shown beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..impact import Figure, Impact
from ..ranges import Range
from .format import fmt_co2e, fmt_count, fmt_energy, fmt_money, fmt_range, fmt_water

IT_ENERGY = "IT energy"
FACILITY_ENERGY = "facility energy"
CO2E_OPERATIONAL = "CO2e operational (location-based)"
CO2E_MARKET = "CO2e operational (market-based)"
CO2E_EMBODIED = "CO2e embodied (hardware share)"
CO2E_TOTAL = "CO2e total (operational + embodied)"

# equivalents below these are not worth a line: "0.0000001 cars driven for a year" means nothing
EQUIVALENT_MIN = {"car_km": 0.01, "car_years": 0.01, "smartphone_charges": 0.1}
EQUIVALENT_LABELS = {"car_km": "≈ km driven by a car", "car_years": "≈ cars driven for a year",
                     "smartphone_charges": "≈ smartphone charges"}


class Citations:
    """Numbered sources: `cite(text)` gives its number (the same text, the same number)."""

    def __init__(self) -> None:
        self.sources: list[str] = []

    def __call__(self, text: str | None) -> int | None:
        if not text:
            return None
        if text not in self.sources:
            self.sources.append(text)
        return self.sources.index(text) + 1


@dataclass(frozen=True)
class Row:
    """One figure as every view shows it."""

    label: str
    value: str
    range: str  # "" when the figure is exact
    basis: str
    ref: int | None  # its source's number
    strong: bool = False  # a total


def _figure_row(label: str, fig: Figure, fmt: Callable[[float], str], cite: Citations, strong: bool = False) -> Row:
    shown = fmt_range(fig, fmt)
    return Row(label, fmt(fig.value), "" if shown == fmt(fig.value) else shown, fig.basis, cite(fig.source), strong)


def impact_rows(impact: Impact, cite: Citations) -> list[Row]:
    """Facility energy, CO2e (operational, market-based, embodied, total), water and cost, each with its
    range, basis and source."""
    money: Callable[[Figure], Callable[[float], str]] = lambda f: (lambda v: fmt_money(v, f.unit))  # noqa: E731
    rows = [_figure_row(FACILITY_ENERGY, impact.facility_energy_j, fmt_energy, cite),
            _figure_row(CO2E_OPERATIONAL, impact.co2e_operational_kg, fmt_co2e, cite, strong=True)]
    if impact.co2e_market_kg is not None:
        rows.append(_figure_row(CO2E_MARKET, impact.co2e_market_kg, fmt_co2e, cite))
    rows += [_figure_row(CO2E_EMBODIED, impact.co2e_embodied_kg, fmt_co2e, cite),
             _figure_row(CO2E_TOTAL, impact.co2e_total_kg, fmt_co2e, cite, strong=True),
             _figure_row("water on-site (cooling)", impact.water_onsite_l, fmt_water, cite),
             _figure_row("water off-site (generation)", impact.water_offsite_l, fmt_water, cite),
             _figure_row("water total", impact.water_l, fmt_water, cite, strong=True)]
    if impact.electricity_cost is not None:
        rows.append(_figure_row("electricity cost", impact.electricity_cost, money(impact.electricity_cost), cite))
    else:
        rows.append(Row("electricity cost", "-", "", "", cite("no cited price for this zone: give --price-per-kwh "
                                                              "and --currency")))
    if impact.instance_cost is not None:
        rows.append(_figure_row("machine cost", impact.instance_cost, money(impact.instance_cost), cite))
    return rows


def equivalent_rows(impact: Impact, cite: Citations) -> list[Row]:
    """Plain equivalents of the total CO2e, left out where too small to mean anything."""
    return [_figure_row(EQUIVALENT_LABELS.get(key, key), fig, fmt_count, cite)
            for key, fig in impact.equivalents.items() if fig.high >= EQUIVALENT_MIN.get(key, 0.0)]


def energy_row(energy_j: float, uncertainty_j: float, basis: str) -> Row:
    """The IT energy, ± its uncertainty, and how it was obtained."""
    r = Range(energy_j, max(0.0, energy_j - uncertainty_j), energy_j + uncertainty_j)
    shown = fmt_range(r, fmt_energy)
    return Row(IT_ENERGY, fmt_energy(energy_j), "" if shown == fmt_energy(energy_j) else shown, basis, None, True)


def quote(impact: Impact | None, co2e_kg: float, where: str) -> str:
    """The one figure to quote, named so it cannot be mistaken for another."""
    if impact is None:
        return f"{CO2E_OPERATIONAL}: {fmt_co2e(co2e_kg)} ({where})"
    op = impact.co2e_operational_kg
    spread = fmt_range(op, fmt_co2e)
    return (f"{CO2E_OPERATIONAL}: {fmt_co2e(op.value)}" + (f" (range {spread})" if spread != fmt_co2e(op.value) else "")
            + f", {where}")


__all__ = ["CO2E_EMBODIED", "CO2E_MARKET", "CO2E_OPERATIONAL", "CO2E_TOTAL", "Citations", "FACILITY_ENERGY",
           "IT_ENERGY", "Row", "energy_row", "equivalent_rows", "impact_rows", "quote"]
