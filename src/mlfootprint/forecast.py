"""Where a run will end up: total duration and energy projected from its progress so far.

Observations are (step, time, energy) triples taken on the sampler thread: the latest step the
host reported with `run.progress()`, paired with the meter's energy at that sample. The projection
is the remaining steps × the rate per step since the warm-up ended, where the warm-up is the first
quarter of the progress observed so far (at least the first observation). That keeps a slow first
epoch (compilation, caches, lazy imports) out of the rate, and averages periodic evaluations
in over whole periods once a few have happened.

The band comes from the same projection at the lowest and highest of: the rates of up to four
equal slices of the post-warm-up window, and the rate those slices' linear trend reaches over the
remaining steps (extrapolated at most as far as the window it was fitted on), widened at both ends by 2 % of the remaining part (about the run-to-run noise we
measure on one machine). Drift (power or step time creeping up) widens it in the direction it
moves; a steady run keeps it narrow. Forecasts are never added to measured totals; they
are shown beside them, labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ranges import Range

NOISE_MARGIN = 0.02
Projection = Range  # a projected total with its band (low <= value <= high)


@dataclass(frozen=True)
class Forecast:
    progress: float  # fraction of the steps done, 0-1
    step: float
    total_steps: float
    elapsed_s: float
    energy_j: float  # measured so far
    duration_s: Projection  # projected total
    total_energy_j: Projection  # projected total
    method: str = "rate per step since warm-up, band from sub-window rates"


class Forecaster:
    def __init__(self, total_steps: float) -> None:
        if not total_steps > 0:
            raise ValueError(f"total steps must be positive, got {total_steps!r}")
        self.total_steps = float(total_steps)
        self.points: list[tuple[float, float, float]] = []  # (step, t_s, energy_j)

    def observe(self, step: float, t_s: float, energy_j: float) -> None:
        if self.points and step < self.points[-1][0]:
            return  # progress never goes backwards; ignore a stale report
        if self.points and step == self.points[-1][0]:
            return  # no new work since the last observation: nothing to learn
        self.points.append((float(step), t_s, energy_j))

    def forecast(self) -> Forecast | None:
        """None until there are two observations after the warm-up point."""
        if len(self.points) < 3:
            return None
        step, t_now, e_now = self.points[-1]
        cut = max(1, _index_at_or_after(self.points, step / 4))
        window = self.points[cut - 1:]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return None
        remaining = max(0.0, self.total_steps - step)

        def project(axis: int, now: float) -> Projection:
            first, last = window[0], window[-1]
            rate = (last[axis] - first[axis]) / (last[0] - first[0])
            slices = _slice_rates(window, axis)
            rates = [rate, *(r for _, r in slices)]
            # extrapolate the trend no further than the span it was fitted on
            span = window[-1][0] - window[0][0]
            trend = _trend_rate(slices, min(step + remaining / 2, step + span))
            if trend is not None:
                rates.append(trend)
            margin = NOISE_MARGIN * remaining * rate
            return Projection(now + remaining * rate, now + max(0.0, remaining * min(rates) - margin),
                              now + remaining * max(rates) + margin)

        return Forecast(min(1.0, step / self.total_steps), step, self.total_steps, t_now, e_now,
                        project(1, t_now), project(2, e_now))


def _index_at_or_after(points: list[tuple[float, float, float]], step: float) -> int:
    for i, p in enumerate(points):
        if p[0] >= step:
            return i
    return len(points) - 1


def _slice_rates(window: list[tuple[float, float, float]], axis: int,
                 slices: int = 4) -> list[tuple[float, float]]:
    """(middle step, rate) over up to `slices` consecutive stretches of the window."""
    n = len(window) - 1
    k = min(slices, n)
    rates = []
    for j in range(k):
        a, b = window[j * n // k], window[(j + 1) * n // k]
        if b[0] > a[0]:
            rates.append(((a[0] + b[0]) / 2, (b[axis] - a[axis]) / (b[0] - a[0])))
    return rates


def _trend_rate(slices: list[tuple[float, float]], at_step: float) -> float | None:
    """The slice rates' least-squares line evaluated at `at_step` (None with fewer than 3 slices)."""
    if len(slices) < 3:
        return None
    xs, ys = [x for x, _ in slices], [y for _, y in slices]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return max(0.0, my + slope * (at_step - mx))
