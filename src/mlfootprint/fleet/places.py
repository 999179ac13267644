"""Where a fleet's energy was drawn: one place for all, or a site per node or cluster from a mapping file.

Each site is an `impact.Place` made the way a run's is (`factors.place_for`: PUE, grid intensity,
water, price, renewable share, each with its source), so a site's figures mean what a run's mean.
The mapping file is a CSV, one row per label value (a node, a cluster; `*` and `?` patterns allowed):

    value,site,country,region,pue,renewable_share,wue,price_per_kwh,currency,intensity_csv
    gpu-eu-*,eu-west,FR,,1.2,0.8,,,,
    gpu-us-*,us-east,,aws:us-east-1,1.15,,,,,grid/us-east-hourly.csv

Only `value` and one of `country`/`region` are needed. `renewable_share` states the share covered by
contractual instruments (PPAs, certificates): the site's market-based CO2e. `intensity_csv` is an
hourly series (grid/series.py): each tile is charged at its hours' intensity. A label value without
a row is charged at the default place (the --country/--region and settings), and said so.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..impact import Place

COLUMNS = ("value", "site", "country", "region", "pue", "renewable_share", "wue", "price_per_kwh", "currency",
           "intensity_csv")


@dataclass(frozen=True, eq=False)  # one object per site: compared and hashed by identity
class Site:
    name: str
    place: Place
    zone: str  # country/zone or cloud region, as resolved; "world" when none was given
    series: Any = None  # grid.series.IntensitySeries, or None: annual intensity
    series_note: str | None = None


@dataclass
class Sites:
    """Label value -> site, resolved once per value."""

    default: Site
    rows: list[tuple[str, Site]] = field(default_factory=list)
    label: str | None = None
    unmatched: set[str] = field(default_factory=set)
    _cache: dict[str, Site] = field(default_factory=dict)

    def resolve(self, value: str | None) -> Site:
        if not self.rows or value is None:
            return self.default
        found = self._cache.get(value)
        if found is None:
            found = next((site for pattern, site in self.rows if fnmatch.fnmatchcase(value, pattern)), None)
            if found is None:
                self.unmatched.add(value)
                found = self.default
            self._cache[value] = found
        return found

    def all(self) -> list[Site]:
        return list(dict.fromkeys([self.default, *(s for _, s in self.rows)]))


def make_site(name: str, overrides: dict[str, Any], origin: str) -> Site:
    """A site from settings (config file, MLFOOTPRINT_* and the given `overrides`), as a run's place."""
    from ..config import load_settings
    from ..factors import place_for
    from ..grid import resolve_location

    settings, origins = load_settings({k: v for k, v in overrides.items() if k != "intensity_csv"})
    origins = {k: (origin if v == "argument" else v) for k, v in origins.items()}
    location, _ = resolve_location(settings.site.country, settings.site.region)
    place = place_for(settings, origins, location)
    series, note = None, None
    csv_path = overrides.get("intensity_csv") or settings.site.intensity_csv
    if csv_path:
        from ..grid.series import SeriesError, from_csv

        try:
            series = from_csv(csv_path, location.country or "")
        except SeriesError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
        note = series.source
    zone = location.region or location.country or "world"
    return Site(name, place, zone, series, note)


def load_sites(default: Site, path: str | None, label: str | None) -> Sites:
    if not path:
        return Sites(default, label=label)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --places {path}: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in COLUMNS]
    if "value" not in header or unknown:
        raise ConfigError(f"--places {path}: columns {header}; expected value and any of {', '.join(COLUMNS[1:])}")
    rows: list[tuple[str, Site]] = []
    by_name: dict[str, Site] = {}
    for line, row in enumerate(reader, start=2):
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        value = cells.get("value", "")
        if not value:
            raise ConfigError(f"--places {path}, line {line}: the value column is empty")
        name = cells.get("site") or value
        overrides = {k: cells[k] for k in COLUMNS[2:] if cells.get(k)}
        site = by_name.get(name)
        if site is None:
            site = make_site(name, overrides, f"{file.name} line {line}")
            by_name[name] = site
        rows.append((value, site))
    if not rows:
        raise ConfigError(f"--places {path} has no rows")
    return Sites(default, rows, label)


__all__ = ["COLUMNS", "Site", "Sites", "load_sites", "make_site"]
