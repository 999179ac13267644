"""From energy to impact: pure functions shared by measured, forecast and estimated runs.

`assess` is the one place where IT energy, duration and the factors of a place become operational and
embodied CO2e, water, cost and equivalents, each as a Figure with a low-high range taken from the
ranges of its inputs and a source. Measured runs (tracker), forecasts and estimates all call it, so a
number means the same thing wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .constants import (CAR_CO2E_KG_PER_KM, CAR_YEAR_CO2E_KG, DEFAULT_LIFETIME_YEARS, DEFAULT_USAGE_RATE,
                        J_PER_KWH, SMARTPHONE_CHARGE_CO2E_KG)
from .ranges import Range

SECONDS_PER_YEAR = 365.25 * 86400


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


def embodied_share_kg(embodied_kg: float, duration_s: float, lifetime_years: float, usage_rate: float) -> float:
    """The part of a device's manufacturing emissions a run of `duration_s` uses up.

    Hardware is charged over the hours it is busy in its life (lifetime x usage rate), so idle time in
    a cluster is spread over the jobs that run on it rather than dropped.
    """
    return embodied_kg * duration_s / (lifetime_years * SECONDS_PER_YEAR * usage_rate)


# How a figure was obtained, strongest first. A figure is as weak as its weakest input: energy read
# from a counter is measured; times a cited factor (PUE, grid intensity, water per kWh) it is modelled;
# anything with embodied CO2e in it is estimated; anything from a scripted sensor is simulated.
BASES = ("measured", "modelled", "estimated", "simulated")


def weakest(*bases: str) -> str:
    return max(bases, key=BASES.index)


def energy_basis(components: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(basis, detail) of a run's IT energy from its components' (method, kind) pairs, e.g.
    ("modelled", "measured (gpu) + modelled (cpu, ram)")."""
    by_method: dict[str, list[str]] = {}
    for method, kind in components:
        kinds = by_method.setdefault(method, [])
        if kind not in kinds:
            kinds.append(kind)
    if not by_method:
        return "modelled", "no components"
    basis = weakest(*by_method)
    detail = " + ".join(f"{m} ({', '.join(k)})" for m, k in sorted(by_method.items(), key=lambda i: BASES.index(i[0])))
    return basis, detail


@dataclass(frozen=True)
class Figure(Range):
    """A figure as shown: its range, unit, how it was obtained and from what."""

    unit: str
    basis: str  # measured | modelled | estimated | simulated (see BASES)
    source: str

    def scaled(self, factor: float, unit: str, source: str) -> Figure:
        return Figure(self.value * factor, self.low * factor, self.high * factor, unit, self.basis, source)


@dataclass(frozen=True)
class Place:
    """Where (and under which contracts) the energy was drawn; every factor with its source."""

    pue: float
    pue_source: str
    intensity_g_per_kwh: float
    intensity_source: str
    wue_l_per_kwh: float
    wue_source: str
    generation_water_l_per_kwh: float
    generation_water_source: str
    price_per_kwh: float | None = None
    currency: str | None = None
    price_source: str | None = None
    renewable_share: float | None = None  # market-based accounting: share covered by renewable contracts
    # (low, high) where the factor is uncertain: a default PUE, an annual or world-average intensity.
    # None where it was given or published. A range that does not contain its value is ignored.
    pue_range: tuple[float, float] | None = None
    intensity_range_g_per_kwh: tuple[float, float] | None = None

    def pue_bounds(self) -> tuple[float, float]:
        return _bounds(self.pue, self.pue_range)

    def intensity_bounds(self) -> tuple[float, float]:
        return _bounds(self.intensity_g_per_kwh, self.intensity_range_g_per_kwh)


def _bounds(value: float, span: tuple[float, float] | None) -> tuple[float, float]:
    if span is None or not span[0] <= value <= span[1]:
        return value, value
    return span


@dataclass(frozen=True)
class EmbodiedItem:
    """Hardware a run occupied: `embodied_kg` for the whole item, `share` of it the run had.
    `uncertainty_rel` widens the range where the figure is an assumption rather than a cited value."""

    name: str
    embodied_kg: float
    share: float
    source: str
    uncertainty_rel: float = 0.0
    rank: int | None = None  # in a job's impact: the rank that measured the item


@dataclass(frozen=True)
class Impact:
    """Every impact figure of one run, job or estimate (`assess`). Its JSON is the record's "impact"."""

    basis: str  # how the IT energy was obtained; each figure carries its own basis
    basis_detail: str | None  # e.g. "measured (gpu) + modelled (cpu, ram)"; None in the oldest records
    energy_j: Figure
    facility_energy_j: Figure
    co2e_operational_kg: Figure  # location-based
    co2e_market_kg: Figure | None  # with a stated renewable share only
    co2e_embodied_kg: Figure
    co2e_total_kg: Figure  # operational (location-based) + embodied
    water_l: Figure
    water_onsite_l: Figure
    water_offsite_l: Figure
    electricity_cost: Figure | None
    instance_cost: Figure | None
    equivalents: dict[str, Figure]  # car_km, car_years, smartphone_charges
    embodied_items: list[EmbodiedItem]


def assess(energy_j: Range, duration_s: Range, place: Place, embodied: list[EmbodiedItem], basis: str, *,
           instance_price_per_hour: float | None = None, series_co2e_kg: float | None = None,
           series_source: str | None = None, basis_detail: str | None = None) -> Impact:
    """Every impact figure of `energy_j` of IT energy over `duration_s`, each with its range.

    `basis` is how the energy was obtained (see `energy_basis`); every other figure's basis follows
    from its inputs (`weakest`). `series_co2e_kg` replaces the annual intensity when a run's samples
    were matched to an hourly series.
    """
    e, e_lo, e_hi = energy_j.value, energy_j.low, energy_j.high
    d, d_lo, d_hi = duration_s.value, duration_s.low, duration_s.high
    factor_basis = weakest(basis, "modelled")  # energy x a cited or stated factor
    energy = Figure(e, e_lo, e_hi, "J", basis, "IT energy (GPU, CPU, RAM)")
    pue_lo, pue_hi = place.pue_bounds()
    int_lo, int_hi = place.intensity_bounds()
    pue_note = f", range {pue_lo:g}-{pue_hi:g}" if pue_lo != pue_hi else ""
    facility = Figure(e * place.pue, e_lo * pue_lo, e_hi * pue_hi, "J", factor_basis,
                      f"IT energy x PUE {place.pue:g} ({place.pue_source}{pue_note})")
    if series_co2e_kg is not None and e > 0:
        ratio = series_co2e_kg / e
        operational = Figure(series_co2e_kg, e_lo * ratio * pue_lo / place.pue, e_hi * ratio * pue_hi / place.pue,
                             "kg", factor_basis,
                             f"each sample's facility energy x the intensity at its hour: {series_source}")
    else:
        per_j = 1 / 1000 / J_PER_KWH
        int_note = f", range {int_lo:g}-{int_hi:g}" if int_lo != int_hi else ""
        operational = Figure(facility.value * place.intensity_g_per_kwh * per_j, facility.low * int_lo * per_j,
                             facility.high * int_hi * per_j, "kg", facility.basis,
                             f"facility energy x {place.intensity_g_per_kwh:g} gCO2e/kWh "
                             f"({place.intensity_source}{int_note}); location-based")
    market = None
    if place.renewable_share is not None:
        market = operational.scaled(1 - place.renewable_share, "kg",
                                    f"location-based x (1 - {place.renewable_share:.0%} stated renewable share); "
                                    "market-based, residual mix not modelled")

    lifetime, usage = DEFAULT_LIFETIME_YEARS, DEFAULT_USAGE_RATE
    emb_kg = sum(i.embodied_kg * i.share for i in embodied)
    emb_lo = sum(i.embodied_kg * i.share * (1 - i.uncertainty_rel) for i in embodied)
    emb_hi = sum(i.embodied_kg * i.share * (1 + i.uncertainty_rel) for i in embodied)
    embodied_fig = Figure(
        embodied_share_kg(emb_kg, d, lifetime.value, usage.value),
        embodied_share_kg(emb_lo, d_lo, lifetime.high or lifetime.value, usage.value),
        embodied_share_kg(emb_hi, d_hi, lifetime.low or lifetime.value, usage.value),
        "kg", weakest(basis, "estimated"),
        f"{emb_kg:,.1f} kgCO2e of hardware ({'; '.join(i.name for i in embodied)}) x run time / "
        f"({lifetime.value:g}-year life x {usage.value:.0%} use). Hardware: "
        + "; ".join(dict.fromkeys(i.source for i in embodied)) + f". Life: {lifetime.source}; {usage.source}")
    total = Figure(operational.value + embodied_fig.value, operational.low + embodied_fig.low,
                   operational.high + embodied_fig.high, "kg", weakest(operational.basis, embodied_fig.basis),
                   "operational (location-based) + embodied")

    onsite_per_j = place.wue_l_per_kwh / J_PER_KWH
    offsite_per_j = place.pue * place.generation_water_l_per_kwh / J_PER_KWH
    offsite_range = (pue_lo * place.generation_water_l_per_kwh / J_PER_KWH,
                     pue_hi * place.generation_water_l_per_kwh / J_PER_KWH)
    as_factor = Figure(e, e_lo, e_hi, "J", factor_basis, energy.source)
    water_onsite = as_factor.scaled(onsite_per_j, "L", f"IT energy x WUE {place.wue_l_per_kwh:g} L/kWh ({place.wue_source})")
    water_offsite = Figure(e * offsite_per_j, e_lo * offsite_range[0], e_hi * offsite_range[1], "L", factor_basis,
                           f"facility energy x {place.generation_water_l_per_kwh:g} L/kWh consumed in generation "
                           f"({place.generation_water_source})")
    water = Figure(water_onsite.value + water_offsite.value, water_onsite.low + water_offsite.low,
                   water_onsite.high + water_offsite.high, "L", factor_basis, "on-site cooling + off-site generation")

    cost = None
    if place.price_per_kwh is not None:
        cost = facility.scaled(place.price_per_kwh / J_PER_KWH, place.currency or "",
                               f"facility energy x {place.price_per_kwh:g} {place.currency}/kWh ({place.price_source})")
    instance_cost = None
    if instance_price_per_hour is not None:
        instance_cost = Figure(d / 3600 * instance_price_per_hour, d_lo / 3600 * instance_price_per_hour,
                               d_hi / 3600 * instance_price_per_hour, place.currency or "", factor_basis,
                               f"run time x {instance_price_per_hour:g} {place.currency}/hour (given)")

    equivalents = {
        "car_km": total.scaled(1 / CAR_CO2E_KG_PER_KM.value, "km", CAR_CO2E_KG_PER_KM.source),
        "car_years": total.scaled(1 / CAR_YEAR_CO2E_KG.value, "car-years", CAR_YEAR_CO2E_KG.source),
        "smartphone_charges": total.scaled(1 / SMARTPHONE_CHARGE_CO2E_KG.value, "charges",
                                           SMARTPHONE_CHARGE_CO2E_KG.source),
    }
    return Impact(basis=basis, basis_detail=basis_detail or basis, energy_j=energy, facility_energy_j=facility,
                  co2e_operational_kg=operational, co2e_market_kg=market, co2e_embodied_kg=embodied_fig,
                  co2e_total_kg=total, water_l=water, water_onsite_l=water_onsite, water_offsite_l=water_offsite,
                  electricity_cost=cost, instance_cost=instance_cost, equivalents=equivalents,
                  embodied_items=list(embodied))
