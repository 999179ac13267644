from __future__ import annotations

import time

import pytest

import mlfootprint
from mlfootprint.meter import Meter
from mlfootprint.phases import PhaseAccount, PhaseRecorder
from mlfootprint.quality import generalization_gaps, phase_records
from mlfootprint.sensors import ScriptedSensor

# A job whose phases draw different power: data 0-4 s at 80 W, train 4-16.3 s at 300 W
# (forward 4-9.3 at 300 W and backward 9.3-16.3 at 300 W), evaluation 16.3-20 s at 150 W.
TRACE = [(0.0, 80.0), (4.0, 80.0), (4.0001, 300.0), (16.3, 300.0), (16.3001, 150.0), (30.0, 150.0)]
EXACT = {"data": 80 * 4.0, "train/forward": 300 * 5.3, "train/backward": 300 * 7.0, "evaluation": 150 * 3.7}


def phased_meter(clock, signal: str, interval_s: float):  # type: ignore[no-untyped-def]
    sensor = ScriptedSensor(TRACE, clock, signal=signal)  # type: ignore[arg-type]
    recorder = PhaseRecorder(clock)
    meter = Meter([sensor], clock=clock, interval_s=interval_s, phases=PhaseAccount(recorder))
    meter.start(background=False)
    schedule = [(0.0, "enter", "data"), (4.0, "exit", None), (4.0, "enter", "train"), (4.0, "enter", "forward"),
                (9.3, "exit", None), (9.3, "enter", "backward"), (16.3, "exit", None), (16.3, "exit", None),
                (16.3, "enter", "evaluation"), (20.0, "exit", None)]
    t0 = clock.t
    step = 0.01
    while clock.t - t0 < 20.0 - 1e-9:
        while schedule and schedule[0][0] <= clock.t - t0 + 1e-9:
            _, action, name = schedule.pop(0)
            recorder.enter(name) if action == "enter" else recorder.exit()
        clock.advance(step)
        if round((clock.t - t0) / interval_s, 6).is_integer():
            meter.sample()
    while schedule:
        _, action, name = schedule.pop(0)
        recorder.enter(name) if action == "enter" else recorder.exit()
    meter.sample()
    return meter


@pytest.mark.parametrize("signal,interval_s", [("energy-counter", 0.1), ("power-instant", 0.05)])
def test_phase_energy_matches_the_exact_answer_within_one_percent(clock, signal: str, interval_s: float) -> None:  # type: ignore[no-untyped-def]
    # instant power sampled across a step adds ΔP·Δ/2 to the trapezoid: 0.05 s keeps that under 1 %
    meter = phased_meter(clock, signal, interval_s=interval_s)
    got = {p.path: sum(p.energy_j.values()) for p in meter.phases.snapshot()}
    for path, exact in EXACT.items():
        assert got[path] == pytest.approx(exact, rel=0.01), path
    assert sum(got.values()) == pytest.approx(sum(meter.totals_j().values()))


def test_coarse_intervals_err_only_at_phase_boundaries(clock) -> None:  # type: ignore[no-untyped-def]
    meter = phased_meter(clock, "energy-counter", interval_s=1.0)
    got = {p.path: sum(p.energy_j.values()) for p in meter.phases.snapshot()}
    # boundary error bound from the phases docstring: ΔP·Δ/4 per boundary
    assert got["data"] == pytest.approx(EXACT["data"], abs=(300 - 80) * 1.0 / 4)
    assert got["evaluation"] == pytest.approx(EXACT["evaluation"], abs=(300 - 150) * 1.0 / 4)
    # forward and backward draw the same power: the 9.3-s boundary costs nothing
    assert got["train/forward"] == pytest.approx(EXACT["train/forward"], rel=0.01)


def test_durations_entries_and_nesting(clock) -> None:  # type: ignore[no-untyped-def]
    meter = phased_meter(clock, "energy-counter", interval_s=0.5)
    totals = {p.path: p for p in meter.phases.snapshot()}
    assert totals["train/forward"].duration_s == pytest.approx(5.3, abs=0.011)
    assert totals["data"].entries == 1 and totals["train"].entries == 1
    assert totals["train"].duration_s == pytest.approx(0.0, abs=0.011)  # exclusive: all time is in children
    rows = [{"path": p.path, "duration_s": p.duration_s, "energy_j": sum(p.energy_j.values()),
             "gpu_energy_j": p.energy_j.get("gpu", 0), "cpu_energy_j": 0, "ram_energy_j": 0,
             "entries": p.entries, "items": p.items} for p in totals.values()]
    records = {r["phase"]: r for r in phase_records(rows, sum(meter.totals_j().values()))}
    assert records["train"]["energy_j"] == pytest.approx(EXACT["train/forward"] + EXACT["train/backward"], rel=0.01)
    assert records["train"]["duration_s"] == pytest.approx(12.3, abs=0.02)
    assert sum(r["share"] for p, r in records.items() if "/" not in p) == pytest.approx(1.0)


def test_markers_that_arrive_after_the_interval_wait_for_the_next_one(clock) -> None:  # type: ignore[no-untyped-def]
    rec = PhaseRecorder(clock)
    account = PhaseAccount(rec)
    rec.enter("a", t=clock.t + 5.0)  # stamped in the future of the interval being closed
    durations = account.split(clock.t, clock.t + 1.0)
    assert durations == {0: 1.0}
    assert account.split(clock.t + 1.0, clock.t + 10.0) == {0: 4.0, 1: 5.0}


def test_invalid_phase_names(clock) -> None:  # type: ignore[no-untyped-def]
    rec = PhaseRecorder(clock)
    with pytest.raises(ValueError, match="invalid phase name 'a/b'"):
        with rec.marker("a/b"):
            pass


def test_run_phase_api_counts_and_metrics(isolated_env) -> None:  # type: ignore[no-untyped-def]
    sensor = ScriptedSensor([(0.0, 100.0), (1e6, 100.0)], time.monotonic)
    with mlfootprint.track(project="phases", sensors=[sensor], interval_s=0.01) as run:
        for _ in range(3):
            with run.phase("forward"):
                time.sleep(0.03)
            with run.phase("backward"):
                time.sleep(0.06)
            run.count(samples=32, tokens=32 * 128)
        with run.phase("evaluation", items=100):
            time.sleep(0.05)
        run.log_metrics(accuracy=0.9, train_accuracy=0.97, loss="n/a")
    from mlfootprint.store import open_store

    record = open_store(None).get_run(run.id)
    phases = {p["phase"]: p for p in record["phases"]}
    assert phases["backward"]["energy_j"] == pytest.approx(2 * phases["forward"]["energy_j"], rel=0.25)
    assert phases["forward"]["entries"] == 3
    assert phases["evaluation"]["items"] == 100
    assert phases["evaluation"]["energy_per_item_j"] == pytest.approx(phases["evaluation"]["energy_j"] / 100)
    assert record["counts"] == {"samples": 96.0, "tokens": 96.0 * 128}
    assert record["energy_per_sample_j"] == pytest.approx(record["energy_j"] / 96)
    assert record["metrics"] == {"accuracy": 0.9, "train_accuracy": 0.97}
    assert record["generalization_gap"] == {"accuracy": pytest.approx(0.07)}
    assert sum(p["energy_j"] for p in record["phases"]) == pytest.approx(record["energy_j"], rel=1e-6)


def test_generalization_gap_pairs() -> None:
    assert generalization_gaps({"train_loss": 0.1, "val_loss": 0.3, "train_acc": 0.9}) == {"loss": pytest.approx(-0.2)}
    assert generalization_gaps({"accuracy": 0.5}) == {}
