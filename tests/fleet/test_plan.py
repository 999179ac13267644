"""Periods, tiles and how they are cut into queries."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.fleet.client import MAX_POINTS_PER_SERIES
from mlfootprint.fleet.plan import Window, chunks, month, parse_time

NOW = datetime(2026, 12, 5, 12, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text, expected", [
    ("now", NOW), ("30d", NOW - 30 * 86400), ("12h", NOW - 12 * 3600), ("90m", NOW - 5400), ("2w", NOW - 14 * 86400),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()),
    ("2026-11-01T06:30:00+02:00", datetime(2026, 11, 1, 4, 30, tzinfo=timezone.utc).timestamp()),
    ("2026-11-01T06:30Z", datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc).timestamp()),
    ("1790000000", 1790000000.0)])
def test_times(text: str, expected: float) -> None:
    assert parse_time(text, NOW) == expected


def test_a_duration_counts_back_from_the_end() -> None:
    assert parse_time("1d", NOW, before=NOW - 86400) == NOW - 2 * 86400


@pytest.mark.parametrize("text", ["yesterday", "30 days ago", "2026-13-01", "-5d"])
def test_bad_times_name_what_is_accepted(text: str) -> None:
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_time(text, NOW)


def test_months_and_windows() -> None:
    start, end = month("2026-02")
    assert (end - start) / 86400 == 28
    assert month("2025-12")[1] == datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    with pytest.raises(ConfigError, match="YYYY-MM"):
        month("2026-13")
    with pytest.raises(ConfigError, match="empty"):
        Window.of(NOW, NOW - 10, NOW)
    with pytest.raises(ConfigError, match="future"):
        Window.of(NOW - 10, NOW + 3600, NOW)


def test_tiles_are_hours_and_the_remainder_one_shorter_tile() -> None:
    tiles = Window(0.0, 3 * 3600 + 600.0).tiles()
    assert [t.length_s for t in tiles] == [3600, 3600, 3600, 600]
    assert tiles[-1].end == 3 * 3600 + 600 and [t.index for t in tiles] == [0, 1, 2, 3]
    assert [t.length_s for t in Window(0.0, 900.0).tiles()] == [900]
    assert Window(1000.0, 2000.0).previous() == Window(0.0, 1000.0)


def test_queries_stay_under_the_servers_limits() -> None:
    tiles = Window(0.0, 2 * 365 * 86400.0).tiles()  # two years: 17,520 hourly tiles
    runs = chunks(tiles, series=10, max_samples=50_000_000, max_span_s=10 * 365 * 86400)
    assert max(len(r) for r in runs) <= MAX_POINTS_PER_SERIES and sum(len(r) for r in runs) == len(tiles)
    runs = chunks(tiles, series=200_000, max_samples=50_000_000, max_span_s=10 * 365 * 86400)
    assert max(len(r) for r in runs) * 200_000 <= 50_000_000 // 4
    runs = chunks(tiles, series=10, max_samples=50_000_000, max_span_s=7 * 86400)
    assert max(len(r) for r in runs) == 168
    assert all(len({t.length_s for t in r}) == 1 for r in chunks(Window(0, 7200.0 + 5).tiles(), series=1,
                                                                 max_samples=10**6, max_span_s=86400))
