"""Windows of a served model: counters read per series, bad values dropped where they are read."""

from __future__ import annotations

import pytest

from mlfootprint.serving import Window, summarize_windows
from mlfootprint.serving.scrape import Reading, Selector, read_counters, read_series
from mlfootprint.serving.windows import WindowCounter

SEL = [Selector.parse("req_total"), Selector.parse("tok_total")]


def expo(*series: tuple[str, str, object]) -> str:
    """An exposition with the given (name, labels, value) samples."""
    lines = ["# TYPE req counter", "# TYPE tok counter"]
    lines += [f"{name}{{{labels}}} {value}" if labels else f"{name} {value}" for name, labels, value in series]
    return "\n".join(lines) + "\n"


def observe(c: WindowCounter, t: float, e: float, text: str) -> object:
    return c.observe(t, e, read_series(text, SEL))


def test_counters_are_read_from_a_real_exposition() -> None:
    text = expo(("req_total", 'replica="a"', 10), ("req_total", 'replica="b"', 5), ("tok_total", "", 100))
    assert read_counters(text, SEL) == [15.0, 100.0]
    assert read_counters(text, [Selector.parse('req_total{replica="b"}'), Selector.parse("absent")]) == [5.0, None]


def test_windows_count_increases_and_survive_a_server_restart() -> None:
    c = WindowCounter()
    assert c.observe(0.0, 0.0, Reading([None, None])) is None  # server not up: no baseline yet
    w1 = observe(c, 10.0, 100.0, expo(("req_total", "", 50)))  # first seen: its past is not ours
    w2 = observe(c, 20.0, 300.0, expo(("req_total", "", 80)))
    w3 = observe(c, 30.0, 400.0, expo(("req_total", "", 5)))  # restarted: counting starts over at the new value
    assert [(w.requests, w.energy_j) for w in (w1, w2, w3)] == [(0.0, 100.0), (30.0, 200.0), (5.0, 100.0)]
    assert c.restarts == 1


def test_a_server_launched_in_the_run_counts_from_zero() -> None:
    """`serve -- CMD` starts the server inside the run: what it answered before the first read is counted
    (an attached server's first reading stays a baseline, as above)."""
    c = WindowCounter(from_zero=True)
    assert observe(c, 1.0, 10.0, expo(("req_total", 'replica="a"', 39))) is None  # first read: 39 answered already
    w1 = observe(c, 11.0, 110.0, expo(("req_total", 'replica="a"', 150), ("req_total", 'replica="b"', 7)))
    assert w1.requests == 157 and w1.energy_j == 100.0  # type: ignore[attr-defined]
    w2 = observe(c, 21.0, 210.0, expo(("req_total", 'replica="a"', 160), ("req_total", 'replica="b"', 9)))
    assert w2.requests == 12  # type: ignore[attr-defined]


def test_r10_a_restart_of_one_replica_is_not_a_restart_of_all() -> None:
    """The review's case: two summed series, one restarts; 13 requests, not 523."""
    c = WindowCounter()
    two = lambda a, b: expo(("req_total", 'replica="a"', a), ("req_total", 'replica="b"', b))  # noqa: E731
    observe(c, 0, 0, two(500, 500))
    assert observe(c, 10, 100, two(510, 510)).requests == 20  # type: ignore[attr-defined]
    assert observe(c, 20, 200, two(520, 3)).requests == 13  # type: ignore[attr-defined]
    assert c.restarts == 1


def test_r10_negative_or_backwards_counters_never_count_negative_requests() -> None:
    c = WindowCounter()
    observe(c, 0, 0, expo(("req_total", "", 1010)))
    assert observe(c, 10, 10, expo(("req_total", "", 1009))).requests == 1009  # type: ignore[attr-defined]
    negative = read_series(expo(("req_total", "", -124.7)), SEL)
    assert negative.series[0] == {} and negative.dropped == 1  # dropped where read: not a counter's value
    assert observe(c, 20, 20, expo(("req_total", "", -5))).requests == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["NaN", "+Inf", "-Inf"])
def test_r2_a_non_finite_reading_is_skipped_and_later_windows_count(bad: str) -> None:
    c = WindowCounter()
    observe(c, 0, 0, expo(("req_total", "", 100), ("tok_total", "", 1000)))
    nan = observe(c, 10, 50, expo(("req_total", "", bad), ("tok_total", "", bad)))
    assert nan.requests == 0.0 and nan.energy_j == 50  # type: ignore[attr-defined]
    after = observe(c, 20, 100, expo(("req_total", "", 130), ("tok_total", "", 1300)))
    assert after.requests == 30 and after.tokens == 300  # type: ignore[attr-defined]


def test_serving_figures_follow_their_definitions() -> None:
    # 4 windows of 10 s: two busy (100 and 300 requests), two idle at 20 W; a token counter too
    windows = [Window(0, 10, 10.0, 200.0, 0.0, 0.0), Window(1, 20, 10.0, 1200.0, 100.0, 1000.0),
               Window(2, 30, 10.0, 2200.0, 300.0, 2000.0), Window(3, 40, 10.0, 200.0, 0.0, 0.0)]
    s = summarize_windows(windows, co2e_kg_per_j=1e-7)
    per = s.energy_per_request_j
    assert per.idle_included == pytest.approx(3800 / 400)
    assert per.idle_excluded == pytest.approx(3400 / 400)
    assert s.idle_power_w == pytest.approx(20.0)
    assert per.above_idle == pytest.approx((3800 - 20 * 40) / 400)
    assert per.p50 == pytest.approx((12 + 2200 / 300) / 2)
    assert s.idle_share == pytest.approx(400 / 3800)
    assert s.energy_per_token_j is not None and s.energy_per_token_j.idle_included == pytest.approx(3800 / 3000)
    assert s.co2e_per_1000_requests_kg == pytest.approx(3800 * 1e-7 * 1000 / 400)
    assert s.requests_per_kwh == pytest.approx(400 * 3.6e6 / 3800)
    busy_only = summarize_windows(windows[1:3], co2e_kg_per_j=0.0)
    assert busy_only.idle_power_w is None and busy_only.energy_per_request_j.above_idle is None


def test_bad_counter_names_are_refused() -> None:
    for bad in ("bad name", 'x{a="1"', "1abc"):
        with pytest.raises(ValueError):
            Selector.parse(bad)
