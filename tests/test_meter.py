from __future__ import annotations

import threading
import time

import pytest

from mlfootprint.meter import Meter
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.sensors.base import Channel, Reading

# A trace with a ramp, a plateau, a spike and idle: 0-60 s, watts.
TRACE = [(0.0, 50.0), (10.0, 300.0), (25.0, 300.0), (26.0, 700.0), (27.0, 300.0), (40.0, 120.0), (60.0, 80.0)]


def run_meter(sensor: ScriptedSensor, clock, interval_s: float, until_s: float) -> Meter:  # type: ignore[no-untyped-def]
    meter = Meter([sensor], clock=clock, interval_s=interval_s)
    meter.start(background=False)
    steps = round(until_s / interval_s)
    for _ in range(steps):
        clock.advance(interval_s)
        meter.sample()
    return meter


@pytest.mark.parametrize("signal", ["power-instant", "energy-counter"])
def test_integration_matches_the_exact_integral_within_half_a_percent(clock, signal: str) -> None:  # type: ignore[no-untyped-def]
    sensor = ScriptedSensor(TRACE, clock, signal=signal)  # type: ignore[arg-type]
    exact_j = sensor.energy_between(0.0, 60.0)
    meter = run_meter(sensor, clock, interval_s=1.0, until_s=60.0)
    assert exact_j == pytest.approx(1750 + 4500 + 1000 + 2730 + 2000)  # area of the trace, piece by piece
    assert meter.totals_j()["gpu:0"] == pytest.approx(exact_j, rel=0.005)


def test_coarse_sampling_of_power_misses_spikes_but_counters_do_not(clock) -> None:  # type: ignore[no-untyped-def]
    exact_j = ScriptedSensor(TRACE, clock).energy_between(0.0, 60.0)
    power = run_meter(ScriptedSensor(TRACE, clock), clock, interval_s=5.0, until_s=60.0).totals_j()["gpu:0"]
    clock.t = 1000.0
    counter = run_meter(ScriptedSensor(TRACE, clock, signal="energy-counter"), clock, interval_s=5.0,
                        until_s=60.0).totals_j()["gpu:0"]
    assert counter == pytest.approx(exact_j, rel=1e-9)
    assert abs(power - exact_j) / exact_j > 0.01  # the 1-s spike falls between 5-s samples


def test_samples_add_up_to_totals(clock) -> None:  # type: ignore[no-untyped-def]
    meter = run_meter(ScriptedSensor(TRACE, clock), clock, interval_s=2.0, until_s=60.0)
    samples = meter.drain_samples()
    assert len(samples) == 30
    assert sum(s.energy_j for s in samples) == pytest.approx(meter.totals_j()["gpu:0"])
    assert all(s.power_w == pytest.approx(s.energy_j / 2.0) for s in samples)
    assert meter.drain_samples() == []


def test_a_failing_power_sensor_keeps_what_it_measured_and_does_not_bridge_the_gap(clock) -> None:  # type: ignore[no-untyped-def]
    sensor = ScriptedSensor([(0.0, 100.0), (100.0, 100.0)], clock, fail_after_s=10.5)
    meter = run_meter(sensor, clock, interval_s=1.0, until_s=20.0)
    assert meter.totals_j()["gpu:0"] == pytest.approx(1000.0)
    assert meter.states["gpu:0"].failed_reads == 10


class ExplodingSensor:
    def channels(self) -> list[Channel]:
        return [Channel("cpu:x", "cpu", "x", "measured", "test", 0.05, "power-instant")]

    def read(self) -> list[Reading]:
        raise RuntimeError("hardware on fire")

    def close(self) -> None:
        raise RuntimeError("still on fire")


def test_a_sensor_that_raises_never_reaches_the_host(clock) -> None:  # type: ignore[no-untyped-def]
    good = ScriptedSensor([(0.0, 10.0), (100.0, 10.0)], clock)
    meter = Meter([ExplodingSensor(), good], clock=clock)
    meter.start(background=False)
    clock.advance(5.0)
    meter.sample()
    meter.stop()
    meter.close()
    assert meter.totals_j() == {"cpu:x": 0.0, "gpu:0": pytest.approx(50.0)}


def test_background_thread_samples_and_stops_promptly() -> None:
    t0 = time.monotonic()
    sensor = ScriptedSensor([(0.0, 100.0), (1e6, 100.0)], time.monotonic)
    meter = Meter([sensor], interval_s=0.05)
    meter.start()
    time.sleep(0.3)
    before_stop = time.monotonic()
    meter.stop()
    assert time.monotonic() - before_stop < 0.2
    assert not any(t.name == "mlfootprint-meter" for t in threading.enumerate())
    elapsed = time.monotonic() - t0
    assert meter.totals_j()["gpu:0"] == pytest.approx(100.0 * meter.elapsed_s, rel=1e-3)
    assert 0.25 < meter.elapsed_s <= elapsed
