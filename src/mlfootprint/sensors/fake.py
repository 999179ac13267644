"""A scripted sensor: a piecewise-linear power trace read against a clock the test controls.

For tests (where the exact energy is known in closed form) and for simulating hardware we do not
have. As a counter it reports the exact integral of the trace; as a power channel it reports the
trace's value at the read time, and the meter has to integrate it. Its channels say `simulated`:
a run built on it never claims a measured joule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

from ..constants import UNCERTAINTY_MEASURED
from .base import Channel, Kind, Reading, Signal


class ScriptedSensor:
    def __init__(self, trace: Sequence[tuple[float, float]], clock: Callable[[], float], *,
                 key: str = "gpu:0", kind: Kind = "gpu", name: str = "scripted", signal: Signal = "power-instant",
                 fail_after_s: float | None = None) -> None:
        if len(trace) < 2 or any(b[0] <= a[0] for a, b in zip(trace, trace[1:])):
            raise ValueError("trace needs at least two (time_s, power_w) points with increasing times")
        self.trace = list(trace)
        self.clock = clock
        self.key, self.kind, self.name, self.signal = key, kind, name, signal
        self.fail_after_s = fail_after_s
        self._t0 = clock()

    def power_at(self, t_s: float) -> float:
        times = [p[0] for p in self.trace]
        if t_s <= times[0]:
            return self.trace[0][1]
        if t_s >= times[-1]:
            return self.trace[-1][1]
        i = bisect_right(times, t_s) - 1
        (t0, p0), (t1, p1) = self.trace[i], self.trace[i + 1]
        return p0 + (p1 - p0) * (t_s - t0) / (t1 - t0)

    def energy_between(self, a_s: float, b_s: float) -> float:
        """Exact integral of the trace from a to b (trapezoids are exact on a linear piece)."""
        cuts = sorted({a_s, b_s, *[t for t, _ in self.trace if a_s < t < b_s]})
        return sum((self.power_at(x) + self.power_at(y)) / 2 * (y - x) for x, y in zip(cuts, cuts[1:]))

    def channels(self) -> list[Channel]:
        return [Channel(self.key, self.kind, self.name, "simulated", f"scripted-{self.signal}",
                        UNCERTAINTY_MEASURED, self.signal)]

    def read(self) -> list[Reading]:
        t = self.clock() - self._t0
        if self.fail_after_s is not None and t > self.fail_after_s:
            return [Reading(self.key, error="scripted failure")]
        if self.signal == "energy-counter":
            return [Reading(self.key, energy_j=self.energy_between(0.0, t))]
        return [Reading(self.key, power_w=self.power_at(t))]

    def close(self) -> None:
        pass
