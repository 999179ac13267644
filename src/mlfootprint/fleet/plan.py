"""The period asked for, cut into tiles and the tiles into queries the server accepts.

Tiles are an hour long (the grid's hourly intensity applies to each; the window's remainder is one
shorter tile at its end). A range query evaluates one tile per step, so a query holds at most
MAX_POINTS_PER_SERIES steps (Prometheus' 11,000 points per series), at most two days (collect.Options:
the answer the client holds at once), and few enough steps that series x steps stays well under the
server's query.max-samples.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import ConfigError
from .client import MAX_POINTS_PER_SERIES

TILE_S = 3600.0
# How far before a tile raw samples are looked at (the resets query's look-back, the device's previous value
# when a tile is redone from raw samples): at least three scrape intervals (collect.py widens it for slow scrapes).
LOOKBACK_S = 600.0
EDGE_REACH_S = 600.0  # raw samples fetched this far on each side of the window's edges
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float, *, before: float | None = None, what: str = "--start") -> float:
    """ISO 8601 (a time without a zone is UTC), `now`, unix seconds, or a duration (30d, 12h, 90m, 2w)
    meaning that long before `before` (default: now)."""
    raw = text.strip()
    if raw.lower() == "now":
        return now
    m = _RELATIVE.match(raw)
    if m:
        return (now if before is None else before) - float(m.group(1)) * _SECONDS[m.group(2).lower()]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", raw):
        return float(raw)
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a time: expected ISO 8601 (2026-11-01 or 2026-11-01T00:00Z), "
                          "`now`, unix seconds, or a duration before now such as 30d, 12h, 90m") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def month(text: str) -> tuple[float, float]:
    """The first and last instant of a calendar month, UTC: `2026-11`."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-11")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=timezone.utc)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=timezone.utc)
    return start.timestamp(), end.timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Tile:
    index: int
    start: float
    end: float

    @property
    def length_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    @classmethod
    def of(cls, start: float, end: float, now: float) -> Window:
        start, end = math.floor(start), math.floor(end)
        if end > now + 1:
            raise ConfigError(f"--end {iso(end)} is in the future (now is {iso(now)})")
        if end <= start:
            raise ConfigError(f"the period from {iso(start)} to {iso(end)} is empty: --start must be before --end "
                              "(by a second at least)")
        return cls(float(start), float(end))

    def previous(self) -> Window:
        """The period of the same length just before this one (for the top movers)."""
        return Window(self.start - self.duration_s, self.start)

    def tiles(self, size_s: float = TILE_S) -> list[Tile]:
        size_s = min(size_s, self.duration_s)
        full = int(self.duration_s // size_s)
        tiles = [Tile(k, self.start + k * size_s, self.start + (k + 1) * size_s) for k in range(full)]
        if self.start + full * size_s < self.end:
            tiles.append(Tile(full, self.start + full * size_s, self.end))
        return tiles


def chunks(tiles: list[Tile], *, series: int, max_samples: int, max_span_s: float) -> list[list[Tile]]:
    """Runs of equal-length consecutive tiles, each run one range query within the server's limits."""
    if not tiles:
        return []
    by_steps = max(1, (max_samples // 4) // max(1, series))  # the inner per-series vectors of every step count
    by_span = max(1, int(max_span_s // max(1.0, tiles[0].length_s)))
    limit = max(1, min(MAX_POINTS_PER_SERIES, by_steps, by_span))
    out: list[list[Tile]] = []
    for tile in tiles:
        if out and len(out[-1]) < limit and out[-1][-1].length_s == tile.length_s:
            out[-1].append(tile)
        else:
            out.append([tile])
    return out


__all__ = ["EDGE_REACH_S", "LOOKBACK_S", "TILE_S", "Tile", "Window", "chunks", "iso", "month", "parse_time"]
