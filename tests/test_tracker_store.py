from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import mlfootprint
from mlfootprint.record import Setting
from mlfootprint.constants import J_PER_KWH
from mlfootprint.errors import ConfigError, RunNotFoundError, StoreError
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import open_store

REQUIRED_KEYS = {"id", "project", "status", "started_at", "duration_s", "energy_j", "facility_energy_j", "pue",
                 "components", "location", "co2e_kg", "host", "command"}


def steady(watts: float, key: str = "gpu:0", kind: str = "gpu") -> ScriptedSensor:
    return ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic, key=key, kind=kind)  # type: ignore[arg-type]


def test_track_context_manager_round_trips_through_the_store(isolated_env: Path) -> None:
    with mlfootprint.track(project="demo", country="FR", pue=1.2, interval_s=0.02,
                           sensors=[steady(200.0), steady(50.0, "cpu:0", "cpu")]) as run:
        time.sleep(0.3)
    assert run.status == "completed"
    assert run.energy_j == pytest.approx(250.0 * run.duration_s, rel=0.01)
    assert run.energy_kwh == pytest.approx(run.energy_j / J_PER_KWH)
    assert run.facility_energy_j == pytest.approx(1.2 * run.energy_j)
    assert run.co2e_kg == pytest.approx(run.facility_energy_j / J_PER_KWH * 41.44 / 1000)

    record = open_store(str(isolated_env)).get_run(run.id[:6])
    assert REQUIRED_KEYS <= set(record.to_json())
    assert record.status == "completed" and record.project == "demo"
    assert record.energy_j == pytest.approx(run.energy_j)
    assert record.location.country == "FR" and "Ember" in record.location.intensity_source
    assert {c.key: c.kind for c in record.components} == {"gpu:0": "gpu", "cpu:0": "cpu"}
    assert all(c.method == "simulated" and c.source for c in record.components)  # scripted sensors
    assert record.settings["pue"] == Setting(1.2, "argument")
    samples = open_store(str(isolated_env)).samples(run.id)
    assert sum(s["energy_j"] for s in samples) == pytest.approx(run.energy_j)


def test_decorator_makes_one_run_per_call_and_failed_calls_are_recorded(isolated_env: Path) -> None:
    @mlfootprint.track(project="deco", sensors=[steady(10.0)], interval_s=0.01)
    def work(fail: bool) -> str:
        time.sleep(0.05)
        if fail:
            raise ValueError("boom")
        return "ok"

    assert work(False) == "ok"
    with pytest.raises(ValueError, match="boom"):  # the user's error passes through unchanged
        work(True)
    runs = open_store(str(isolated_env)).list_runs(project="deco")
    assert [r.status for r in runs] == ["failed", "completed"]


def test_bare_decorator(isolated_env: Path) -> None:
    @mlfootprint.track
    def work() -> int:
        return 42

    assert work() == 42
    assert open_store(str(isolated_env)).list_runs()[0].status == "completed"


def test_bad_settings_fail_before_the_block_runs() -> None:
    ran = False
    with pytest.raises(ConfigError, match="unknown country 'ZZ'"):
        with mlfootprint.track(country="ZZ"):
            ran = True
    assert not ran


def test_unreadable_store_is_a_clear_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open run store .*garbage.db"):
        open_store(str(not_a_db))
    with pytest.raises(StoreError, match="cannot open run store 'nosuchdialect\\+foo://x'.*Can't load plugin"):
        open_store("nosuchdialect+foo://x")


def test_unknown_and_ambiguous_run_ids(isolated_env: Path) -> None:
    for _ in range(2):
        with mlfootprint.track(sensors=[steady(1.0)]):
            pass
    store = open_store(str(isolated_env))
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        store.get_run("nope")
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        store.get_run("")


def test_a_store_failure_at_the_end_rescues_the_record_to_a_file(isolated_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.store import Writer

    with mlfootprint.track(sensors=[steady(100.0)], interval_s=0.01, flush_interval_s=0.02) as run:
        time.sleep(0.2)  # the store is open and flushed
        def broken(*_a, **_k):  # type: ignore[no-untyped-def]
            raise StoreError("disk full")
        monkeypatch.setattr(Writer, "save_measured", broken)
        time.sleep(0.05)
    rescued = run.rescue_path
    assert rescued is not None and rescued.parent == isolated_env.with_name("runs.db.spool")
    assert oct(rescued.stat().st_mode & 0o777) == "0o600"
    data = json.loads(rescued.read_text())
    assert data["run"]["energy_j"] == pytest.approx(run.energy_j) and data["run"]["energy_j"] > 0
    assert data["run"]["status"] == "completed"
    assert data["samples"], "the samples that never reached the store are in the file"
    kept = isolated_env.with_name("kept.json")
    kept.write_text(rescued.read_text())
    monkeypatch.undo()  # the disk has room again: the writer, still trying, stores the run
    assert run.wait_stored(10) and run.rescue_path is None and not rescued.exists()
    stored = open_store(str(isolated_env))
    assert stored.get_run(run.id).status == "completed"
    assert sum(s["energy_j"] for s in stored.samples(run.id)) == pytest.approx(run.energy_j, rel=1e-6)

    def import_(path: Path, store: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mlfootprint", "import", str(path), "--store", str(store)],
                              capture_output=True, text=True)
    assert "(0 new samples)" in import_(kept, isolated_env).stdout, "what the store has is not added twice"
    other = isolated_env.with_name("other.db")
    assert import_(kept, other).returncode == 0
    assert open_store(str(other)).get_run(run.id).energy_j == pytest.approx(run.energy_j)


CHILD = textwrap.dedent("""
    import sys, time
    import mlfootprint
    from mlfootprint.sensors import ScriptedSensor
    sensor = ScriptedSensor([(0.0, 100.0), (1e6, 100.0)], time.monotonic)
    with mlfootprint.track(project="killed", interval_s=0.02, flush_interval_s=0.05, sensors=[sensor]) as run:
        print(run.id, flush=True)
        time.sleep(60)
""")


def _stored_samples(store: Path, run_id: str) -> int:
    import sqlite3
    from contextlib import closing

    if not store.exists():
        return 0
    with closing(sqlite3.connect(store)) as con:
        try:
            return int(con.execute("SELECT count(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0])
        except sqlite3.OperationalError:  # the store is being created
            return 0


def test_a_run_killed_with_sigkill_keeps_its_flushed_samples_and_is_interrupted(isolated_env: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    deadline = time.monotonic() + 60  # several flushes (polled: a busy machine opens the store later)
    while time.monotonic() < deadline and _stored_samples(isolated_env, run_id) < 5:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = open_store(str(isolated_env))
    record = store.get_run(run_id)
    assert record.status == "interrupted"
    samples = store.samples(run_id)
    assert len(samples) >= 5
    assert record.energy_j == pytest.approx(sum(s["energy_j"] for s in samples), rel=1e-6)
    assert record.energy_j == pytest.approx(100.0 * record.duration_s, rel=0.05)
    assert store.list_runs()[0].status == "interrupted"  # persisted, not only shown


def test_store_passwords_never_reach_a_record(isolated_env: Path) -> None:
    from mlfootprint.store import display_url

    assert display_url("postgresql+psycopg://alice:s3cret@db.example/runs") == "postgresql+psycopg://alice:***@db.example/runs"
    with mlfootprint.track(sensors=[steady(1.0)]) as run:
        pass
    assert run.record.settings["store"].value == f"sqlite:///{isolated_env}"


FORKING = textwrap.dedent("""
    import os, sys, time
    import mlfootprint
    from mlfootprint import tracker
    from mlfootprint.sensors import ScriptedSensor
    from mlfootprint.store import engine
    sensor = ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)
    with mlfootprint.track(project="forks", interval_s=0.02, flush_interval_s=0.05, sensors=[sensor]) as run:
        time.sleep(0.1)
        pid = os.fork()
        if pid == 0:  # the child exits normally: atexit runs here
            print("child sees", len(tracker._open_runs), "open runs and", len(engine.cached_urls()), "engines", flush=True)
            sys.exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.1)
    print(run.id, run.status, flush=True)
""")


def test_a_forked_child_leaves_the_parents_run_alone(isolated_env: Path) -> None:
    out = subprocess.run([sys.executable, "-c", FORKING], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "child sees 0 open runs and 0 engines" in lines
    run_id, status = lines[-1].split()
    assert status == "completed"
    record = open_store(str(isolated_env)).get_run(run_id)
    assert record.status == "completed" and record.energy_j > 0
