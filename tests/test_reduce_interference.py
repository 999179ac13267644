"""`reduce` on a machine another job keeps busy: a real CPU-bound process runs beside part of an
experiment, and no verdict may change because of it.

The workload is deterministic pure-Python work (no torch): the baseline does N units per epoch;
"same as baseline" sets the knob the script already uses (identical work), "half the data" does
half, "double work" twice as much. Run once on a quiet machine and once with a busy-loop process
on the other core for the experiment's first seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from mlfootprint.reduce import Experiment, Setup, Strategy, strategies as s
from mlfootprint.reduce.interference import LoadWatch

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


REPEATS = 4


def experiment(store: str) -> Experiment:
    return Experiment(train_trial, evaluate, repeats=REPEATS, budget_s=120, store=store, interval_s=0.1, epochs=3,
                      country="FR")


def start_neighbour(seconds: float) -> int:
    """A CPU-bound process that is not ours: started through a shell that exits at once, so it is
    reparented away from our process tree, as another user's job would be. Returns its pid."""
    code = f"import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass"
    out = subprocess.run(["sh", "-c", f"{sys.executable} -c '{code}' >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def stop_neighbour(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def verdicts(result: Any) -> dict[str, tuple[bool, str]]:
    """Each strategy's verdict reduced to (recommended, the kind of reason)."""
    out = {}
    for name in result.summaries:
        ok, why = result.verdict(name)
        kind = ("reference" if name == "baseline" else "saving" if ok else "noise" if "within measurement noise" in why
                else "costlier" if "costlier beyond the noise" in why else why)
        out[name] = (ok, kind)
    return out


def trials_text(result: Any) -> str:
    """Every trial, for a failure message: a flaky machine shows itself here."""
    return "\n".join(f"{t.strategy} round {t.repeat} attempt {t.attempt} {t.status}: {t.energy_j:.2f} J, "
                     f"others {t.other_load_cores or 0:.2f} cores" for t in result.trials)


def test_a_busy_neighbour_changes_no_verdict(tmp_path: Any) -> None:
    quiet = experiment(str(tmp_path / "quiet.db")).run(strategies())
    expected = {"baseline": (False, "reference"), "batch 64": (False, "noise"), "data 50%": (True, "saving"),
                "double work": (False, "costlier")}
    assert verdicts(quiet) == expected, ([quiet.verdict(n) for n in quiet.summaries], trials_text(quiet))

    neighbour = start_neighbour(8.0)
    try:
        time.sleep(0.3)  # the neighbour is running before the first trial
        busy = experiment(str(tmp_path / "busy.db")).run(strategies())
    finally:
        stop_neighbour(neighbour)
    assert verdicts(busy) == expected, ([busy.verdict(n) for n in busy.summaries], trials_text(busy))
    reruns = [t for t in busy.trials if t.attempt > 1]
    assert reruns, "trials beside the neighbour were detected and run again"
    assert all(t.status == "ok" for t in busy.trials), "once the neighbour ended, every trial ran clean"
    assert any("re-run because other processes loaded the machine" in n for n in busy.notes)
    # the change the verdict rests on (each round's ratio to its own baseline trial): the same work
    # comes out the same. The medians' ratio is not checked: on a VM whose host drifts between rounds
    # it moves with the drift (0.79 once in CI), which is why verdicts pair rounds.
    assert busy.change("batch 64") == pytest.approx(0.0, abs=0.15), trials_text(busy)


def test_the_load_watch_sees_a_neighbour_and_not_our_own_work() -> None:
    watch = LoadWatch()
    watch.start()
    work(UNITS * 2)
    alone = watch.stop()
    neighbour = start_neighbour(30.0)
    try:
        time.sleep(0.2)
        watch.start()
        work(UNITS * 2)
        beside = watch.stop()
    finally:
        stop_neighbour(neighbour)
    assert alone.other_cores < 0.15 and not alone.contaminated(0.15)
    assert beside.other_cores > 0.5 and beside.contaminated(0.15)
    assert "other processes used" in beside.describe()


def test_short_trials_get_a_note() -> None:
    result = Experiment(train_trial, evaluate, repeats=1, budget_s=60, interval_s=1.0, epochs=1,
                        country="FR").run([s.baseline()])
    assert any("under 10 sensor reads" in n for n in result.notes)
