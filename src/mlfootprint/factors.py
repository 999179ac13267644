"""Place-dependent factors besides carbon: water consumed to generate a kWh, and the price of a kWh.

Both tables are cited (data/water_generation.csv, data/electricity_prices.csv). A zone without a
row falls back to its country, then (for water) to the world figure; every figure carries a source
string that says which of these happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .constants import DEFAULT_PUE, DEFAULT_WUE, WORLD_WATER_INTENSITY
from .data import rows
from .impact import Place

if TYPE_CHECKING:  # typing only
    from .config import Settings
    from .grid import Location


@dataclass(frozen=True)
class PlaceFactor:
    value: float
    source: str


@lru_cache(maxsize=1)
def _water() -> dict[str, float]:
    return {r["alpha3"]: float(r["water_l_per_kwh"]) for r in rows("water_generation.csv")}


@lru_cache(maxsize=1)
def _prices() -> dict[str, tuple[float, str, int]]:
    return {r["zone"]: (float(r["price_per_kwh"]), r["currency"], int(r["year"])) for r in rows("electricity_prices.csv")}


def water_generation(zone: str | None) -> PlaceFactor:
    """Litres of water consumed off-site per kWh of electricity delivered in `zone`."""
    from .grid.static import find_zone

    z = find_zone(zone) if zone else None
    if (z is None or z.alpha3 not in _water()) and zone and "-" in zone:  # a US state: use its country
        z = find_zone(zone.split("-")[0])
    if z is not None and z.alpha3 in _water():
        note = f" (country figure for {zone})" if zone and "-" in zone else ""
        return PlaceFactor(_water()[z.alpha3], f"EcoLogits 0.11.3 electricity_mixes.json, {z.name}{note}, 2025")
    where = f"no figure for {zone}: " if zone else ""
    return PlaceFactor(WORLD_WATER_INTENSITY.value, f"{where}{WORLD_WATER_INTENSITY.source}")


def electricity_price(zone: str | None) -> tuple[PlaceFactor, str] | None:
    """(price per kWh, currency) for `zone`, or None where no cited price is known."""
    if not zone or zone.upper() not in _prices():
        return None
    price, currency, year = _prices()[zone.upper()]
    return PlaceFactor(price, f"US EIA Electric Power Annual 2023, commercial average for {zone.upper()}, {year}"), currency


def place_for(settings: Settings, origins: Mapping[str, str], location: Location) -> Place:
    """The impact factors of a run: its settings where given, cited tables and defaults otherwise."""
    site = settings.site
    pue_source = f"set by {origins['pue']}" if "pue" in origins else f"{DEFAULT_PUE.source}, {DEFAULT_PUE.year}"
    if site.wue is not None:
        wue, wue_source = site.wue, f"set by {origins.get('wue', 'argument')}"
    else:
        wue, wue_source = DEFAULT_WUE.value, f"{DEFAULT_WUE.source}, {DEFAULT_WUE.year}"
    water = water_generation(location.country)
    price = currency = price_source = None
    if site.price_per_kwh is not None:
        price, currency = site.price_per_kwh, site.currency
        price_source = f"set by {origins.get('price_per_kwh', 'argument')}"
    else:
        found = electricity_price(location.country)
        if found is not None:
            price, price_source, currency = found[0].value, found[0].source, found[1]
    return Place(pue=site.pue, pue_source=pue_source, intensity_g_per_kwh=location.intensity_g_per_kwh,
                 intensity_source=location.intensity_source, wue_l_per_kwh=wue, wue_source=wue_source,
                 generation_water_l_per_kwh=water.value, generation_water_source=water.source,
                 price_per_kwh=price, currency=currency or site.currency, price_source=price_source,
                 renewable_share=site.renewable_share,
                 pue_range=None if "pue" in origins else (DEFAULT_PUE.low or site.pue, DEFAULT_PUE.high or site.pue),
                 intensity_range_g_per_kwh=location.intensity_range_g_per_kwh)
