"""Older samples kept at coarser resolution, so a week-long run does not grow the samples table
without bound.

A run's samples are kept as measured (one per channel per `interval_s`) for the last hour, then as
one per channel per minute, and after a day one per channel per 15 minutes. Energy is summed, never
dropped: a rolled-up sample holds the exact energy of the samples it replaces, with `span_s` the time
they covered and `power_w` their mean power. What is lost is the shape of power within a bucket.
At a 1 s interval a week-long run keeps ~5,600 rows per channel instead of 604,800.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# (age in seconds before the newest sample, bucket width in seconds), finest first
TIERS: tuple[tuple[float, float], ...] = ((3600.0, 60.0), (86400.0, 900.0))
ROLLUP_EVERY_S = 600.0  # a writer rolls its run's samples up at most this often


@dataclass(frozen=True)
class Merge:
    """Replace the samples `ids` by one row."""

    ids: list[int]
    row: dict[str, Any]


def span_of(sample: dict[str, Any], interval_s: float) -> float:
    if sample.get("span_s"):
        return float(sample["span_s"])
    if sample["power_w"] > 0 and sample["energy_j"] > 0:
        return sample["energy_j"] / sample["power_w"]  # the meter stores power = energy / its own dt
    return interval_s


def plan(samples: Iterable[dict[str, Any]], newest_t_s: float, interval_s: float,
         tiers: tuple[tuple[float, float], ...] = TIERS) -> list[Merge]:
    """Which samples (id, key, t_s, energy_j, power_w, span_s) to merge, tier by tier."""
    rows = list(samples)
    merges: list[Merge] = []
    # the coarsest tier a sample's age reaches decides its bucket width
    groups: dict[tuple[str, float, int], list[dict[str, Any]]] = {}
    for s in rows:
        age = newest_t_s - s["t_s"]
        width = next((w for a, w in reversed(tiers) if age >= a), None)
        if width is None:
            continue
        groups.setdefault((s["key"], width, int(s["t_s"] // width)), []).append(s)
    for (key, _width, _bucket), members in groups.items():
        if len(members) < 2:
            continue
        energy = sum(m["energy_j"] for m in members)
        span = sum(span_of(m, interval_s) for m in members)
        merges.append(Merge([m["id"] for m in members],
                            {"t_s": max(m["t_s"] for m in members), "key": key, "energy_j": energy,
                             "power_w": energy / span if span > 0 else 0.0, "span_s": span}))
    return merges
