"""Time windows of a served model: the energy measured in each, and how much its counters rose.

Each series of a counter (one per replica, status code, ...) is followed on its own, as Prometheus'
`increase()` does: a series that goes down was restarted, and the window counts what the new
process reports since (never a negative number); the other series keep their own increase. A series
first seen mid-run starts counting from its first reading (that reading is its baseline), unless the
counter is `from_zero`: the server was launched inside the run, so everything it counted happened in
the run (requests answered before the first read are not lost). Values that are not a counter's (NaN, infinite,
negative) never reach here (scrape.read_series drops them); a series missing from one reading is
taken up again from its next value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .scrape import Reading, SeriesKey


@dataclass(frozen=True)
class Observed:
    """A closed window's figures (the caller numbers it)."""

    t_s: float  # end of the window, seconds since the run started
    duration_s: float
    energy_j: float  # IT energy measured in the window
    requests: float
    tokens: float | None  # None: no token counter named


@dataclass
class WindowCounter:
    last_t_s: float | None = None
    last_energy_j: float = 0.0
    last: list[dict[SeriesKey, float] | None] = field(default_factory=list)
    restarts: int = 0  # series that went down (a replica restarted)
    from_zero: bool = False  # the server started inside the run: a series' first value is all increase

    def observe(self, t_s: float, energy_j: float, reading: Reading) -> Observed | None:
        """A new reading (run time, run energy so far, the counters' series); returns the window it closes."""
        values = reading.series
        if self.last_t_s is None:
            self.last_t_s, self.last_energy_j = t_s, energy_j
            # from zero, the first window counts every series from 0 (what the server answered before this
            # read is in it); otherwise this reading is the baseline
            self.last = [{} if v is not None else None for v in values] if self.from_zero \
                else [dict(v) if v else v for v in values]
            return None
        deltas = [self._increase(i, now) for i, now in enumerate(values)]
        window = Observed(t_s, t_s - self.last_t_s, max(0.0, energy_j - self.last_energy_j), deltas[0] or 0.0,
                          deltas[1] if len(deltas) > 1 else None)
        self.last_t_s, self.last_energy_j = t_s, energy_j
        return window

    def _increase(self, i: int, now: dict[SeriesKey, float] | None) -> float | None:
        while len(self.last) <= i:
            self.last.append(None)
        before = self.last[i] or {}
        if now is None:
            return None if not before else 0.0
        total = 0.0
        for key, value in now.items():
            previous = before.get(key)
            if previous is None:
                if self.from_zero:
                    total += value
                continue  # first seen: its count so far is a baseline, as increase() takes it
            if value < previous:  # this series restarted: count what it reports since
                self.restarts += 1
                total += value
            else:
                total += value - previous
        merged = dict(before)
        merged.update(now)  # a series missing from this reading keeps its last value
        self.last[i] = merged
        return total


__all__ = ["Observed", "WindowCounter"]
