from __future__ import annotations

import time

import pytest

import mlfootprint
from mlfootprint.record import PhaseRow
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
    rows = [PhaseRow(p.path, p.duration_s, sum(p.energy_j.values()), p.energy_j.get("gpu", 0), 0.0, 0.0, p.entries,
                     p.items) for p in totals.values()]
    records = {r.phase: r for r in phase_records(rows, sum(meter.totals_j().values()))}
    assert records["train"].energy_j == pytest.approx(EXACT["train/forward"] + EXACT["train/backward"], rel=0.01)
    assert records["train"].duration_s == pytest.approx(12.3, abs=0.02)
    assert sum(r.share for p, r in records.items() if "/" not in p) == pytest.approx(1.0)


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
    phases = {p.phase: p for p in record.phases}
    assert phases["backward"].energy_j == pytest.approx(2 * phases["forward"].energy_j, rel=0.25)
    assert phases["forward"].entries == 3
    assert phases["evaluation"].items == 100
    assert phases["evaluation"].energy_per_item_j == pytest.approx(phases["evaluation"].energy_j / 100)
    assert record.counts == {"samples": 96.0, "tokens": 96.0 * 128}
    assert record.energy_per_sample_j == pytest.approx(record.energy_j / 96)
    assert record.metrics == {"accuracy": 0.9, "train_accuracy": 0.97}
    assert record.generalization_gap == {"accuracy": pytest.approx(0.07)}
    assert sum(p.energy_j for p in record.phases) == pytest.approx(record.energy_j, rel=1e-6)


def test_generalization_gap_pairs() -> None:
    assert generalization_gaps({"train_loss": 0.1, "val_loss": 0.3, "train_acc": 0.9}) == {"loss": pytest.approx(-0.2)}
    assert generalization_gaps({"accuracy": 0.5}) == {}


# -- concurrent phases: threads and asyncio tasks, each with its own stack ---------------------------
def _concurrent_run(clock, schedule, trace, interval_s=0.1, end=None):  # type: ignore[no-untyped-def]
    """Drive a meter through `schedule`: (t, context, "enter"/"exit", name), contexts being
    contextvars.Context objects (one per request). Returns {path: (duration_s, energy_j)}."""
    import contextvars

    sensor = ScriptedSensor(trace, clock, signal="energy-counter")
    recorder = PhaseRecorder(clock)
    meter = Meter([sensor], clock=clock, interval_s=interval_s, phases=PhaseAccount(recorder))
    meter.start(background=False)
    t0 = clock.t
    contexts: dict[object, contextvars.Context] = {}
    schedule = sorted(schedule, key=lambda e: e[0])
    end = end if end is not None else schedule[-1][0]
    step = 0.01
    while True:
        while schedule and schedule[0][0] <= clock.t - t0 + 1e-9:
            _, ctx, action, name = schedule.pop(0)
            context = contexts.setdefault(ctx, contextvars.Context())
            context.run(recorder.enter if action == "enter" else recorder.exit, *([name] if action == "enter" else []))
        if clock.t - t0 >= end - 1e-9:
            break
        clock.advance(step)
        if round((clock.t - t0) / interval_s, 6).is_integer():
            meter.sample()
    meter.sample()
    return {p.path: (p.duration_s, sum(p.energy_j.values())) for p in meter.phases.snapshot()}, meter


def test_two_overlapping_requests_share_the_overlap(clock) -> None:  # type: ignore[no-untyped-def]
    # constant 100 W; request A in inference 0-4 s, request B 2-6 s: each is alone for 2 s and
    # shares 2 s, so each gets 2 + 1 = 3 s and 300 J; nothing is left outside phases
    got, meter = _concurrent_run(clock, [(0.0, "A", "enter", "inference"), (4.0, "A", "exit", None),
                                         (2.0, "B", "enter", "inference"), (6.0, "B", "exit", None)],
                                 [(0.0, 100.0), (10.0, 100.0)])
    assert got["inference"] == (pytest.approx(6.0), pytest.approx(600.0))
    assert got.get("", (0.0, 0.0)) == (pytest.approx(0.0, abs=1e-6), pytest.approx(0.0, abs=1e-6))


def test_overlapping_requests_in_different_phases_split_power_by_overlap(clock) -> None:  # type: ignore[no-untyped-def]
    # 200 W throughout. A: preprocess 0-1, inference 1-3. B: preprocess 2-4. Idle 4-5 s (outside).
    # 0-1 preprocess alone; 1-2 inference alone; 2-3 inference and preprocess share; 3-4 preprocess alone.
    got, meter = _concurrent_run(clock, [(0.0, "A", "enter", "preprocess"), (1.0, "A", "exit", None),
                                         (1.0, "A", "enter", "inference"), (3.0, "A", "exit", None),
                                         (2.0, "B", "enter", "preprocess"), (4.0, "B", "exit", None)],
                                 [(0.0, 200.0), (10.0, 200.0)], end=5.0)
    assert got["preprocess"][1] == pytest.approx(200 * 2.5)
    assert got["inference"][1] == pytest.approx(200 * 1.5)
    assert got[""][1] == pytest.approx(200 * 1.0)  # the idle gap
    assert sum(e for _, e in got.values()) == pytest.approx(sum(meter.totals_j().values()))
    assert sum(d for d, _ in got.values()) == pytest.approx(5.0)


def test_a_burst_of_100_requests_then_idle(clock) -> None:  # type: ignore[no-untyped-def]
    # 100 requests start 10 ms apart, each in `inference` for 0.5 s, on a trace of 300 W while any is
    # in flight (0-1.49 s) and 50 W idle after: every request's phase energy adds up to the busy part
    schedule = []
    for i in range(100):
        schedule += [(i * 0.01, i, "enter", "inference"), (i * 0.01 + 0.5, i, "exit", None)]
    trace = [(0.0, 300.0), (1.49, 300.0), (1.4901, 50.0), (10.0, 50.0)]
    got, meter = _concurrent_run(clock, schedule, trace, interval_s=0.01, end=3.0)
    assert got["inference"][1] == pytest.approx(300 * 1.49, rel=0.01)
    assert got[""][1] == pytest.approx(50 * 1.51, rel=0.01)
    assert got["inference"][0] == pytest.approx(1.49, rel=0.01)


def test_threads_and_asyncio_tasks_keep_their_own_phases() -> None:
    import asyncio
    import threading

    rec = PhaseRecorder(time.monotonic)
    seen: dict[str, str | None] = {}

    def worker(name: str) -> None:
        with rec.marker("request"):
            with rec.marker(name):
                time.sleep(0.05)
                seen[name] = rec.current()

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    with rec.marker("main"):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert rec.current() == "main"  # other threads' phases never touch this one's
    assert seen == {f"t{i}": f"request/t{i}" for i in range(4)}

    async def request(i: int) -> str | None:
        with rec.marker("request"):
            await asyncio.sleep(0.01 * (4 - i))  # interleaved: the last to enter leaves first
            with rec.marker("inference"):
                await asyncio.sleep(0.01)
                return rec.current()

    async def serve() -> list[str | None]:
        with rec.marker("serve"):
            return await asyncio.gather(*(request(i) for i in range(4)))  # tasks start inside "serve"

    assert asyncio.run(serve()) == ["serve/request/inference"] * 4
    account = PhaseAccount(rec)
    account.split(0.0, time.monotonic() + 1)
    assert account._n_leaves == 0 and not account._open  # every frame entered was left


def test_a_long_phase_name_is_clipped_in_the_measured_samples_too() -> None:
    """Samples carry their interval's phase: a name longer than the column must not fail the measured
    write (PostgreSQL enforces VARCHAR(255); found by CI)."""
    long = "p" * 300
    sensor = ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)
    with mlfootprint.track(project="long", sensors=[sensor], interval_s=0.02) as run:
        with run.phase(long):
            time.sleep(0.1)
        rows = run._rows(drain=False).samples
    assert rows and all(r.phase is None or len(r.phase) <= 255 for r in rows)
    assert any(r.phase and r.phase.startswith("ppp") for r in rows)


@pytest.mark.parametrize("seed", range(20))
def test_split_matches_a_reference_on_random_nested_threads(seed: int) -> None:
    """Random markers of up to three threads, nested up to three deep, read in random intervals: the time
    per path equals a reference that shares each instant between the innermost open frames."""
    import random

    rng = random.Random(seed)
    rec = PhaseRecorder(lambda: 0.0)
    stacks: list[list[tuple[int, object]]] = [[] for _ in range(rng.randint(1, 3))]
    events, t = [], 0.0
    for _ in range(rng.randint(1, 60)):
        t += rng.choice([0.0, rng.random()])
        stack = rng.choice(stacks)
        if stack and (len(stack) == 3 or rng.random() < 0.5):
            events.append((t, stack.pop(), False))
        else:
            parent = stack[-1] if stack else None
            pid = rec.path_id(parent[0] if parent else 0, rng.choice("abc"))  # type: ignore[index]
            node = (pid, parent)
            stack.append(node)
            events.append((t, node, True))
    end = t + 1.0
    # the reference: each instant shared by the innermost open frames
    expected: dict[int, float] = {}
    open_nodes: list[tuple[int, object]] = []
    cursor = 0.0
    for te, node, entered in events:
        leaves = [n for n in open_nodes if not any(o[1] is n for o in open_nodes)]
        for n in leaves or [None]:  # type: ignore[list-item]
            key = n[0] if n is not None else 0
            expected[key] = expected.get(key, 0.0) + (te - cursor) / max(1, len(leaves))
        cursor = te
        if entered:
            open_nodes.append(node)
        else:  # by identity: two threads' frames of one path are equal tuples
            del open_nodes[next(i for i, o in enumerate(open_nodes) if o is node)]
    leaves = [n for n in open_nodes if not any(o[1] is n for o in open_nodes)]
    for n in leaves or [None]:  # type: ignore[list-item]
        key = n[0] if n is not None else 0
        expected[key] = expected.get(key, 0.0) + (end - cursor) / max(1, len(leaves))
    # the account, fed in random intervals (markers past an interval's end wait for the next one)
    acc = PhaseAccount(rec)
    rec.events.extend(events)
    got: dict[int, float] = {}
    bounds = sorted({0.0, end, *(rng.uniform(0, end) for _ in range(rng.randint(0, 5)))})
    for a, b in zip(bounds, bounds[1:]):
        for pid, seconds in acc.split(a, b).items():
            got[pid] = got.get(pid, 0.0) + seconds
    assert {k: round(v, 9) for k, v in got.items() if v} == {k: round(v, 9) for k, v in expected.items() if v}
