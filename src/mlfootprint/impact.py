"""From energy to impact: pure functions shared by measured, forecast and estimated runs."""

from __future__ import annotations

from .constants import J_PER_KWH


def facility_energy_j(it_energy_j: float, pue: float) -> float:
    """Energy drawn by the whole facility (cooling, power conversion) for `it_energy_j` of IT load."""
    return it_energy_j * pue


def co2e_kg(facility_energy_j: float, intensity_g_per_kwh: float) -> float:
    """Operational (location-based) emissions of `facility_energy_j` on a grid of the given intensity."""
    return facility_energy_j / J_PER_KWH * intensity_g_per_kwh / 1000.0


def operational_co2e_kg(it_energy_j: float, pue: float, intensity_g_per_kwh: float) -> float:
    """CO2e of `it_energy_j` of IT load in a facility of the given PUE on a grid of the given intensity."""
    return co2e_kg(facility_energy_j(it_energy_j, pue), intensity_g_per_kwh)


def uncertainty_j(components: list[tuple[float, float]]) -> float:
    """± joules of a sum of (energy_j, relative uncertainty) terms, taken as fully correlated.

    Model errors of one machine's parts tend to move together (one utilization trace drives
    them), so we add them linearly rather than in quadrature: a deliberately wide bound.
    """
    return sum(energy_j * rel for energy_j, rel in components)
