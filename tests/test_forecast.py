from __future__ import annotations

import pytest

from mlfootprint.forecast import Forecaster
from tests.fakes.traces import SCENARIOS, Scenario


def forecast_at(scenario: Scenario, fraction: float):  # type: ignore[no-untyped-def]
    f = Forecaster(scenario.steps)
    for step, t, e in scenario.observations():
        if step > fraction * scenario.steps:
            break
        f.observe(step, t, e)
    return f.forecast()


def rel_error(value: float, truth: float) -> float:
    return abs(value - truth) / truth


def test_steady_run_is_within_5_percent_after_10_percent() -> None:
    s = SCENARIOS[0]
    duration, energy = s.truth()
    fc = forecast_at(s, 0.10)
    assert fc is not None and fc.progress == pytest.approx(0.10, abs=0.02)
    assert rel_error(fc.duration_s.value, duration) < 0.05
    assert rel_error(fc.total_energy_j.value, energy) < 0.05
    assert fc.total_energy_j.low <= energy <= fc.total_energy_j.high * 1.01


def test_a_slow_first_epoch_does_not_inflate_the_forecast() -> None:
    s = SCENARIOS[1]
    duration, energy = s.truth()
    fc = forecast_at(s, 0.25)
    assert rel_error(fc.total_energy_j.value, energy) < 0.05
    naive = fc.energy_j / fc.progress  # what a plain extrapolation from the start would say
    assert rel_error(naive, energy) > 0.10, "the scenario must be one a naive forecast gets wrong"


def test_periodic_evaluation_is_averaged_in() -> None:
    s = SCENARIOS[2]
    duration, energy = s.truth()
    fc = forecast_at(s, 0.5)
    assert rel_error(fc.duration_s.value, duration) < 0.05
    assert rel_error(fc.total_energy_j.value, energy) < 0.05


def test_drift_widens_the_band_to_cover_the_truth() -> None:
    s = SCENARIOS[3]
    _, energy = s.truth()
    fc = forecast_at(s, 0.5)
    assert fc.total_energy_j.low <= energy <= fc.total_energy_j.high
    steady_band = forecast_at(SCENARIOS[0], 0.5).total_energy_j
    assert (fc.total_energy_j.high - fc.total_energy_j.low) > 5 * (steady_band.high - steady_band.low)


def test_too_few_observations_give_no_forecast_and_bad_totals_are_refused() -> None:
    f = Forecaster(100)
    f.observe(1, 1.0, 10.0)
    f.observe(2, 2.0, 20.0)
    assert f.forecast() is None
    with pytest.raises(ValueError, match="total steps must be positive"):
        Forecaster(0)


def test_progress_going_backwards_or_standing_still_is_ignored() -> None:
    f = Forecaster(100)
    for step in (1, 2, 2, 1, 3, 4):
        f.observe(step, float(step), 10.0 * step)
    assert [p[0] for p in f.points] == [1, 2, 3, 4]


# -- on a run ---------------------------------------------------------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import mlfootprint  # noqa: E402
from mlfootprint.sensors import ScriptedSensor  # noqa: E402
from mlfootprint.store import open_store  # noqa: E402


def steady_sensor(watts: float = 100.0) -> ScriptedSensor:
    return ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic)


def test_a_run_well_under_budget_runs_to_the_end_and_its_forecast_stays_apart(isolated_env: Path) -> None:
    # 100 W for ~2 s is ~200 J; the budget, 1e-3 kWh (3,600 J), is 18x that: even a machine running this
    # three times slower stays far under, so only a budget check that misfires stops it
    with mlfootprint.track(sensors=[steady_sensor()], interval_s=0.02, budget_kwh=1e-3, stop_over_budget=True,
                           pue=1.0) as run:
        keep_going = True
        for step in range(1, 101):
            time.sleep(0.02)
            keep_going = run.progress(step, 100)
            if not keep_going:
                break
    assert run.energy_j < 3600 / 3
    assert keep_going and step == 100 and run.over_budget is None
    fc = run.forecast()
    assert fc is not None and fc.progress > 0.9
    assert abs(fc.total_energy_j.value - run.energy_j) / run.energy_j < 0.1
    record = open_store(None).get_run(run.id)
    assert record.forecast.method == "estimated from progress"
    assert record.energy_j == pytest.approx(run.energy_j)  # the forecast never replaces measured totals


def test_run_over_budget_warns_once_and_asks_to_stop(isolated_env: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    with mlfootprint.track(sensors=[steady_sensor(1000.0)], interval_s=0.02, budget_co2e_kg=1e-6, country="PL",
                           stop_over_budget=True) as run:
        stopped_at = None
        for step in range(1, 201):
            time.sleep(0.01)
            if not run.progress(step, 200):
                stopped_at = step
                break
    assert stopped_at is not None and stopped_at < 200
    assert "exceeds the budget of 1e-06 kg" in (run.over_budget or "")
    assert sum("exceeds the budget" in r.getMessage() for r in caplog.records) == 1
    assert any("over budget" in w for w in open_store(None).get_run(run.id).warnings)


def test_cli_epochs_budget_and_stop(isolated_env: Path, tmp_path: Path) -> None:
    child = tmp_path / "train.py"
    child.write_text("import time, mlfootprint\n"
                     "for epoch in range(40):\n"
                     "    time.sleep(0.1)\n"
                     "    mlfootprint.report_progress(epoch + 1)\n"
                     "print('all epochs done')\n")
    env = dict(os.environ, COLUMNS="120")
    ok = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "--interval", "0.05", "--epochs", "40", "--",
                         sys.executable, str(child)], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0 and "all epochs done" in ok.stdout
    stopped = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "--interval", "0.05", "--epochs", "40",
                              "--budget-kwh", "1e-9", "--stop-over-budget", "--", sys.executable, str(child)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert stopped.returncode == 143 and "all epochs done" not in stopped.stdout
    assert "exceeds the budget" in stopped.stderr
    runs = open_store(None).list_runs()
    assert [r.status for r in runs[:2]] == ["interrupted", "completed"]
    first = open_store(None).get_run(runs[1].id)
    assert first.forecast.progress == pytest.approx(1.0)
    shown = subprocess.run([sys.executable, "-m", "mlfootprint", "show", runs[0].id], capture_output=True,
                           text=True, env=env, timeout=60)
    assert "(estimated, not measured)" in shown.stdout and "over budget" in shown.stdout
    bad = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "--budget-kwh", "-1", "--", "true"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "invalid budget_kwh=-1.0" in bad.stderr


def test_report_progress_writes_for_the_wrapper_and_nothing_outside_it(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    monkeypatch.delenv("MLFOOTPRINT_PROGRESS_FILE", raising=False)
    before = sorted(tmp_path.iterdir())
    assert mlfootprint.report_progress(3) is None  # outside `mlfootprint track`: a no-op, nothing written
    assert sorted(tmp_path.iterdir()) == before
    target = tmp_path / "progress"
    monkeypatch.setenv("MLFOOTPRINT_PROGRESS_FILE", str(target))
    mlfootprint.report_progress(3, 10)
    assert target.read_text() == "3 10"
    monkeypatch.setenv("MLFOOTPRINT_PROGRESS_FILE", str(tmp_path / "no" / "such" / "dir" / "p"))
    mlfootprint.report_progress(4)  # an unwritable path never raises into the loop


def test_a_co2e_budget_uses_the_hourly_series_when_one_is_given(isolated_env: Path, tmp_path: Path) -> None:
    """France's annual grid (~41 g/kWh) keeps this run under its CO2e budget; the hourly series it is
    charged at (2000 g/kWh) does not: the budget must follow the series, as the run's CO2e does."""
    from datetime import datetime, timedelta, timezone

    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    series = tmp_path / "dirty.csv"
    series.write_text("datetime,intensity_g_per_kwh\n" + "".join(
        f"{(start + timedelta(hours=h)).isoformat()},2000\n" for h in range(-1, 3)))
    watts, seconds = 1000.0, 1.0  # ~1000 J: 0.0114 g at 41 g/kWh x 1.0 PUE, 0.556 g at 2000 g/kWh
    budget_kg = 1e-4
    with mlfootprint.track(sensors=[steady_sensor(watts)], interval_s=0.02, flush_interval_s=0.05, country="FR",
                           pue=1.0, intensity_csv=str(series), budget_co2e_kg=budget_kg) as run:
        for step in range(1, 51):
            time.sleep(seconds / 50)
            run.progress(step, 50)
    assert run.co2e_kg > budget_kg > run.energy_j / 3.6e6 * 41.44 / 1000, "over budget only at the series' hours"
    assert run.over_budget is not None and "exceeds the budget" in run.over_budget
