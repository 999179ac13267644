"""Effective utilization, fitted to published training runs: the estimator's default.

A paper's MFU is its best steady-state throughput. A published footprint counts every hour the
accelerators were held — warm-up, evaluation, checkpoints, restarts, failed nodes, and small models
that cannot fill a large GPU. So the default here is the *effective* utilization of published runs:

    u = 6 x active parameters x tokens / (accelerator-hours x 3600 x dense peak FLOP/s)

fitted as log(u) = a[family] + b x log10(active parameters) — one intercept per hardware family, one
slope shared by all (bigger models fill the hardware better) — by least squares over the runs in
data/published_training.csv that state parameters, tokens and hours. A family with no published
run uses the pooled fit (one intercept for all), and says so.

The range is the spread of out-of-sample errors: each run is predicted from a fit that left it out
(leave-one-out), and the 5th-95th percentiles of log(actual / predicted) over those runs bound the
prediction: a nominal 90 % range, so that on published runs it holds the truth at least 80 % of the time
(a nominal 80 % range falls short of that about half the time by chance; benchmarks/estimate_validation.py
prints the coverage of both). `validate()` reports the out-of-sample error, and the coverage of that range where each
run's range is itself computed without that run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import lru_cache

from ..data import number, rows
from ..stats import quantile

DATA = "published_training.csv"
RANGE_QUANTILES = (0.05, 0.95)


@dataclass(frozen=True)
class PublishedRun:
    model: str
    family: str
    hardware: str
    active_params: float
    tokens: float
    hours: float
    utilization: float  # effective, as defined above
    source: str


@lru_cache(maxsize=1)
def published_runs() -> tuple[PublishedRun, ...]:
    """The runs that state parameters, tokens and accelerator-hours, with their effective utilization."""
    from ..hardware import get

    out = []
    for r in rows(DATA):
        params, tokens, hours = number(r["params"]), number(r["tokens"]), number(r["accelerator_hours"])
        if not (params and tokens and hours):
            continue
        acc = get(r["hardware"])
        peak = acc.peak_flops("bf16")
        if not peak:
            continue
        active = number(r["active_params"]) or params
        out.append(PublishedRun(r["model"], acc.family, acc.key, active, tokens, hours,
                                6 * active * tokens / (hours * 3600 * peak), r["source"]))
    return tuple(out)


@dataclass(frozen=True)
class Fit:
    intercepts: dict[str, float]  # log u at 1e9 active parameters, by family
    pooled: float  # one intercept for all families
    slope: float  # d log u / d log10(active params)
    pooled_slope: float

    def log_u(self, family: str, active_params: float) -> tuple[float, bool]:
        """(predicted log u, whether the family had published runs)."""
        x = math.log10(active_params) - 9
        if family in self.intercepts:
            return self.intercepts[family] + self.slope * x, True
        return self.pooled + self.pooled_slope * x, False


def fit(runs: tuple[PublishedRun, ...] | list[PublishedRun]) -> Fit:
    """Least squares with a shared slope and one intercept per family (and a pooled line)."""
    xs = [math.log10(r.active_params) - 9 for r in runs]
    ys = [math.log(r.utilization) for r in runs]
    fams = sorted({r.family for r in runs})
    # shared slope: regress within-family deviations (the fixed-effects estimator)
    mean_x = {f: statistics.fmean(x for x, r in zip(xs, runs) if r.family == f) for f in fams}
    mean_y = {f: statistics.fmean(y for y, r in zip(ys, runs) if r.family == f) for f in fams}
    sxx = sum((x - mean_x[r.family]) ** 2 for x, r in zip(xs, runs))
    sxy = sum((x - mean_x[r.family]) * (y - mean_y[r.family]) for x, y, r in zip(xs, ys, runs))
    slope = sxy / sxx if sxx > 1e-12 else 0.0
    intercepts = {f: mean_y[f] - slope * mean_x[f] for f in fams}
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    pxx = sum((x - mx) ** 2 for x in xs)
    pooled_slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / pxx if pxx > 1e-12 else 0.0
    return Fit(intercepts, my - pooled_slope * mx, slope, pooled_slope)


def loo_residuals(runs: list[PublishedRun]) -> list[float]:
    """log(actual / predicted) of each run, predicted by a fit without it."""
    out = []
    for i, r in enumerate(runs):
        predicted, _ = fit(runs[:i] + runs[i + 1:]).log_u(r.family, r.active_params)
        out.append(math.log(r.utilization) - predicted)
    return out


@dataclass(frozen=True)
class Utilization:
    value: float
    low: float
    high: float
    source: str


@lru_cache(maxsize=1)
def _shipped() -> tuple[Fit, float, float]:
    """The fit on every published run, and its range (log-space quantiles of leave-one-out errors)."""
    runs = list(published_runs())
    residuals = loo_residuals(runs)
    return fit(runs), quantile(residuals, RANGE_QUANTILES[0]), quantile(residuals, RANGE_QUANTILES[1])


def effective_utilization(family: str, active_params: float) -> Utilization:
    """The default utilization for a model of this size on this hardware family, with its range."""
    runs = published_runs()
    f, lo, hi = _shipped()
    log_u, known = f.log_u(family, active_params)
    fams = sorted({r.family for r in runs})
    n_family = sum(1 for r in runs if r.family == family)
    where = (f"{n_family} published run(s) on {family}" if known else
             f"no published run on {family}: the fit pooled over {', '.join(fams)}")
    source = (f"effective utilization fitted to {len(runs)} published training runs (data/{DATA}; {where}): "
              f"log u = a[family] + {f.slope:.3f} x log10(active params / 1e9); range: {RANGE_QUANTILES[0]:.0%}-{RANGE_QUANTILES[1]:.0%} "
              "quantiles of leave-one-out errors")
    return Utilization(math.exp(log_u), math.exp(log_u + lo), math.exp(log_u + hi), source)


@dataclass(frozen=True)
class Check:
    model: str
    family: str
    published_hours: float
    predicted_hours: float  # from a fit without this run
    low_hours: float
    high_hours: float  # its range, from the other runs' out-of-sample errors

    @property
    def error(self) -> float:
        return (self.predicted_hours - self.published_hours) / self.published_hours

    @property
    def inside(self) -> bool:
        return self.low_hours <= self.published_hours <= self.high_hours


def validate(runs: list[PublishedRun] | None = None,
             quantiles: tuple[float, float] = RANGE_QUANTILES) -> list[Check]:
    """Leave-one-out: each run's hours predicted without it, its range without it too (nested)."""
    from ..hardware import get

    runs = list(runs if runs is not None else published_runs())
    checks = []
    for i, r in enumerate(runs):
        others = runs[:i] + runs[i + 1:]
        log_u, _ = fit(others).log_u(r.family, r.active_params)
        residuals = loo_residuals(others)  # the range a user would have been shown without this run
        lo, hi = (quantile(residuals, q) for q in quantiles)
        peak = get(r.hardware).peak_flops("bf16") or 0.0
        flops = 6 * r.active_params * r.tokens

        def hours(log_util: float) -> float:
            return flops / (peak * math.exp(log_util)) / 3600
        checks.append(Check(r.model, r.family, r.hours, hours(log_u), hours(log_u + hi), hours(log_u + lo)))
    return checks
