"""Exact counter arithmetic: what Prometheus cannot do without extrapolating.

Why not PromQL's increase(): it stretches each range's rate to the range's edges (up to 1.1 scrape
intervals, or half an interval), so the energy of a window is the energy between its first and last
samples *extrapolated*, not what the counter counted. For a counter sampled on both sides of the
window the counted energy is known exactly; we take it:

* Inside the window, tiles of an hour: each series' energy in a tile is its value at the tile's end
  (its last sample in it) less its value at the end of the tile before (`by_ends`). The differences
  telescope: nothing between two tiles is lost or counted twice, whatever the scrape times.
* A device's counter carried by several series in turn (DCGM: a GPU's series carry the labels of the
  pod that holds it, and none while it is idle): each increment between two consecutive samples of the
  device goes to the series of the later sample (`attribute`), so the interval in which a GPU changes
  hands goes to its new holder and a series that comes back after others held the device does not
  count their energy. The end values settle this when the series follow one another (`by_ends`); when
  they interleave, share the device, or a counter resets, the tile is redone from its raw samples.
* At the window's start and end (`edge_correction`): the counter is interpolated linearly between the
  sample before and the sample after the edge, so the window holds exactly the part of that scrape
  interval inside it (exact when power is steady within one scrape interval; no extrapolation).
* Counter resets (a driver reload, an exporter restart): after a reset the counter is taken to have
  started from zero, as PromQL does (`increment`). Each reset is reported.
* A scrape gap: the counter kept counting while nobody scraped it, so the energy across the gap is the
  counter's difference (if it did not reset in between) and it is counted; every gap is reported
  with its length and that energy, never bridged silently (`find_gaps`).
* A series that first appears: a device's counter (a lifetime total) counts from the device's value
  just before; a workload's own counter (Kepler, vLLM, mlfootprint) from zero.

`method = "increase"` sources (RAPL, whose counters wrap every few tens of minutes) use PromQL's
increase() per tile instead: with a wrap in most tiles the exact path would fetch every raw sample.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Sample = tuple[float, float]  # (unix seconds, counter value in the counter's unit)


def increment(previous: float, following: float) -> float:
    """What the counter counted between two consecutive samples: their difference, or, after a reset
    (the value fell), the new value (it restarted from zero)."""
    return following - previous if following >= previous else following


def tile_energy(samples: Sequence[Sample], a: float, b: float, lookback_s: float, *, starts_at_zero: bool,
                previous: Sample | None = None) -> float:
    """A series' counted energy over the tile a < t <= b, resets included.

    `samples` are sorted and cover [a - lookback_s, b]. The tile starts from the last sample at or
    before `a` within the look-back (or `previous`, when given: the last sample before a gap); without
    one, the series first appears in the tile and counts from its first sample (or from zero).
    """
    return attribute({(): list(samples)}, a, b, lookback_s, starts_at_zero=starts_at_zero,
                     previous=previous).get((), 0.0)


Key = tuple[tuple[str, str], ...]


def attribute(series: dict[Key, list[Sample]], a: float, b: float, lookback_s: float, *, starts_at_zero: bool,
              previous: Sample | None = None) -> dict[Key, float]:
    """One device's counted energy over a < t <= b, split between the series that carried its counter.

    A device's counter (a GPU's, in DCGM) is reported under the labels of whoever holds the device:
    when a pod takes a GPU, its series starts and the idle one stops, and the idle series comes back
    when the pod ends. Each increment between two consecutive samples of the device goes to the series
    of the later sample (the labels in force when the energy was counted); two series sampled at the
    same instant (a GPU shared by pods) share it equally. With one series this is `tile_energy`: the
    difference of its end values (`by_ends`), resets counted from zero. The start is the device's last sample at or before `a` within the
    look-back (or `previous`); without one the device first appears here and counts from its first
    sample (or from zero).
    """
    points: dict[float, list[tuple[float, Key]]] = {}
    for key, samples in series.items():
        for t, v in samples:
            points.setdefault(t, []).append((v, key))
    times = sorted(points)
    if previous is None:
        before = [t for t in times if a - lookback_s <= t <= a]
        previous = (before[-1], max(v for v, _ in points[before[-1]])) if before else None
    out: dict[Key, float] = {}
    last = previous[1] if previous is not None else None
    start = max(a, previous[0]) if previous is not None else a - 1e-9  # born: from the first sample at or after a
    for t in times:
        if not start < t <= b:
            continue
        value = max(v for v, _ in points[t])
        keys = list(dict.fromkeys(k for _, k in points[t]))
        if last is None:
            counted = value if starts_at_zero else 0.0
        else:
            counted = increment(last, value)
        for key in keys:
            out[key] = out.get(key, 0.0) + counted / len(keys)
        last = value
    return out


@dataclass(frozen=True)
class Ends:
    """What the tiles' end values say about one series over a < t <= b: its last value in the tile before
    (`start`, a - back < t <= a) and its last in this tile (`end`; None: no sample in the tile)."""

    start: float | None
    end: float | None


def ends_of(samples: Sequence[Sample], a: float, b: float, back_s: float) -> Ends:
    """The same from raw samples."""
    def last(lo: float, hi: float) -> float | None:
        inside = [v for t, v in samples if lo < t <= hi]
        return inside[-1] if inside else None

    return Ends(last(a - back_s, a), last(a, b))


def by_ends(series: dict[Key, Ends], device_start: float | None, *, starts_at_zero: bool,
            device: bool) -> dict[Key, float] | None:
    """A unit's energy over one tile from its series' end values alone, or None where they do not settle it.

    One series: its end less its start (a series that first appears counts from zero if its counter does,
    else it is unsettled). A device's counter carried by several series in turn (a pod takes an idle GPU,
    hands it back): ordered by their end values, each series' energy runs from the one before's end (the
    first's from the device's value when the tile began), which is `attribute` exactly as long as they
    did not interleave. Unsettled, left to the raw samples: a series that was there before the tile but
    is not the first, or not the device's latest; equal or falling end values (a shared GPU, a reset); a
    device with no value when the tile began. `device_start` is the largest start of the unit's series.
    """
    present = sorted(((k, e) for k, e in series.items() if e.end is not None),
                     key=lambda item: item[1].end or 0.0)
    if not present:
        return {}
    if not device:
        if len(present) > 1:
            return None
        key, only = present[0]
        assert only.end is not None
        if only.start is not None:
            return {key: only.end - only.start} if only.end >= only.start else None
        return {key: only.end} if starts_at_zero else None
    ends = [e.end or 0.0 for _, e in present]
    if any(later <= earlier for earlier, later in zip(ends, ends[1:])):
        return None
    continuing = [k for k, e in present if e.start is not None]
    first_key, first = present[0]
    if continuing and continuing != [first_key]:
        return None
    if first.start is not None:
        if device_start is None or first.start != device_start:
            return None
        base = first.start
    elif device_start is not None and device_start <= ends[0]:
        base = device_start
    else:
        return None
    out: dict[Key, float] = {}
    for key, e in present:
        out[key] = (e.end or 0.0) - base
        base = e.end or 0.0
    return out if all(v >= 0 for v in out.values()) else None


def resets_in(samples: Sequence[Sample], a: float, b: float) -> list[tuple[Sample, Sample]]:
    """The (before, after) pairs where the counter fell, the later sample in a < t <= b."""
    return [(p, n) for p, n in zip(samples, samples[1:]) if n[1] < p[1] and a < n[0] <= b]


def edge_correction(series: dict[Key, list[Sample]], t: float, lookback_s: float, *, at_end: bool,
                    reach_s: float) -> tuple[Key, float] | None:
    """What to add to the tiles' sum so the window starts (or ends) exactly at `t`, and to which series.

    The tiles count whole scrape intervals: the one that holds the window's start is counted in full,
    the one that holds its end not at all. The device's counter is interpolated between its sample
    before `t` (within the look-back) and its first after it (within `reach_s`): that part of the
    interval is taken off at the start and added at the end, for the series of the later sample (the
    one `attribute` gives the increment to). No sample on one side: nothing to interpolate.
    """
    points = sorted((s[0], s[1], key) for key, samples in series.items() for s in samples)
    before = [p for p in points if t - lookback_s <= p[0] <= t]
    after = [p for p in points if t < p[0] <= t + reach_s]
    if not before or not after or before[-1][0] == t:
        return None
    p, n = before[-1], after[0]
    share = (t - p[0]) / (n[0] - p[0])
    part = increment(p[1], n[1]) * share
    return n[2], (part if at_end else -part)


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


__all__ = ["Ends", "GAP_FACTOR", "Key", "Sample", "attribute", "by_ends", "ends_of", "edge_correction", "find_gaps", "increment",
           "median_interval_s", "resets_in", "tile_energy"]
