"""`reduce` on a machine another job keeps busy: a real CPU-bound process runs beside part of an
experiment, and no verdict may change because of it.

The workload is deterministic pure-Python work (no torch): the baseline does N units per epoch;
"batch 64" sets the knob the script already uses (identical work), "half the data" does half,
"double work" twice as much. Run once without our neighbour and once with a busy-loop process on the
other core for the experiment's first seconds.

Every claim is relative to what the machine does anyway, so the tests hold beside a foreign job that
keeps a core busy throughout (it is the floor the experiment measures against, interference.py): the
load watch is checked against an independent reading of the same counters and against the
neighbour's own CPU time, not against an idle machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import psutil
import pytest

from mlfootprint.reduce import Experiment, Setup, Strategy, strategies as s
from mlfootprint.reduce.interference import LoadWatch, floor_of, spoiled
from mlfootprint.reduce.result import Result

UNITS = 6_000_000  # about 0.3 s of pure-Python work per epoch on this project's 2-vCPU VM


def work(units: int) -> int:
    total = 0
    for i in range(units):
        total += i * i % 7
    return total


def train_trial(setup: Setup) -> Any:
    units = int(UNITS * setup.data_fraction * float(setup.extras.get("work", 1.0)) * (setup.batch_size or 64) / 64)
    for epoch in range(setup.epochs or 3):
        work(units)
        yield {"epoch": epoch}


def evaluate(model: dict[str, int]) -> dict[str, float]:
    return {"accuracy": 0.9}


class DoubleWork(Strategy):
    name, kind = "double work", "training"

    def configure(self, setup: Setup) -> None:
        setup.extras["work"] = 2.0


def strategies() -> list[Any]:
    return [s.baseline(), s.batch_size(64), s.data_fraction(0.5), DoubleWork()]


def experiment(store: str) -> Experiment:
    return Experiment(train_trial, evaluate, repeats=4, budget_s=240, store=store, interval_s=0.1, epochs=3,
                      country="FR")


def start_neighbour(seconds: float) -> psutil.Process:
    """A CPU-bound process that is not ours: started through a shell that exits at once, so it is
    reparented away from our process tree, as another user's job would be. Returns once it runs."""
    code = f"import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass"
    out = subprocess.run(["sh", "-c", f"{sys.executable} -c '{code}' >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    proc = psutil.Process(int(out.stdout.strip()))
    deadline = time.monotonic() + 10
    while sum(proc.cpu_times()[:2]) < 0.05 and time.monotonic() < deadline:  # poll: it has started burning
        time.sleep(0.01)
    return proc


def stop_neighbour(proc: psutil.Process) -> None:
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except (ProcessLookupError, psutil.Error):
        pass


def decisions(result: Result) -> dict[str, str]:
    return {r.strategy: r.decision for r in result.reports}


def trials_text(result: Result) -> str:
    """Every trial, for a failure message: a flaky machine shows itself here."""
    return "\n".join(f"{t.strategy} round {t.repeat} {t.status}: {t.energy_j:.2f} J, others "
                     f"{t.other_load_cores or 0:.2f} cores" for t in result.trials) + f"\nfloor {result.floor_cores:.2f}"


def assert_right(result: Result) -> None:
    """Half the work is a saving, double the work a cost; identical work is never called either."""
    found = decisions(result)
    assert found["data 50%"] == "saves" and found["double work"] == "costs more", (found, trials_text(result))
    assert found["batch 64"] in ("no change", "undecided"), (found, trials_text(result))
    # the interval the verdict rests on (each round's ratio to its own baseline trial) reaches into the ±2 %
    # band of "no change" for the same work: it is never wholly a saving or a cost. Not a fixed band around
    # the point estimate: on a shared VM identical trials differ by 20-40 % from round to round (a fresh-clone
    # CI run saw +10 %, +38 %, +26 % in three rounds), and a few percent can be systematic (another run:
    # +1.8 %, +2.1 %, +2.4 %), which is what the interval and the band are for; the medians' ratio is not
    # checked either (it moves with a host that drifts between rounds).
    same, band = result.report("batch 64").change_range, result.design.min_saving
    assert same is None or (same.low <= band and same.high >= -band), trials_text(result)  # None: too few rounds


@pytest.mark.slow
def test_a_busy_neighbour_changes_no_verdict(tmp_path: Any) -> None:
    quiet = experiment(str(tmp_path / "quiet.db")).run(strategies())
    if any(r.contaminated for r in quiet.reports):
        pytest.skip("the machine's load came and went by itself, without our neighbour: the quiet experiment found "
                    f"too few rounds whose trials saw the same load (floor {quiet.floor_cores:.2f} cores; "
                    f"{'; '.join(n for n in quiet.notes if 'beside' in n)})")
    assert_right(quiet)

    neighbour = start_neighbour(8.0)
    try:
        busy = experiment(str(tmp_path / "busy.db")).run(strategies())
    finally:
        stop_neighbour(neighbour)
    assert_right(busy)
    assert any("more of other processes' load than the floor" in n for n in busy.notes), \
        ("the trials beside the neighbour were seen", trials_text(busy))
    assert all(r.contaminated == 0 for r in busy.reports), \
        ("every verdict rests on rounds whose two trials saw the same load", trials_text(busy))


def test_the_load_watch_sees_a_neighbour_and_not_our_own_work() -> None:
    def counters() -> tuple[float, float, float]:
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal
        ours = psutil.Process().cpu_times()
        return time.monotonic(), busy, ours.user + ours.system

    watch = LoadWatch()
    before = counters()
    watch.start()
    work(UNITS * 2)
    alone = watch.stop()
    after = counters()
    if alone.our_cores < 0.3:
        pytest.skip(f"the machine is too busy to measure ours against: our work got {alone.our_cores:.2f} cores")
    # our own work is not others' load: the watch agrees with psutil's reading of the same window
    others = ((after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0])
    assert alone.other_cores == pytest.approx(others, abs=0.2), (alone, others)
    assert alone.other_cores < others + 0.5 * alone.our_cores

    neighbour = start_neighbour(30.0)
    try:
        burnt = sum(neighbour.cpu_times()[:2])
        watch.start()
        work(UNITS * 2)
        beside = watch.stop()
        neighbour_cores = (sum(neighbour.cpu_times()[:2]) - burnt) / beside.wall_s
    finally:
        stop_neighbour(neighbour)
    if neighbour_cores < 0.3:
        pytest.skip(f"the machine is too busy for the neighbour to run: it got {neighbour_cores:.2f} cores")
    # the neighbour's load is seen (others' load includes all of it), and it spoils the trial against
    # the floor our work alone saw, whatever a foreign job keeps busy throughout
    assert beside.other_cores >= 0.8 * neighbour_cores, (beside, neighbour_cores)
    floor = floor_of([alone.other_cores])
    assert spoiled(beside.other_cores, beside.foreign_gpu_pids, floor, 0.15), (alone, beside, neighbour_cores)
    assert not spoiled(alone.other_cores, alone.foreign_gpu_pids, floor, 0.15)


def test_short_trials_get_a_note() -> None:
    result = Experiment(train_trial, evaluate, repeats=1, budget_s=60, interval_s=1.0, epochs=1,
                        country="FR").run([s.baseline()])
    assert any("under 10 sensor reads" in n for n in result.notes)
