"""Effective utilization, fitted to published training runs, and a range that holds for a lab never seen.

A paper's MFU is its best steady-state throughput. A published footprint counts every hour the
accelerators were held: warm-up, evaluation, checkpoints, restarts, failed nodes, and small models
that cannot fill a large GPU. So the estimator's default is the *effective* utilization of published runs

    u = 6 x active parameters x tokens / (accelerator-hours x 3600 x dense BF16 peak FLOP/s)

modelled, in logs, with few terms, each for a reason training has:

* a[family]: one level per hardware generation (volta, ampere, hopper, ...). Newer chips grow their
  peak faster than their memory and network, so the same code reaches a different share of it;
* b x log10(active parameters): bigger matrices fill the chip better (one slope shared by all families,
  the fixed-effects estimator); a mixture of experts is sized by the parameters a token uses;
* FP8 training: the hours of a run trained in FP8 are divided by the end-to-end gain FP8 measured over
  BF16 on the same model and cluster (FP8_GAIN), since its utilization is counted against the BF16 peak.

Terms looked at and left out (benchmarks/estimate_validation.py prints their grouped errors): tokens per
parameter and total/active parameters of a mixture of experts made the grouped error worse. What the
model cannot know (restarts, ablations, distillation or context extension counted in the published
hours) is left to the range.

The range. Runs from one lab share its software and habits, so each run is predicted by a fit that saw
nothing of its release (data/published_training.csv groups the runs by publisher and release): the
*grouped* out-of-sample errors are what a new lab can expect. Their scale depends on what the fit knows
about the estimate asked for, so each error is divided by a difficulty d = sqrt(1 + v), where v adds,
in units of the grouped error variance:

* 1 / labs with runs on the hardware family (a family known from several labs is narrower); a family
  without runs takes the pooled fit plus the spread of the family levels around it;
* (log10 size - mean)^2 x the variance of the releases' own size slopes (labs scale differently with
  size; far from the middle, and outside the fitted span, that is the main risk);
* 1 / labs with mixture-of-experts runs, for a mixture of experts (expert parallelism and routing);
* 1 / benchmarks behind the FP8 gain, for an FP8 run.

The range at a nominal level p is the prediction times exp(+-q d), q the p-quantile of the grouped
|error| / d (normalized split-conformal prediction, Lei et al. 2018, JASA, "Distribution-free predictive
inference for regression", Sec. 5.2), with the finite-sample rank ceil((n + 1) p). `validate()` checks
it nested: each release's range comes from a calibration that did not see that release either.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..data import number, rows

DATA = "published_training.csv"
LEVEL = 0.90  # the nominal level of the range every estimate prints
LEVELS = (0.50, 0.80, 0.90, 0.95)  # the levels the validation reports coverage and width at


@dataclass(frozen=True)
class MeasuredGain:
    """An end-to-end throughput gain measured on one model and cluster, with where it was published."""

    baseline_tflops: float
    faster_tflops: float
    what: str

    @property
    def ratio(self) -> float:
        return self.faster_tflops / self.baseline_tflops


# FP8 over BF16, the same model (DeepSeek-V3 without MTP), 256 GPUs, model TFLOP/s per GPU: NVIDIA NeMo
# Megatron-Bridge performance summary, 25.11 container (docs/performance-summary.md).
FP8_GAIN_SOURCE = "NVIDIA Megatron-Bridge performance summary (NeMo 25.11): DeepSeek-V3 pre-training, BF16 vs FP8"
FP8_GAINS = (MeasuredGain(961, 1088, "256 GB300"), MeasuredGain(782, 1003, "256 GB200"))


def fp8_gain() -> tuple[float, float, float]:
    """(geometric mean, lowest, highest) of the measured FP8-over-BF16 gains."""
    ratios = [g.ratio for g in FP8_GAINS]
    return math.exp(statistics.fmean(math.log(r) for r in ratios)), min(ratios), max(ratios)


@dataclass(frozen=True)
class PublishedRun:
    model: str
    publisher: str
    release: str
    family: str
    hardware: str
    active_params: float
    params: float
    tokens: float
    hours: float
    fp8: bool  # trained in FP8, as published
    utilization: float  # effective, against the BF16 peak, as defined above
    source: str

    @property
    def moe(self) -> bool:
        return self.params > self.active_params

    @property
    def flops(self) -> float:
        return 6 * self.active_params * self.tokens


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
        out.append(PublishedRun(r["model"], r["publisher"], r["release"], acc.family, acc.key, active, params, tokens,
                                hours, r["training_precision"] == "fp8", 6 * active * tokens / (hours * 3600 * peak),
                                r["source"]))
    return tuple(out)


def _x(active_params: float) -> float:
    return math.log10(active_params) - 9


def _y(r: PublishedRun) -> float:
    """log u at BF16 speed: an FP8 run's utilization divided by the FP8 gain."""
    return math.log(r.utilization) - (math.log(fp8_gain()[0]) if r.fp8 else 0.0)


@dataclass(frozen=True)
class Difficulty:
    """What the fit knows about one estimate: the variance terms of d^2 = 1 + sum (see the module docstring),
    each with the sentence that says why it widened the range (empty where it did not)."""

    terms: tuple[tuple[str, float, str], ...]  # (name, variance in units of the grouped error variance, why)

    @property
    def d(self) -> float:
        return math.sqrt(1 + sum(v for _, v, _ in self.terms))

    @property
    def widened_by(self) -> tuple[str, ...]:
        return tuple(why for _, _, why in self.terms if why)

    def only(self, names: Collection[str] | None) -> Difficulty:
        """The terms named in `names` (all when None): for the validation's comparison of range designs."""
        return self if names is None else Difficulty(tuple(t for t in self.terms if t[0] in names))


@dataclass(frozen=True)
class Fit:
    intercepts: dict[str, float]  # log u at 1e9 active parameters, by family
    slope: float  # d log u / d log10(active params), shared by the families
    pooled: float  # one intercept for all families, with its own slope: for a family without runs
    pooled_slope: float
    labs: dict[str, int]  # publishers with runs on each family
    all_labs: int
    moe_labs: int
    family_spread: float  # variance of the family levels around the pooled one (log units)
    slope_spread: float  # variance of the releases' own size slopes
    mean_x: float  # mean log10(active params / 1e9) of the runs
    span: tuple[float, float]  # the fitted active-parameter span, log10(N / 1e9)
    n_runs: int

    def log_u(self, family: str, active_params: float, fp8: bool = False) -> float:
        x = _x(active_params)
        if family in self.intercepts:
            base = self.intercepts[family] + self.slope * x
        else:
            base = self.pooled + self.pooled_slope * x
        return base + (math.log(fp8_gain()[0]) if fp8 else 0.0)

    def difficulty(self, family: str, active_params: float, *, moe: bool, fp8: bool, sigma2: float) -> Difficulty:
        x = _x(active_params)
        terms: list[tuple[str, float, str]] = []
        n_labs = self.labs.get(family, 0)
        if n_labs:
            why = f"{family} hardware: published runs from {n_labs} lab only" if n_labs == 1 else ""
            terms.append(("family", 1 / n_labs, why))
        else:
            terms.append(("family", self.family_spread / sigma2 + 1 / max(1, self.all_labs),
                          f"{family} hardware: no published run, so the pooled fit and the spread between "
                          "hardware families"))
        outside = x < self.span[0] or x > self.span[1]
        lo, hi = (10 ** (9 + s) for s in self.span)
        terms.append(("size", (x - self.mean_x) ** 2 * self.slope_spread / sigma2,
                      f"{active_params:.3g} active parameters, outside the fitted {lo:.2g}-{hi:.2g}" if outside else ""))
        if moe:
            terms.append(("moe", 1 / max(1, self.moe_labs),
                          f"mixture of experts: runs from {self.moe_labs} lab(s) in the fit"))
        if fp8:
            terms.append(("fp8", 1.0,  # one publication behind the gain: the same weight as one lab
                          f"FP8 training: gain x{fp8_gain()[0]:.2f} over BF16 from one benchmark ({FP8_GAIN_SOURCE})"))
        return Difficulty(tuple(terms))


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 1e-12 else 0.0


def fit(runs: Sequence[PublishedRun]) -> Fit:
    """Least squares with a shared slope and one intercept per family (and a pooled line), with what the
    ranges need: labs per family, the spread of family levels and of the releases' own slopes."""
    xs = [_x(r.active_params) for r in runs]
    ys = [_y(r) for r in runs]
    fams = sorted({r.family for r in runs})
    mean_x = {f: statistics.fmean(x for x, r in zip(xs, runs) if r.family == f) for f in fams}
    mean_y = {f: statistics.fmean(y for y, r in zip(ys, runs) if r.family == f) for f in fams}
    sxx = sum((x - mean_x[r.family]) ** 2 for x, r in zip(xs, runs))
    sxy = sum((x - mean_x[r.family]) * (y - mean_y[r.family]) for x, y, r in zip(xs, ys, runs))
    slope = sxy / sxx if sxx > 1e-12 else 0.0
    intercepts = {f: mean_y[f] - slope * mean_x[f] for f in fams}
    pooled_slope = _slope(xs, ys)
    pooled = statistics.fmean(ys) - pooled_slope * statistics.fmean(xs)
    release_slopes = []  # a release spanning sizes on one family: how that lab's utilization scales
    for release in sorted({r.release for r in runs}):
        own = [(x, y) for x, y, r in zip(xs, ys, runs) if r.release == release]
        families = {r.family for r in runs if r.release == release}
        if len(families) == 1 and max(x for x, _ in own) - min(x for x, _ in own) > 0.3:
            release_slopes.append(_slope([x for x, _ in own], [y for _, y in own]))
    return Fit(intercepts, slope, pooled, pooled_slope,
               labs={f: len({r.publisher for r in runs if r.family == f}) for f in fams},
               all_labs=len({r.publisher for r in runs}), moe_labs=len({r.publisher for r in runs if r.moe}),
               family_spread=statistics.pvariance(intercepts.values()) if len(fams) > 1 else 0.0,
               slope_spread=statistics.variance(release_slopes) if len(release_slopes) > 1 else 0.0,
               mean_x=statistics.fmean(xs), span=(min(xs), max(xs)), n_runs=len(runs))


GroupKey = Callable[[PublishedRun], str]


def by_release(r: PublishedRun) -> str:
    return f"{r.publisher} {r.release}"


def by_publisher(r: PublishedRun) -> str:
    return r.publisher


def by_run(r: PublishedRun) -> str:
    return r.model


@dataclass(frozen=True)
class OutOfSample:
    """One run predicted by a fit that saw nothing of its group: log(actual / predicted) and its difficulty."""

    run: PublishedRun
    log_error: float
    d: float


TERMS = ("family", "size", "moe", "fp8")  # the difficulty terms (Fit.difficulty)


def grouped_errors(runs: Sequence[PublishedRun], key: GroupKey = by_release,
                   terms: Collection[str] | None = None) -> tuple[list[OutOfSample], float]:
    """Each group's runs predicted by a fit without that group, and the mean squared log error (the unit of
    the difficulty terms); `terms`: the difficulty terms to use (all by default)."""
    groups = sorted({key(r) for r in runs})
    fits = {g: fit([r for r in runs if key(r) != g]) for g in groups}
    raw = [math.log(r.utilization) - fits[key(r)].log_u(r.family, r.active_params, r.fp8) for r in runs]
    sigma2 = statistics.fmean(e * e for e in raw)
    out = [OutOfSample(r, e, fits[key(r)].difficulty(r.family, r.active_params, moe=r.moe, fp8=r.fp8,
                                                     sigma2=sigma2).only(terms).d) for r, e in zip(runs, raw)]
    return out, sigma2


def conformal_quantile(scores: Sequence[float], level: float) -> float:
    """The ceil((n + 1) level)-th smallest score: split-conformal's finite-sample rank (the largest when it
    exceeds n: a level the calibration cannot promise is shown as wide as it has seen)."""
    s = sorted(scores)
    rank = min(len(s), math.ceil((len(s) + 1) * level))
    return s[rank - 1]


@dataclass(frozen=True)
class Calibration:
    """A fit and the grouped out-of-sample errors its ranges come from."""

    fit: Fit
    sigma2: float
    scores: tuple[float, ...]  # |log error| / d of each run, predicted without its group
    terms: tuple[str, ...] | None = None  # the difficulty terms used (all when None)

    def predict(self, family: str, active_params: float, *, moe: bool = False, fp8: bool = False,
                level: float = LEVEL) -> tuple[float, float, Difficulty]:
        """(log u, half-width of its range in log units at `level`, the difficulty behind it)."""
        diff = self.fit.difficulty(family, active_params, moe=moe, fp8=fp8, sigma2=self.sigma2).only(self.terms)
        return self.fit.log_u(family, active_params, fp8), conformal_quantile(self.scores, level) * diff.d, diff


def calibrate(runs: Sequence[PublishedRun], key: GroupKey = by_release,
              terms: Collection[str] | None = None) -> Calibration:
    errors, sigma2 = grouped_errors(runs, key, terms)
    return Calibration(fit(runs), sigma2, tuple(abs(e.log_error) / e.d for e in errors),
                       None if terms is None else tuple(terms))


@lru_cache(maxsize=1)
def shipped() -> Calibration:
    """The calibration every estimate uses: the fit on all published runs, ranges from their grouped errors."""
    return calibrate(published_runs())


@dataclass(frozen=True)
class Utilization:
    value: float
    low: float
    high: float
    level: float  # nominal share of new labs' runs the range holds
    widened_by: tuple[str, ...]
    source: str


def effective_utilization(family: str, active_params: float, *, moe: bool = False, fp8: bool = False) -> Utilization:
    """The default utilization (against the BF16 peak) for a model of this size on this hardware family."""
    cal = shipped()
    log_u, half, diff = cal.predict(family, active_params, moe=moe, fp8=fp8)
    runs = published_runs()
    known = family in cal.fit.intercepts
    n_family = sum(1 for r in runs if r.family == family)
    where = (f"{n_family} published run(s) on {family} from {cal.fit.labs[family]} lab(s)" if known else
             f"no published run on {family}: the fit pooled over {', '.join(sorted(cal.fit.intercepts))}")
    gain = f"; x{fp8_gain()[0]:.2f} for FP8 training ({FP8_GAIN_SOURCE})" if fp8 else ""
    source = (f"effective utilization fitted to {len(runs)} published training runs (data/{DATA}; {where}): "
              f"log u = a[family] + {cal.fit.slope:.3f} x log10(active params / 1e9){gain}; range: {LEVEL:.0%} of "
              "a new lab's runs, from the errors of fits that saw nothing of each run's release, scaled by what "
              "the fit knows about this estimate")
    return Utilization(math.exp(log_u), math.exp(log_u - half), math.exp(log_u + half), LEVEL, diff.widened_by, source)


@dataclass(frozen=True)
class Check:
    """One published run, predicted from parameters and tokens by a fit (and a range) that saw nothing of its
    group, beside what the fit on every run says about it."""

    model: str
    family: str
    group: str
    published_hours: float
    predicted_hours: float
    in_sample_hours: float  # from the fit on every run, this one included: not a validation
    ranges: tuple[tuple[float, float, float], ...]  # (nominal level, low hours, high hours)
    widened_by: tuple[str, ...]

    @property
    def error(self) -> float:
        return (self.predicted_hours - self.published_hours) / self.published_hours

    def range_at(self, level: float) -> tuple[float, float]:
        for p, lo, hi in self.ranges:
            if p == level:
                return lo, hi
        raise KeyError(level)

    def inside(self, level: float = LEVEL) -> bool:
        lo, hi = self.range_at(level)
        return lo <= self.published_hours <= hi


def hours(run: PublishedRun, log_u: float) -> float:
    """The accelerator-hours `run` takes at utilization exp(log_u) of its BF16 peak."""
    from ..hardware import get

    return run.flops / ((get(run.hardware).peak_flops("bf16") or math.nan) * math.exp(log_u)) / 3600


def validate(runs: Sequence[PublishedRun] | None = None, key: GroupKey = by_release,
             inner_key: GroupKey | None = None, levels: Sequence[float] = LEVELS,
             terms: Collection[str] | None = None) -> list[Check]:
    """Each group (`key`) predicted by a fit and a calibration without it; the calibration groups by
    `inner_key` (default: `key`), so the range is the one a user would have been shown. `terms`: the
    difficulty terms the range uses (all by default; () for a range of the same width everywhere)."""
    runs = list(runs if runs is not None else published_runs())
    everything = fit(runs)
    checks = []
    for g in dict.fromkeys(key(r) for r in runs):
        others = [r for r in runs if key(r) != g]
        cal = calibrate(others, inner_key or key, terms)
        for r in (r for r in runs if key(r) == g):
            ranges = []
            for level in levels:
                log_u, half, diff = cal.predict(r.family, r.active_params, moe=r.moe, fp8=r.fp8, level=level)
                ranges.append((level, hours(r, log_u + half), hours(r, log_u - half)))
            log_u, _, diff = cal.predict(r.family, r.active_params, moe=r.moe, fp8=r.fp8)
            checks.append(Check(r.model, r.family, g, r.hours, hours(r, log_u),
                                hours(r, everything.log_u(r.family, r.active_params, r.fp8)), tuple(ranges),
                                diff.widened_by))
    return checks


@dataclass(frozen=True)
class Summary:
    """Mean absolute error of accelerator-hours, and coverage and median width (high / low) by level."""

    n: int
    mean_abs_error: float
    coverage: dict[float, float] = field(default_factory=dict)
    median_width: dict[float, float] = field(default_factory=dict)


def summarize(checks: Sequence[Check]) -> Summary:
    levels = [p for p, _, _ in checks[0].ranges] if checks else []
    return Summary(len(checks), statistics.fmean(abs(c.error) for c in checks),
                   {p: sum(c.inside(p) for c in checks) / len(checks) for p in levels},
                   {p: statistics.median(hi / lo for lo, hi in (c.range_at(p) for c in checks)) for p in levels})
