"""Time windows of a served model: the energy measured in each, and how much its counters rose.

A counter that goes down (the server restarted) starts over: the window counts what the new
process reports, never a negative number of requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class WindowCounter:
    last_t_s: float | None = None
    last_energy_j: float = 0.0
    last: list[float | None] = field(default_factory=list)
    restarts: int = 0

    def observe(self, t_s: float, energy_j: float, values: list[float | None]) -> dict[str, Any] | None:
        """A new reading (run time, run energy so far, counter values); returns the window it closes."""
        if self.last_t_s is None or not self.last:
            self.last_t_s, self.last_energy_j, self.last = t_s, energy_j, list(values)
            return None
        deltas: list[float | None] = []
        for before, now in zip(self.last, values):
            if now is None:
                deltas.append(None)
            elif before is None or now < before:  # first seen, or reset by a restart: count from zero
                if before is not None:
                    self.restarts += 1
                deltas.append(now if before is not None else 0.0)
            else:
                deltas.append(now - before)
        window = {"t_s": t_s, "duration_s": t_s - self.last_t_s, "energy_j": max(0.0, energy_j - self.last_energy_j),
                  "requests": deltas[0] or 0.0, "tokens": deltas[1] if len(deltas) > 1 else None}
        self.last_t_s, self.last_energy_j, self.last = t_s, energy_j, list(values)
        return window
