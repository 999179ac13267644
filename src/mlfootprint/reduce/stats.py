"""The statistics a verdict rests on: an interval on the paired per-round change, checked as rounds come in.

Why paired log-ratios: repeats run in interleaved rounds, so a strategy's trial and the baseline's
trial of one round are seconds apart and a machine whose speed drifts moves both; the ratio keeps the
strategy's effect. Its logarithm makes a saving and a cost symmetric (x0.5 and x2 are equally far
from 1) and turns the multiplicative noise of energy figures into additive noise.

Why a sequential design: the answer is clear after three rounds for a strategy that halves the
energy, and not after ten for one that changes it by 3 % on a noisy machine. The experiment looks
after every round from `min_rounds` to `max_rounds` and stops a strategy as soon as its interval
lies wholly outside the ±min_saving band (a saving or a cost) or wholly inside it (no change worth
having). Looking many times at a 95 % interval would be wrong more often than 5 %; each look
therefore uses a Bonferroni share of the error rate, alpha / (number of looks), so the chance that
any look's interval misses the true ratio stays at most alpha (5 % by default) for each strategy,
whatever the stopping rule does with it. That holds when the per-round log-ratios are independent
and near normal; the t quantile allows for the noise being estimated from few rounds. Bonferroni is
the simplest bound that needs no assumption about how the looks depend on each other; group
sequential boundaries (Pocock, O'Brien-Fleming) would be narrower, but need the number of looks
fixed in advance, and the time budget can end an experiment early.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..ranges import Range

DEFAULT_ERROR_RATE = 0.05  # per strategy: the chance that a verdict's interval misses the truth at any look
MAX_ROUNDS_SUGGESTED = 200  # "what would settle it" stops counting here: beyond, repeats will not do


def _incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (continued fraction, modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - _incomplete_beta(1.0 - x, b, a)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            numerator = 1.0
        elif i % 2 == 0:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + numerator / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-14:
            break
    return front * (f - 1.0)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * _incomplete_beta(df / (df + t * t), df / 2, 0.5)
    return 1.0 - tail if t > 0 else tail


@lru_cache(maxsize=1024)  # the looks of an experiment ask for a handful of (p, df) pairs, many times
def t_quantile(p: float, df: float) -> float:
    """The `p` quantile of Student's t (bisection on the CDF: exact to ~1e-10, no scipy needed)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p!r}, df={df!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def per_look_error_rate(error_rate: float, min_rounds: int, max_rounds: int) -> float:
    """The error rate each look may spend: `error_rate` shared over the looks at rounds min..max."""
    return error_rate / max(1, max_rounds - min_rounds + 1)


def mean_interval(values: Sequence[float], error_rate: float) -> Range | None:
    """The mean with its two-sided (1 - error_rate) t interval; None with fewer than 2 values."""
    n = len(values)
    if n < 2:
        return None
    mean = statistics.fmean(values)
    half = t_quantile(1 - error_rate / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Range(mean, mean - half, mean + half)


def log_ratios(mine: dict[int, float], reference: dict[int, float]) -> list[float]:
    """log(mine / reference) for every round both have a positive figure for, in round order."""
    return [math.log(mine[r] / reference[r]) for r in sorted(mine.keys() & reference.keys())
            if mine[r] > 0 and reference[r] > 0]


def differences(mine: dict[int, float], reference: dict[int, float]) -> list[float]:
    """mine - reference for every round both have a figure for, in round order."""
    return [mine[r] - reference[r] for r in sorted(mine.keys() & reference.keys())]


@dataclass(frozen=True)
class Band:
    """Changes too small to act on: log-ratios in [low, high] (±min_saving as ratios 1-m and 1+m)."""

    low: float
    high: float

    @classmethod
    def around_one(cls, min_saving: float) -> Band:
        return cls(math.log(1 - min_saving), math.log(1 + min_saving))


def side(interval: Range, band: Band) -> str:
    """Where an interval lies: "below" (a saving beyond the band), "above" (a cost beyond it),
    "inside" (no change worth having), or "across" (undecided)."""
    if interval.high < band.low:
        return "below"
    if interval.low > band.high:
        return "above"
    if band.low <= interval.low and interval.high <= band.high:
        return "inside"
    return "across"


def rounds_to_settle(values: Sequence[float], band: Band, error_rate: float, min_rounds: int,
                     planned_rounds: int) -> int | None:
    """Rounds in all after which the interval would settle the question, if the mean and the spread
    stay as observed: the looks' error rate shared over rounds min..max(that many, planned_rounds), as
    an experiment planned for that many rounds would share it. None when more than
    MAX_ROUNDS_SUGGESTED would be needed (the change sits on the band's edge)."""
    if len(values) < 2:
        return None
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    if band.low < mean < band.high:
        gap = min(mean - band.low, band.high - mean)  # the interval must fit inside the band
    else:
        gap = band.low - mean if mean <= band.low else mean - band.high  # and clear its edge
    if gap <= 0:
        return None
    for n in range(max(len(values) + 1, min_rounds), MAX_ROUNDS_SUGGESTED + 1):
        alpha = per_look_error_rate(error_rate, min_rounds, max(n, planned_rounds))
        if t_quantile(1 - alpha / 2, n - 1) * sd / math.sqrt(n) < gap:
            return n
    return None


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both lower cost (x) and higher quality (y), by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    for i in order:
        if not front or points[i][1] > points[front[-1]][1]:
            front.append(i)
    return front


__all__ = ["Band", "DEFAULT_ERROR_RATE", "differences", "log_ratios", "mean_interval", "pareto_front",
           "per_look_error_rate", "rounds_to_settle", "side", "t_cdf", "t_quantile"]
