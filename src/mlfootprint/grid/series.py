"""Hourly (or half-hourly) grid intensity: a user CSV, the GB Carbon Intensity API, Electricity Maps.

Live sources are used only when a command asks for them (`mlfootprint when`), never to locate a
run. Base URLs are configurable (MLFOOTPRINT_GB_API_URL, MLFOOTPRINT_ELECTRICITYMAPS_URL); the
Electricity Maps token is read from ELECTRICITYMAPS_TOKEN and never written anywhere.
"""

from __future__ import annotations

import bisect
import csv
import functools
import http.client
import json
import os
import re
import statistics
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import MlfootprintError
from ..urlmask import mask_url
from ..userfile import MAX_INPUT_BYTES, read_text
from .static import intensity_in_range

GB_API_URL = "https://api.carbonintensity.org.uk"
ELECTRICITYMAPS_URL = "https://api.electricitymaps.com/v3"
TIMEOUT_S = 10.0


class SeriesError(MlfootprintError):
    """A time series could not be read or fetched."""


@dataclass(frozen=True)
class Point:
    start: datetime  # UTC
    end: datetime
    intensity_g_per_kwh: float


@dataclass
class IntensitySeries:
    zone: str
    points: list[Point]
    source: str  # where the figures come from, for the output

    def average(self, start: datetime, duration: timedelta) -> float:
        """Time-weighted mean intensity over [start, start + duration]; the series must cover all of it."""
        end = start + duration
        if not self.points or start < self.points[0].start or end > self.points[-1].end:
            raise SeriesError(f"the {self.source} series covers {self.span()}, not {_fmt(start)} to {_fmt(end)}")
        total, covered = 0.0, 0.0
        for p in self.points:
            a, b = max(p.start, start), min(p.end, end)
            if b > a:
                seconds = (b - a).total_seconds()
                total += p.intensity_g_per_kwh * seconds
                covered += seconds
        if covered < duration.total_seconds() - 1e-6:
            raise SeriesError(f"the {self.source} series has no values for part of {_fmt(start)} to {_fmt(end)} "
                              "(a gap in the data)")
        return total / covered

    def coverage(self, start: datetime, end: datetime) -> float:
        """Share of [start, end] that the series has values for."""
        span = (end - start).total_seconds()
        if span <= 0:
            return 1.0 if self.at(start) is not None else 0.0
        covered = sum(max(0.0, (min(p.end, end) - max(p.start, start)).total_seconds()) for p in self.points)
        return min(1.0, covered / span)

    def at(self, t: datetime) -> float | None:
        """The intensity in force at `t`, or None outside the series (points are sorted)."""
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0 and t < self.points[i].end:
            return self.points[i].intensity_g_per_kwh
        return None

    @functools.cached_property
    def _starts(self) -> list[datetime]:
        return [p.start for p in self.points]

    def best_window(self, duration: timedelta, earliest: datetime, latest_end: datetime) -> tuple[datetime, float]:
        """The start (on a point boundary) with the lowest mean intensity for a job of `duration`
        that starts no earlier than `earliest` and ends by `latest_end`."""
        starts = sorted({max(earliest, self.points[0].start)} | {p.start for p in self.points if p.start >= earliest})
        options = []
        for s in starts:
            if s + duration <= min(latest_end, self.points[-1].end):
                try:
                    options.append((self.average(s, duration), s))
                except SeriesError:  # the window crosses a gap in the data
                    continue
        if not options:
            raise SeriesError(f"no window of {duration} fits between {_fmt(earliest)} and {_fmt(latest_end)} in the "
                              f"{self.source} series ({self.span()})")
        intensity, start = min(options)
        return start, intensity

    def span(self) -> str:
        return f"{_fmt(self.points[0].start)} to {_fmt(self.points[-1].end)}" if self.points else "nothing"


def _fmt(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# Latest time a series may reach: a year-9999 row would overflow every time computed after it.
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
MAX_GAP_STEPS = 3  # a point without an end reaches the next one only if that is at most this many steps away


def parse_time(text: str) -> datetime:
    """An ISO 8601 time in UTC. A time without a zone is read as UTC (callers say so where it matters)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SeriesError(f"invalid time {text!r}: expected ISO 8601, e.g. 2026-11-23T14:00Z") from None
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    if t >= LATEST:
        raise SeriesError(f"time {text!r} is too far in the future for a grid series")
    return t


def _close(rows: Sequence[tuple[datetime, datetime | None, float]], source: str) -> list[Point]:
    """Points without an end last until the next one, unless the next one is more than
    MAX_GAP_STEPS typical steps away: a hole in the data stays a hole (times in it have no value),
    rather than being charged at the value before it. The last point lasts the typical step.
    Overlapping and reversed rows are refused: they would count an hour twice, or not at all."""
    points = sorted(rows, key=lambda p: p[0])
    for a, b in zip(points, points[1:]):
        if b[0] == a[0]:
            raise SeriesError(f"{source}: two values for {_fmt(a[0])}")
    for start, end, _ in points:
        if end is not None and end <= start:
            raise SeriesError(f"{source}: the row from {_fmt(start)} ends at {_fmt(end)}, not after it")
    steps = [b[0] - a[0] for a, b in zip(points, points[1:])] or [timedelta(hours=1)]
    # the lower median: of an even number of steps the plain median is the mean of the middle two, so
    # rows an hour apart, a 47-hour hole and one last row made a "typical" step of 24 h, and the hole
    # passed for two steps (bridged at the value before it)
    step = timedelta(seconds=statistics.median_low(s.total_seconds() for s in steps))
    out = []
    for i, (start, end, value) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else None
        if end is None:
            end = nxt if nxt is not None and nxt - start <= MAX_GAP_STEPS * step else start + step
        if nxt is not None and end > nxt:
            raise SeriesError(f"{source}: the row from {_fmt(start)} to {_fmt(end)} overlaps the next one, "
                              f"which starts at {_fmt(nxt)}")
        out.append(Point(start, end, value))
    return out


# -- a user's CSV ---------------------------------------------------------------------------------
MAX_CSV_BYTES = MAX_INPUT_BYTES  # ten years of 5-minute rows fit; /dev/zero or a stray dump does not
TIME_COLUMNS = ("datetime", "from", "start", "time")
VALUE_COLUMNS = ("intensity_g_per_kwh", "carbon_intensity", "intensity", "gco2_per_kwh")


def from_csv(path: str | Path, zone: str = "") -> IntensitySeries:
    """Columns: a time (datetime/from/start), optionally `to`, and gCO2e/kWh (intensity_g_per_kwh…)."""
    path = Path(path)
    # a regular file of bounded size (never a FIFO or /dev/zero); -sig: Excel's byte order mark
    text = read_text(path, "intensity CSV", MAX_CSV_BYTES, SeriesError, encoding="utf-8-sig")
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:  # e.g. a NUL byte
        raise SeriesError(f"cannot read intensity CSV {path}: {exc}") from None
    if not rows:
        raise SeriesError(f"intensity CSV {path} has no rows")
    header = [h.strip().lower() for h in rows[0] if h is not None]
    time_col = next((c for c in TIME_COLUMNS if c in header), None)
    value_col = next((c for c in VALUE_COLUMNS if c in header), None)
    if time_col is None or value_col is None:
        raise SeriesError(f"intensity CSV {path}: columns {header}; expected a time column ({', '.join(TIME_COLUMNS)}) "
                          f"and an intensity column ({', '.join(VALUE_COLUMNS)}, gCO2e/kWh)")
    points: list[tuple[datetime, datetime | None, float]] = []
    naive = False
    for line, row in enumerate(rows, start=2):
        if None in row:  # csv puts the cells beyond the header under the key None
            raise SeriesError(f"intensity CSV {path}, line {line}: more cells than the header has columns ({header})")
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            value = float(row[value_col])
        except ValueError:
            raise SeriesError(f"intensity CSV {path}, line {line}: {value_col}={row[value_col]!r} is not a number") from None
        if not intensity_in_range(value):
            raise SeriesError(f"intensity CSV {path}, line {line}: {value} gCO2e/kWh is outside 0-5000")
        try:
            start = parse_time(row[time_col])
            end = parse_time(row["to"]) if row.get("to") else None
        except SeriesError as exc:
            raise SeriesError(f"intensity CSV {path}, line {line}: {exc}") from None
        naive = naive or _naive(row[time_col])
        points.append((start, end, value))
    note = ", times without a zone read as UTC" if naive else ""
    return IntensitySeries(zone, _close(points, str(path)), f"CSV {path.name}{note}")


def _naive(text: str) -> bool:
    t = text.strip()
    return not (t.endswith("Z") or t.endswith("z") or re.search(r"[+-]\d\d:?\d\d$", t))


# -- live providers ---------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused: urllib would send our headers (the API token) to wherever they point."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise SeriesError(f"the API answered with a redirect (HTTP {code}) to {urllib.parse.urlsplit(newurl).netloc}; "
                          "redirects are not followed, so the token stays with the host it was meant for: set the "
                          "base URL to the final address")


_OPENER = urllib.request.build_opener(_NoRedirect)
MAX_DETAIL = 200  # characters of a server's error message shown
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a 48-hour forecast is kilobytes


def _get_json(url: str, headers: dict[str, str], provider: str) -> Any:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = mask_url(parts.scheme + "://" + parts.netloc if parts.netloc else url[:80])
        raise SeriesError(f"invalid {provider} URL {shown!r}: expected http(s)://host/...")
    if parts.scheme == "http" and headers and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        import logging

        logging.getLogger("mlfootprint").warning(
            "mlfootprint: %s is reached over plain http: its token travels unencrypted", provider)
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    endpoint = mask_url(url.split("?")[0])  # named in errors; never the query (it may hold a zone or key)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise SeriesError(f"{provider} sent more than {MAX_RESPONSE_BYTES // 2**20} MB ({endpoint}): not a forecast")
        return json.loads(body)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            body = json.loads(exc.read(MAX_RESPONSE_BYTES))
            error = body.get("error")
            detail = body.get("message") or (error.get("message") if isinstance(error, dict) else error) or ""
        except (ValueError, AttributeError):
            pass
        detail = str(detail)
        for secret in headers.values():  # a server that echoes the token must not put it on the terminal
            if secret and len(secret) >= 4:
                detail = detail.replace(secret, "***")
        detail = detail[:MAX_DETAIL]
        raise SeriesError(f"{provider} answered HTTP {exc.code}{': ' + detail if detail else ''} ({endpoint})") from None
    except TimeoutError:
        raise SeriesError(f"{provider} did not answer within {TIMEOUT_S:g} s ({endpoint})") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise SeriesError(f"{provider} did not answer within {TIMEOUT_S:g} s ({endpoint})") from None
        raise SeriesError(f"cannot reach {provider} at {endpoint}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # the connection broke while the answer was read
        raise SeriesError(f"{provider} broke off its answer ({endpoint}): {type(exc).__name__}") from None
    except ValueError:
        raise SeriesError(f"{provider} sent a response that is not JSON ({endpoint})") from None


def gb_forecast(start: datetime, base_url: str | None = None) -> IntensitySeries:
    """National Great Britain forecast, half-hourly, 48 h from `start` (NESO Carbon Intensity API)."""
    base = (base_url or os.environ.get("MLFOOTPRINT_GB_API_URL") or GB_API_URL).rstrip("/")
    body = _get_json(f"{base}/intensity/{start.strftime('%Y-%m-%dT%H:%MZ')}/fw48h", {}, "GB Carbon Intensity API")
    points = []
    try:
        for item in body["data"]:
            value = item["intensity"].get("forecast")
            if value is None:
                value = item["intensity"].get("actual")
            if value is not None:
                points.append((parse_time(item["from"]), parse_time(item["to"]), float(value)))
    except (KeyError, TypeError, AttributeError):
        raise SeriesError("GB Carbon Intensity API: unexpected response shape (expected data[].intensity.forecast)") from None
    if not points:
        raise SeriesError("GB Carbon Intensity API returned no forecast values")
    return IntensitySeries("GB", _close(points, "GB API"), "GB Carbon Intensity API (NESO, CC BY 4.0) forecast")


def electricitymaps_forecast(zone: str, base_url: str | None = None, token: str | None = None) -> IntensitySeries:
    """Electricity Maps v3 carbon-intensity forecast for a zone (needs a token with forecast access)."""
    token = token or os.environ.get("ELECTRICITYMAPS_TOKEN")
    if not token:
        raise SeriesError("Electricity Maps needs a token: set ELECTRICITYMAPS_TOKEN, or give a CSV with --csv")
    base = (base_url or os.environ.get("MLFOOTPRINT_ELECTRICITYMAPS_URL") or ELECTRICITYMAPS_URL).rstrip("/")
    query = urllib.parse.urlencode({"zone": zone})
    body = _get_json(f"{base}/carbon-intensity/forecast?{query}", {"auth-token": token}, "Electricity Maps")
    try:
        points = [(parse_time(p["datetime"]), None, float(p["carbonIntensity"]))
                  for p in body["forecast"] if p.get("carbonIntensity") is not None]
    except (KeyError, TypeError, ValueError):
        raise SeriesError("Electricity Maps: unexpected response shape (expected forecast[].carbonIntensity)") from None
    if not points:
        raise SeriesError(f"Electricity Maps returned no forecast for zone {zone!r}")
    return IntensitySeries(zone, _close(points, "Electricity Maps"), f"Electricity Maps forecast for {zone}")
