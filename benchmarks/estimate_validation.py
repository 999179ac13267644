"""Estimates against published training runs, grouped out of sample first.

    python benchmarks/estimate_validation.py > benchmarks/results/estimate_validation.txt

Runs from one lab share its software and habits, so a fit that keeps a run's siblings looks better than
it is for a new lab. The 26 runs of data/published_training.csv carry their publisher and release (a
publisher's model family: Meta's LLaMA, Llama 2, Llama 3 and Llama 4 are four releases).

1. Grouped by release: every run's accelerator-hours predicted from parameters and tokens by a fit that
   saw nothing of its release, and its range calibrated without it too (nested). Mean absolute error,
   and coverage and median width (high / low) of the range at each nominal level. Targets (issue 23):
   <= 25 %, >= 85 % inside the nominal-90 % range, median width <= 3x.
2. Grouped by publisher: a lab never seen at all (Meta's 15 runs predicted from the other 11): the
   stress test; the range is calibrated by release within the other publishers, as a user would get it.
3. Leave one run out: the previous validation, for comparison (a run's siblings stay in the fit).
4. The model's terms and the range's design, each step grouped by release; and terms tried and left out.
   These choices were made looking at this table, so the step that was kept is not out of sample for
   the choice itself: read 1-2 as the error of the method, 4 as why the method is what it is.
5. The papers' steady-state MFU (`--utilization peak`), nothing fitted.
6. In sample (the fit on every run, as shipped): for reference only.
7. From the published accelerator-hours (tests/data/published_training_footprints.csv): this only
   re-multiplies each publisher's own hours x power x PUE x intensity, so it is no test of the estimator.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from mlfootprint.estimate import TrainingWorkload, estimate
from mlfootprint.estimate import utilization as u
from mlfootprint.estimate.validation import compare, mape, published_place

runs = list(u.published_runs())
TARGET_MAE, TARGET_COVERAGE, TARGET_WIDTH = 0.25, 0.85, 3.0


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def levels_block(name: str, s: u.Summary, checks: Sequence[u.Check]) -> None:
    print(f"{name}: mean absolute error {s.mean_abs_error:.1%} (target <= 25 %: {met(s.mean_abs_error <= TARGET_MAE)}); "
          f"nominal 90%: inside {round(s.coverage[0.9] * s.n)}/{s.n} = {s.coverage[0.9]:.0%} (target >= 85 %: "
          f"{met(s.coverage[0.9] >= TARGET_COVERAGE)}), median width {s.median_width[0.9]:.2f}x (target <= 3x: "
          f"{met(s.median_width[0.9] <= TARGET_WIDTH)})")
    print("  coverage and width at each nominal level:")
    for p in u.LEVELS:
        widths = [hi / lo for lo, hi in (c.range_at(p) for c in checks)]
        print(f"  nominal {p:.0%}: inside {round(s.coverage[p] * s.n)}/{s.n} = {s.coverage[p]:.0%}, "
              f"median width {s.median_width[p]:.2f}x, widest {max(widths):.2f}x")


def table(checks: Sequence[u.Check]) -> None:
    print(f"{'model':<17} {'left out':<21} {'family':<7} {'published h':>12} {'predicted h':>12} {'error':>7} "
          f"{'90% range (h)':>25} {'inside':>6}  widened by")
    for c in checks:
        lo, hi = c.range_at(0.9)
        why = "; ".join(w.split(":")[0].split(",")[0] for w in c.widened_by) or "-"
        print(f"{c.model:<17} {c.group:<21} {c.family:<7} {c.published_hours:12,.0f} {c.predicted_hours:12,.0f} "
              f"{c.error:+7.1%} {lo:12,.0f}-{hi:<12,.0f} {'yes' if c.inside() else 'NO':>6}  {why}")


print("# written by: python benchmarks/estimate_validation.py")
releases = sorted({u.by_release(r) for r in runs})
publishers = sorted({r.publisher for r in runs})
print(f"calibration set: {len(runs)} published runs with parameters, tokens and accelerator-hours, in "
      f"{len(releases)} releases of {len(publishers)} publishers ({', '.join(releases)})")
gain, gain_lo, gain_hi = u.fp8_gain()
print(f"FP8 training gain over BF16: x{gain:.3f} (measured x{gain_lo:.3f}-x{gain_hi:.3f}: {u.FP8_GAIN_SOURCE})")

print("\n1. grouped by release: each release predicted, and its range calibrated, by fits that saw nothing of it")
by_release = u.validate()
table(by_release)
levels_block("grouped by release", u.summarize(by_release), by_release)

print("\n2. grouped by publisher: each publisher's runs predicted by a fit without that publisher (ranges "
      "calibrated by release among the others)")
by_publisher = u.validate(key=u.by_publisher, inner_key=u.by_release)
for pub in publishers:
    mine = [c for c in by_publisher if c.group == pub]
    print(f"  {pub:<11} {len(mine):2d} runs: mean absolute error {statistics.fmean(abs(c.error) for c in mine):.1%}, "
          f"inside the 90% range {sum(c.inside() for c in mine)}/{len(mine)}, median width "
          f"{statistics.median(hi / lo for lo, hi in (c.range_at(0.9) for c in mine)):.2f}x")
levels_block("grouped by publisher", u.summarize(by_publisher), by_publisher)

print("\n3. leave one run out (the previous validation: a run's siblings stay in its fit)")
by_run = u.validate(key=u.by_run)
levels_block("leave-one-run-out", u.summarize(by_run), by_run)

print("\n4. the model's terms and the range's design, grouped by release (the choice was made on this table)")
plain = [replace(r, fp8=False) for r in runs]  # the FP8 run taken as BF16: no gain, no FP8 term in the range
steps = (("size and hardware family only, one range width for all (the previous model)", plain, ()),
         ("+ the measured FP8 gain for the FP8-trained run", runs, ()),
         ("+ range width by what the fit knows (labs on the family, size, MoE, FP8): shipped", runs, None))
for name, rs, terms in steps:
    s = u.summarize(u.validate(rs, terms=terms))
    print(f"  {name}: mean absolute error {s.mean_abs_error:.1%}; nominal 90%: inside {s.coverage[0.9]:.0%}, "
          f"median width {s.median_width[0.9]:.2f}x; nominal 80%: inside {s.coverage[0.8]:.0%}, median width "
          f"{s.median_width[0.8]:.2f}x")


def grouped_mae_with(extra: str) -> float:
    """Grouped-by-release error of the point model with one more term (least squares, family intercepts)."""
    def features(r: u.PublishedRun, fams: list[str]) -> list[float]:
        x = [1.0 if r.family == f else 0.0 for f in fams] + [math.log10(r.active_params) - 9]
        if extra == "tokens per parameter":
            x.append(math.log10(r.tokens / r.params))
        else:  # total / active parameters of a mixture of experts
            x.append(math.log(r.params / r.active_params))
        return x

    errors = []
    for g in sorted({u.by_release(r) for r in runs}):
        train = [r for r in runs if u.by_release(r) != g]
        fams = sorted({r.family for r in train})
        coef, *_ = np.linalg.lstsq(np.array([features(r, fams) for r in train]),
                                   np.array([math.log(r.utilization) - (math.log(gain) if r.fp8 else 0) for r in train]),
                                   rcond=None)
        pooled = u.fit(train)
        for r in (r for r in runs if u.by_release(r) == g):
            if r.family in fams:
                log_u = float(np.dot(coef, features(r, fams)))
            else:
                log_u = pooled.log_u(r.family, r.active_params)
            log_u += math.log(gain) if r.fp8 else 0.0
            errors.append(abs(math.exp(math.log(r.utilization) - log_u) - 1))
    return statistics.fmean(errors)


for extra in ("tokens per parameter", "total / active parameters"):
    print(f"  tried and left out: + log {extra}: mean absolute error {grouped_mae_with(extra):.1%}")

print("\n5. the papers' steady-state MFU (--utilization peak), nothing fitted")
peak_errors = []
for r in runs:
    est = estimate(TrainingWorkload(r.hardware, r.active_params, r.tokens, utilization="peak"), published_place(1.0, 0.4))
    lo, hi = est.accelerator_hours_range
    peak_errors.append(((est.accelerator_hours - r.hours) / r.hours, lo <= r.hours <= hi))
print(f"peak MFU: mean absolute error {statistics.fmean(abs(e) for e, _ in peak_errors):.1%}, inside its range "
      f"{sum(i for _, i in peak_errors)}/{len(peak_errors)}")

f = u.fit(runs)
print("\n6. in sample (the shipped fit on every run): for reference")
in_errors = [abs(u.hours(r, f.log_u(r.family, r.active_params, r.fp8)) - r.hours) / r.hours for r in runs]
print(f"in-sample mean absolute error: {statistics.fmean(in_errors):.1%}; slope {f.slope:.3f} per decade of active "
      "parameters; utilization at 1e9 active parameters: " +
      ", ".join(f"{k} {math.exp(v):.3f}" for k, v in f.intercepts.items()) +
      f"; labs by family: {', '.join(f'{k} {v}' for k, v in f.labs.items())}")

print("\n7. from the published accelerator-hours (re-multiplies the publishers' own arithmetic)")
results = compare(Path(__file__).parent.parent / "tests/data/published_training_footprints.csv")
print(f"mean absolute error from hours: CO2e {mape(results, 'hours'):.1%}, "
      f"energy {mape(results, 'hours', 'energy_error'):.1%}")
