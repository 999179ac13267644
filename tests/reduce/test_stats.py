"""The statistics verdicts rest on: t quantiles, the paired interval, the sequential error rate."""

from __future__ import annotations

import math
import random

import pytest

from mlfootprint.reduce.stats import (Band, mean_interval, pareto_front, per_look_error_rate, rounds_to_settle, side,
                                      t_cdf, t_quantile)


@pytest.mark.parametrize("p,df,expected", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 5, 2.571), (0.975, 30, 2.042), (0.95, 10, 1.812),
    (0.995, 4, 4.604), (0.9995, 3, 12.924),  # two-sided 95 %, 90 %, 99 %, 99.9 % from the standard tables
])
def test_t_quantiles_match_the_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-3)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)
    assert t_quantile(1 - p, df) == pytest.approx(-t_quantile(p, df))


def test_t_quantiles_agree_with_scipy_where_it_is_installed() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 9, 25, 200):
        for p in (0.6, 0.9, 0.99, 1 - 0.05 / 16):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-6)


def test_the_interval_of_a_mean() -> None:
    values = [1.0, 2.0, 3.0]
    interval = mean_interval(values, 0.05)
    assert interval is not None
    assert interval.value == 2.0 and interval.high - 2.0 == pytest.approx(4.303 * 1.0 / math.sqrt(3), abs=1e-3)
    assert mean_interval([1.0], 0.05) is None, "one value: no spread, no interval"


def test_where_an_interval_lies_against_the_band() -> None:
    from mlfootprint.ranges import Range

    band = Band.around_one(0.02)
    assert side(Range(-0.3, -0.35, -0.25), band) == "below"
    assert side(Range(0.3, 0.25, 0.35), band) == "above"
    assert side(Range(0.0, -0.01, 0.01), band) == "inside"
    assert side(Range(-0.02, -0.05, 0.01), band) == "across"


def test_the_sequential_design_keeps_its_error_rate() -> None:
    """Simulated experiments of a strategy that changes nothing (true log-ratio 0, per-round noise
    5 %), looked at after every round from 3 to 10 and stopped at the first settled look: a "saving"
    or a "cost" is a wrong verdict, and must come out in well under the 5 % promised; and one that
    truly saves 30 % is found (as a saving, never as anything else) in almost every experiment."""
    rng = random.Random(7)
    alpha = per_look_error_rate(0.05, 3, 10)
    band = Band.around_one(0.02)

    def experiment(true_log: float) -> str:
        values: list[float] = []
        for n in range(1, 11):
            values.append(rng.gauss(true_log, 0.05))
            if n >= 3:
                where = side(mean_interval(values, alpha), band)  # type: ignore[arg-type]
                if where != "across":
                    return where
        return "across"

    runs = 2000
    wrong = sum(experiment(0.0) in ("below", "above") for _ in range(runs)) / runs
    assert wrong < 0.025, wrong
    found = [experiment(math.log(0.7)) for _ in range(500)]
    assert found.count("below") / len(found) > 0.95 and "above" not in found and "inside" not in found


def test_what_would_settle_an_open_question() -> None:
    band = Band.around_one(0.02)
    rng = random.Random(1)
    noisy = [math.log(0.9) + rng.gauss(0, 0.08) for _ in range(4)]  # a 10 % saving, 8 % noise per round
    needed = rounds_to_settle(noisy, band, 0.05, 3, 10)
    assert needed is not None and needed > 4
    on_the_edge = [math.log(0.98) + d for d in (-0.01, 0.01, -0.01, 0.01)]  # exactly on the -2 % line
    assert rounds_to_settle(on_the_edge, band, 0.05, 3, 10) is None


def test_the_pareto_front_keeps_what_nothing_beats() -> None:
    points = [(1.0, 0.95), (0.7, 0.95), (0.6, 0.80), (1.3, 0.97), (0.8, 0.90), (0.7, 0.93)]
    assert pareto_front(points) == [2, 1, 3]  # by cost: 0.6 (cheapest), 0.7 at 0.95, 1.3 (best quality)
