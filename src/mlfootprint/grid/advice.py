"""Carbon-aware advice: when to start a job (from a forecast series) and where to run it (from
the annual tables). Both compare against running now / here and say by how much."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import MlfootprintError
from ..constants import J_PER_KWH
from ..impact import operational_co2e_kg
from .series import IntensitySeries, SeriesError
from .static import Location, resolve_place

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_DURATION_S = 365 * 86400.0


def parse_duration(text: str) -> timedelta:
    """'6h', '90m', '1h30m', '2d', '3600s' (a bare number is hours)."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text) * 3600
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise MlfootprintError(f"invalid duration {text!r}: expected e.g. 6h, 90m, 1h30m, 2d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not 0 < seconds <= MAX_DURATION_S:
        raise MlfootprintError(f"invalid duration {text!r}: must be positive and at most 365 days")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class WhenAdvice:
    start: datetime
    intensity_g_per_kwh: float
    now_start: datetime
    now_intensity_g_per_kwh: float
    source: str

    @property
    def saving(self) -> float:
        """Fraction of the job's CO2e saved by waiting, against starting now."""
        return 1 - self.intensity_g_per_kwh / self.now_intensity_g_per_kwh if self.now_intensity_g_per_kwh else 0.0


MAX_LEAD = timedelta(hours=1)  # forecasts may begin at the next full hour


def when(series: IntensitySeries, duration: timedelta, now: datetime, within: timedelta) -> WhenAdvice:
    """The best start within `within` from `now` for a job of `duration`, against starting now.

    A series that begins up to an hour after `now` is taken to start now; later than that, there
    is nothing to compare "now" with and the advice is refused.
    """
    if not series.points:
        raise SeriesError(f"the {series.source} series is empty")
    first = series.points[0].start
    if first - now > MAX_LEAD:
        raise SeriesError(f"the {series.source} series starts at {first:%Y-%m-%d %H:%M} UTC, more than an hour after "
                          f"now ({now:%Y-%m-%d %H:%M} UTC): give --now or a series that covers the present")
    now = max(now, first)
    start, intensity = series.best_window(duration, now, now + within + duration)
    return WhenAdvice(start, intensity, now, series.average(now, duration), series.source)


@dataclass(frozen=True)
class Option:
    location: Location
    co2e_kg: float


def where(energy_kwh: float, candidates: list[str], pue: float) -> list[Option]:
    """Candidates ranked by the CO2e of `energy_kwh` of IT energy there (annual location-based figures)."""
    if not 0 < energy_kwh < 1e12:  # also refuses NaN and infinities
        raise MlfootprintError(f"invalid energy {energy_kwh!r} kWh: must be a positive number below 1e12")
    if not 1.0 <= pue <= 3.0:
        raise MlfootprintError(f"invalid pue={pue!r}: must be between 1.0 and 3.0")
    if not candidates:
        raise MlfootprintError("no candidates: give countries or cloud regions, e.g. FR,DE,gcp:europe-north1")
    options = []
    for code in candidates:
        location = resolve_place(code)
        options.append(Option(location, operational_co2e_kg(energy_kwh * J_PER_KWH, pue, location.intensity_g_per_kwh)))
    return options
