"""Where an estimated run happens: the impact factors from a location, settings and stated overrides.

An estimate runs where the user says (country, cloud region, PUE, grid intensity) or, with nothing said,
where the configuration and the cited defaults put it. A catalogue model "as published" runs where its
publication says it ran (`published_place`), unless the user located it themselves.
"""

from __future__ import annotations

from dataclasses import replace

from ..impact import Place


def place(country: str | None = None, region: str | None = None, pue: float | None = None,
          intensity_g_per_kwh: float | None = None, wue: float | None = None, price_per_kwh: float | None = None,
          currency: str | None = None) -> Place:
    """The factors of a run at this location (settings files and the environment fill what is not given)."""
    from ..config import load_settings
    from ..factors import place_for
    from ..grid import check_intensity, resolve_location

    settings, origins = load_settings({"country": country, "region": region, "pue": pue, "wue": wue,
                                       "price_per_kwh": price_per_kwh, "currency": currency})
    location, _ = resolve_location(settings.site.country, settings.site.region)
    where = place_for(settings, origins, location)
    if intensity_g_per_kwh is not None:
        where = replace(where, intensity_g_per_kwh=check_intensity(intensity_g_per_kwh, "--intensity"),
                        intensity_source="given", intensity_range_g_per_kwh=None)
    return where


def published_place(where: Place, name: str, source: str, pue: float | None,
                    intensity_g_per_kwh: float | None) -> Place:
    """`where` with the PUE and grid intensity a publication states for the run, where it states them."""
    if pue is not None:
        where = replace(where, pue=pue, pue_source=f"published with {name} ({source})", pue_range=None)
    if intensity_g_per_kwh is not None:
        where = replace(where, intensity_g_per_kwh=intensity_g_per_kwh, intensity_range_g_per_kwh=None,
                        intensity_source=f"published with {name} ({source})")
    return where
