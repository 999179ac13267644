"""Exact counter arithmetic on raw samples: what Prometheus cannot do without extrapolating.

Why not PromQL's increase(): it stretches each range's rate to the range's edges (up to 1.1 scrape
intervals, or half an interval), so the energy of a window is the energy between its first and last
samples *extrapolated*, not what the counter counted. For a counter sampled on both sides of the
window the counted energy is known exactly; we take it:

* Inside the window, tiles of about an hour: each tile's energy is the counter's own difference
  from the last sample at or before the tile's start to the last at or before its end (promql.delta),
  summed in Prometheus. The tiles' differences telescope: nothing between two tiles is lost or
  counted twice, whatever the scrape times.
* At the window's start and end (`edge_correction`): the counter is interpolated linearly between the
  sample before and the sample after the edge, so the window holds exactly the part of that scrape
  interval inside it (exact when power is steady within one scrape interval; no extrapolation).
* Counter resets (a driver reload, an exporter restart): a tile whose range holds one is computed here
  from its raw samples (`tile_energy`): after a reset, the counter is taken to have started from zero,
  as PromQL does. Each reset is reported.
* A scrape gap: the counter kept counting while nobody scraped it, so the energy across the gap is the
  counter's difference (if it did not reset in between) and it is counted; every gap is reported
  with its length and that energy, never bridged silently (`gap_correction`, `find_gaps`).
* A series that first appears inside the window (a pod starts on a GPU) counts from its first sample
  when its counter is a device's lifetime total (DCGM: its earlier energy belongs to whatever the
  device did before), from zero when the counter is the workload's own (Kepler, mlfootprint).

`method = "increase"` sources (RAPL, whose counters wrap every few tens of minutes) use PromQL's
increase() per tile instead: with a wrap in most tiles the exact path would fetch every raw sample.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Sample = tuple[float, float]  # (unix seconds, counter value in the counter's unit)


def increment(previous: float, following: float) -> float:
    """What the counter counted between two consecutive samples: their difference, or, after a reset
    (the value fell), the new value (it restarted from zero)."""
    return following - previous if following >= previous else following


def tile_energy(samples: Sequence[Sample], a: float, b: float, lookback_s: float, *, starts_at_zero: bool,
                previous: Sample | None = None) -> float:
    """A series' counted energy over the tile a < t <= b, as promql.delta defines it, resets included.

    `samples` are sorted and cover [a - lookback_s, b]. The tile starts from the last sample at or
    before `a` within the look-back (or `previous`, when given: the last sample before a gap); without
    one, the series first appears in the tile and counts from its first sample (or from zero).
    """
    if previous is None:
        before = [s for s in samples if a - lookback_s <= s[0] <= a]
        previous = before[-1] if before else None
    if previous is not None:
        chain = [previous, *(s for s in samples if max(a, previous[0]) < s[0] <= b)]
        return sum(increment(p[1], n[1]) for p, n in zip(chain, chain[1:]))
    inside = [s for s in samples if a <= s[0] <= b]
    if not inside:
        return 0.0
    counted = sum(increment(p[1], n[1]) for p, n in zip(inside, inside[1:]))
    return counted + (inside[0][1] if starts_at_zero else 0.0)


def resets_in(samples: Sequence[Sample], a: float, b: float) -> list[tuple[Sample, Sample]]:
    """The (before, after) pairs where the counter fell, the later sample in a < t <= b."""
    return [(p, n) for p, n in zip(samples, samples[1:]) if n[1] < p[1] and a < n[0] <= b]


def edge_correction(samples: Sequence[Sample], t: float, lookback_s: float, *, at_end: bool,
                    reach_s: float) -> float:
    """What to add to the tiles' sum so the window starts (or ends) exactly at `t`.

    The tiles count whole scrape intervals: the one that holds the window's start is counted in full,
    the one that holds its end not at all. The counter is interpolated between the sample before `t`
    (within the look-back) and the first after it (within `reach_s`): that part of the interval is taken
    off at the start and added at the end. No sample on one side: nothing to interpolate, nothing added.
    """
    before = [s for s in samples if t - lookback_s <= s[0] <= t]
    after = [s for s in samples if t < s[0] <= t + reach_s]
    if not before or not after or before[-1][0] == t:
        return 0.0
    p, n = before[-1], after[0]
    share = (t - p[0]) / (n[0] - p[0])
    part = increment(p[1], n[1]) * share
    return part if at_end else -part


def median_interval_s(samples: Sequence[Sample]) -> float | None:
    steps = [n[0] - p[0] for p, n in zip(samples, samples[1:]) if n[0] > p[0]]
    return statistics.median(steps) if steps else None


GAP_FACTOR = 1.75  # a step this many typical intervals long means at least one scrape was missed


def find_gaps(samples: Sequence[Sample], interval_s: float | None = None) -> list[tuple[Sample, Sample]]:
    """(last sample before, first after) of each stretch longer than GAP_FACTOR typical intervals."""
    interval_s = interval_s or median_interval_s(samples)
    if not interval_s:
        return []
    return [(p, n) for p, n in zip(samples, samples[1:]) if n[0] - p[0] > GAP_FACTOR * interval_s]


def gap_correction(last_before: Sample, samples: Sequence[Sample], a: float, b: float, lookback_s: float, *,
                   starts_at_zero: bool) -> float:
    """What to add to the tile a < t <= b in which a series comes back after a gap longer than the
    look-back, so that the gap's energy is the counter's difference across it (as for a short gap)
    rather than the series counting as new."""
    counted = tile_energy(samples, a, b, lookback_s, starts_at_zero=starts_at_zero)
    wanted = tile_energy(samples, a, b, lookback_s, starts_at_zero=starts_at_zero, previous=last_before)
    return wanted - counted


__all__ = ["GAP_FACTOR", "Sample", "edge_correction", "find_gaps", "gap_correction", "increment",
           "median_interval_s", "resets_in", "tile_energy"]
