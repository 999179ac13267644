"""The run store on a real PostgreSQL server (the team setup). `.ci/run` starts a throwaway server
with .ci/postgres.sh and sets MLFOOTPRINT_TEST_POSTGRES_URL; without it these tests are skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

import mlfootprint
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import open_store

PG_URL = os.environ.get("MLFOOTPRINT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="MLFOOTPRINT_TEST_POSTGRES_URL not set (.ci/run sets it)")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_round_trip_with_phases_counts_and_samples() -> None:
    project = unique("pg")
    sensor = ScriptedSensor([(0.0, 120.0), (1e6, 120.0)], time.monotonic)
    with mlfootprint.track(project=project, country="DE", store=PG_URL, interval_s=0.02, flush_interval_s=0.05,
                           sensors=[sensor]) as run:
        with run.phase("train"):
            time.sleep(0.2)
        run.count(samples=10)
        run.log_metrics(accuracy=0.9, train_accuracy=0.95)
    store = open_store(PG_URL)
    record = store.get_run(run.id)
    assert record.status == "completed" and record.project == project
    assert record.energy_j == pytest.approx(run.energy_j) and record.energy_j > 0
    assert record.location.country == "DE"
    assert {p.phase for p in record.phases} >= {"train"}
    assert record.counts == {"samples": 10.0} and record.generalization_gap == {"accuracy": pytest.approx(0.05)}
    assert sum(s["energy_j"] for s in store.samples(run.id)) == pytest.approx(record.energy_j)
    assert [r.id for r in store.list_runs(project=project)] == [run.id]
    assert record.settings["store"].value.startswith("postgresql+psycopg://postgres@/")


def test_cli_against_postgres() -> None:
    project = unique("pgcli")
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "-q", "--store", PG_URL, "--project", project,
                           "--", sys.executable, "-c", "print('hi')"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stderr.strip().splitlines()[-1]
    shown = subprocess.run([sys.executable, "-m", "mlfootprint", "show", run_id, "--json", "--store", PG_URL],
                           capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(shown.stdout)["project"] == project


def test_sigkilled_run_is_interrupted_on_postgres() -> None:
    code = (
        "import time, mlfootprint\n"
        "from mlfootprint.sensors import ScriptedSensor\n"
        "s = ScriptedSensor([(0.0, 50.0), (1e6, 50.0)], time.monotonic)\n"
        f"with mlfootprint.track(project='pgkill', store={PG_URL!r}, interval_s=0.02, flush_interval_s=0.05, sensors=[s]) as r:\n"
        "    print(r.id, flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    deadline = time.monotonic() + 20  # killed once its first flush is in (the writer opens the store in the
    while time.monotonic() < deadline:  # background: on a loaded machine that can take more than a second)
        try:
            if open_store(PG_URL).get_run(run_id)["energy_j"] > 0:
                break
        except Exception:
            pass
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    record = open_store(PG_URL).get_run(run_id)
    assert record.status == "interrupted" and record.energy_j > 0


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own on the test server, created empty and dropped afterwards."""
    from tests.store.pg import fresh_database as new_database

    with new_database(PG_URL) as url:
        yield url


def test_sixteen_tracks_on_a_fresh_postgres_database_all_run_and_are_stored(fresh_database: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_reliability import concurrent_tracks

    concurrent_tracks(fresh_database, tmp_path)


def test_nan_metrics_and_names_over_the_column_limits_on_postgres() -> None:
    long = "n" * 300
    with mlfootprint.track(project=unique("pglong"), store=PG_URL, interval_s=0.02, flush_interval_s=0.05,
                           sensors=[ScriptedSensor([(0.0, 50.0), (1e6, 50.0)], time.monotonic)]) as run:
        with run.phase(long):
            time.sleep(0.15)
        run.log_metrics(**{long: float("nan"), "val_loss": float("nan"), "acc\x00x": 0.5})
    record = open_store(PG_URL).get_run(run.id)
    assert record.status == "completed" and record.duration_s == pytest.approx(run.duration_s)
    assert record.metrics["val_loss"] is None and len(record.metrics) == 3
    assert all(len(p.phase) <= 255 for p in record.phases)
