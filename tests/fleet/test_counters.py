"""The exact counter arithmetic: tiles that add up to the integral, resets, hand-overs, edges, gaps."""

from __future__ import annotations

import random

import pytest

from mlfootprint.fleet import counters
from mlfootprint.fleet.counters import Sample


def _counter(times: list[float], power: list[float], start: float = 5_000.0) -> list[Sample]:
    """A counter sampled at `times`; power[i] is the constant power in the interval that ends at times[i]."""
    value, out = start, []
    for i, t in enumerate(times):
        if i:
            value += power[i] * (t - times[i - 1])
        out.append((t, value))
    return out


def _tiles(a: float, b: float, size: float) -> list[tuple[float, float]]:
    edges = [a]
    while edges[-1] + size < b:
        edges.append(edges[-1] + size)
    return list(zip(edges, [*edges[1:], b]))


def test_tiles_add_up_to_the_counted_energy_whatever_the_scrape_times() -> None:
    rng = random.Random(7)
    times = [0.0]
    for _ in range(2000):
        times.append(times[-1] + rng.uniform(10, 20))  # jittery scrapes
    samples = _counter(times, [rng.uniform(50, 700) for _ in times])
    a, b = times[0], times[-1]
    total = sum(counters.tile_energy(samples, x, y, 600, starts_at_zero=False) for x, y in _tiles(a, b, 3600))
    assert total == pytest.approx(samples[-1][1] - samples[0][1], rel=1e-12)


def test_a_reset_counts_from_zero_and_is_found() -> None:
    samples = [(0.0, 100.0), (10.0, 200.0), (20.0, 300.0), (30.0, 40.0), (40.0, 140.0)]
    assert counters.tile_energy(samples, 0.0, 40.0, 600, starts_at_zero=False) == pytest.approx(100 + 100 + 40 + 100)
    assert counters.resets_in(samples, 0.0, 40.0) == [((20.0, 300.0), (30.0, 40.0))]
    assert counters.increment(300.0, 40.0) == 40.0


def test_a_series_that_first_appears_counts_from_its_first_sample_or_from_zero() -> None:
    samples = [(100.0, 5000.0), (110.0, 5100.0), (120.0, 5300.0)]
    assert counters.tile_energy(samples, 90.0, 130.0, 5, starts_at_zero=False) == pytest.approx(300.0)
    assert counters.tile_energy(samples, 90.0, 130.0, 5, starts_at_zero=True) == pytest.approx(5300.0)


def test_a_device_that_changes_hands_charges_each_increment_to_the_later_samples_labels() -> None:
    idle, pod = (("pod", ""),), (("pod", "train"),)
    device = {idle: [(0.0, 1000.0), (10.0, 1070.0), (20.0, 1140.0)],
              pod: [(30.0, 1740.0), (40.0, 2340.0)]}
    got = counters.attribute(device, 0.0, 40.0, 600, starts_at_zero=False)
    assert got[idle] == pytest.approx(140.0) and got[pod] == pytest.approx(600.0 + 600.0)  # (20,30] goes to the pod
    # with one series it is the difference of its end values
    single = {pod: device[idle] + device[pod]}
    ends = counters.ends_of(single[pod], 0.0, 40.0, 600)
    assert counters.attribute(single, 0.0, 40.0, 600, starts_at_zero=False)[pod] == pytest.approx(0.0 + 2340 - 1000)
    assert ends.end is not None and ends.start is not None and ends.end - ends.start == pytest.approx(1340.0)


def test_a_gpu_reported_twice_at_once_is_split_not_doubled() -> None:
    a, b = (("pod", "a"),), (("pod", "b"),)
    same = [(0.0, 0.0), (10.0, 100.0), (20.0, 300.0)]
    got = counters.attribute({a: same, b: list(same)}, -1.0, 20.0, 600, starts_at_zero=False)
    assert got[a] == got[b] == pytest.approx(150.0)


def test_the_window_edges_are_interpolated_between_the_samples_on_either_side() -> None:
    key = (("pod", "x"),)
    samples = [(0.0, 0.0), (10.0, 100.0), (20.0, 300.0)]
    start = counters.edge_correction({key: samples}, 14.0, 600, at_end=False, reach_s=600)
    end = counters.edge_correction({key: samples}, 14.0, 600, at_end=True, reach_s=600)
    assert start == (key, pytest.approx(-80.0)) and end == (key, pytest.approx(80.0))
    assert counters.edge_correction({key: samples}, 10.0, 600, at_end=True, reach_s=600) is None  # on a sample
    assert counters.edge_correction({key: samples[:2]}, 14.0, 600, at_end=True, reach_s=600) is None  # none after


def test_gaps_are_found_and_their_energy_bridged_from_the_counter() -> None:
    samples = [(0.0, 0.0), (15.0, 150.0), (30.0, 300.0), (630.0, 6300.0), (645.0, 6450.0)]
    gaps = counters.find_gaps(samples)
    assert gaps == [((30.0, 300.0), (630.0, 6300.0))]
    key = ()
    after = {key: [(630.0, 6300.0), (645.0, 6450.0)]}
    bridged = counters.attribute(after, 600.0, 700.0, 60, starts_at_zero=False, previous=(30.0, 300.0))
    assert bridged[key] == pytest.approx(6150.0)  # the gap's 6,000 (the counter counted them) and the tile's 150
    assert counters.attribute(after, 600.0, 700.0, 60, starts_at_zero=False)[key] == pytest.approx(150.0)


def test_end_values_settle_a_clean_hand_over_and_leave_the_rest_to_raw_samples() -> None:
    E = counters.Ends
    idle, pod = (("pod", ""),), (("pod", "train"),)
    # the idle series ran until the pod took the GPU: each from the one before's end
    assert counters.by_ends({idle: E(1000.0, 1140.0), pod: E(None, 2340.0)}, 1000.0,
                            starts_at_zero=False, device=True) == {idle: 140.0, pod: 1200.0}
    # the pod ended last tile: the idle series comes back from the device's last value
    assert counters.by_ends({idle: E(None, 1500.0)}, 1400.0, starts_at_zero=False, device=True) == {idle: 100.0}
    # idle before and after a short pod: the idle series' own difference would count the pod twice
    assert counters.by_ends({idle: E(1000.0, 2500.0), pod: E(None, 2300.0)}, 1000.0,
                            starts_at_zero=False, device=True) is None
    # equal ends (a shared GPU), a device that just appeared, a fall (a reset): unsettled
    assert counters.by_ends({idle: E(None, 5.0), pod: E(None, 5.0)}, 1.0, starts_at_zero=False,
                            device=True) is None
    assert counters.by_ends({pod: E(None, 5.0)}, None, starts_at_zero=False, device=True) is None
    assert counters.by_ends({pod: E(9.0, 5.0)}, 9.0, starts_at_zero=False, device=True) is None
    # a workload's own counter: from zero when it first appears
    assert counters.by_ends({pod: E(None, 40.0)}, None, starts_at_zero=True, device=False) == {pod: 40.0}
    assert counters.by_ends({pod: E(None, 40.0)}, None, starts_at_zero=False, device=False) is None
    samples = [(100.0, 10.0), (110.0, 20.0), (120.0, 35.0)]
    assert counters.ends_of(samples, 105.0, 125.0, 60) == E(10.0, 35.0)
