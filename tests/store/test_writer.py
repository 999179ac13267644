"""The Writer: combining copies of a run never moves it back (R4), values a column cannot hold (R9),
dead runs recorded (R24), old samples rolled up."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from mlfootprint.store import open_store
from mlfootprint.store.spool import hostname

PY = sys.executable


def run_row(run_id: str = "r1", **fields: Any) -> dict[str, Any]:
    row = {"id": run_id, "project": "p", "status": "running", "started_at": "2026-01-01T00:00:00.000+00:00",
           "heartbeat_at": "2026-01-01T00:00:01.000+00:00", "pue": 1.2, "intensity_g_per_kwh": 100.0,
           "intensity_source": "test", "scope": "machine", "interval_s": 1.0, "host": "elsewhere", "pid": 1,
           "duration_s": 1.0, "energy_j": 10.0, "warnings_json": "[]"}
    return dict(row, **fields)


def payload(run: dict[str, Any], energy_j: float, n_samples: int, phase: str = "train", windows: int = 0,
            ) -> dict[str, Any]:
    """A run's rows as a spool file holds them: `energy_j` split between two components."""
    return {"run": dict(run, energy_j=energy_j),
            "components": [{"key": k, "kind": k[:3], "name": k, "method": "modelled", "source": "test",
                            "uncertainty_rel": 0.1, "energy_j": energy_j / 2, "note": None} for k in ("cpu:0", "gpu:0")],
            "phases": [{"path": phase, "duration_s": run["duration_s"], "energy_j": energy_j, "gpu_energy_j": energy_j,
                        "cpu_energy_j": 0.0, "ram_energy_j": 0.0, "entries": 1, "items": 0.0}],
            "values": [{"kind": "count", "name": "samples", "value": energy_j}],
            "windows": [{"i": i, "t_s": i + 1.0, "duration_s": 1.0, "energy_j": 1.0, "requests": 1.0, "tokens": None}
                        for i in range(windows)],
            "samples": [{"t_s": float(t), "key": "gpu:0", "energy_j": 1.0, "power_w": 1.0} for t in range(1, n_samples + 1)]}


def state(url: str, run_id: str = "r1") -> tuple[Any, ...]:
    record = open_store(url).get_run(run_id).to_json()
    return (record["status"], record["duration_s"], record["energy_j"],
            sorted((c["key"], c["energy_j"]) for c in record["components"]),
            [p["phase"] for p in record["phases"]], record["counts"], (record["serving"] or {}).get("windows"),
            len(open_store(url).samples(run_id)))


# -- R4 -------------------------------------------------------------------------------------------------
def test_r4_an_older_copy_of_a_run_changes_nothing_and_a_newer_one_updates_it(store_url: str) -> None:
    writer = open_store(store_url, write=True)
    older = payload(run_row(duration_s=0.5, heartbeat_at="2026-01-01T00:00:01.000+00:00"), 2.0, 5, "warmup", 1)
    newer = payload(run_row(status="completed", duration_s=2.0, heartbeat_at="2026-01-01T00:00:03.000+00:00",
                            ended_at="2026-01-01T00:00:03.000+00:00"), 8.0, 20, "train", 3)
    writer.import_rows(copy.deepcopy(newer))
    done = state(store_url)
    assert done == ("completed", 2.0, 8.0, [("cpu:0", 4.0), ("gpu:0", 4.0)], ["train"], {"samples": 8.0}, 3, 20)
    assert writer.import_rows(copy.deepcopy(older)) == ("r1", 0)
    assert state(store_url) == done, "an older copy moves nothing back: status, totals, components, phases, values"
    assert writer.import_rows(copy.deepcopy(newer)) == ("r1", 0)
    assert state(store_url) == done, "the same copy again is a no-op"

    other = store_url.replace("store.db", "other.db") if store_url.startswith("sqlite") else None
    if other:  # in the other order, the newer copy replaces the older one
        second = open_store(other, write=True)
        second.import_rows(copy.deepcopy(older))
        assert state(other)[:3] == ("interrupted", 0.5, 2.0)  # shown so: its 2026-01-01 heartbeat is stale
        second.import_rows(copy.deepcopy(newer))
        assert state(other) == done


@pytest.mark.parametrize("stored,incoming,newer", [
    ({"status": "running", "duration_s": 5.0}, {"status": "completed", "duration_s": 5.0}, True),
    ({"status": "completed", "duration_s": 5.0}, {"status": "running", "duration_s": 9.0}, False),  # a final word
    ({"status": "interrupted", "duration_s": 5.0}, {"status": "running", "duration_s": 9.0}, True),  # a guess, older
    ({"status": "interrupted", "duration_s": 5.0}, {"status": "running", "duration_s": 5.0}, False),
    ({"status": "running", "duration_s": 5.0, "heartbeat_at": "2026-01-01T00:00:05+00:00"},
     {"status": "running", "duration_s": 5.0, "heartbeat_at": "2026-01-01T00:00:09+00:00"}, True),
    ({"status": "running", "duration_s": 5.0, "energy_j": 3.0}, {"status": "running", "duration_s": 5.0,
                                                                  "energy_j": 4.0}, True),
    ({"status": "running", "duration_s": float("nan")}, {"status": "running", "duration_s": 1.0}, True),
])
def test_r4_which_copy_is_newer(stored: dict[str, Any], incoming: dict[str, Any], newer: bool) -> None:
    from mlfootprint.store.recency import is_newer

    assert is_newer(incoming, stored) is newer
    assert is_newer(stored, stored) is False
    assert is_newer(incoming, None) is True


def test_r4_merge_of_a_stale_copy_of_a_store_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    """The review's MG15: a completed run, a copy of the store edited back to an earlier state, merged."""
    live, stale = tmp_path / "live.db", tmp_path / "stale.db"
    env = dict(os.environ, MLFOOTPRINT_STORE=str(live))
    assert subprocess.run([PY, "-m", "mlfootprint", "track", "-q", "--", PY, "-c", "import time; time.sleep(0.3)"],
                          env=env, capture_output=True, timeout=120).returncode == 0
    shutil.copyfile(live, stale)
    with closing(sqlite3.connect(stale)) as con:
        con.execute("UPDATE runs SET status='running', duration_s=0.1, energy_j=energy_j/4, ended_at=NULL")
        con.execute("UPDATE components SET energy_j=energy_j/4")
        con.commit()

    def rows() -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(live)) as con:
            return con.execute("SELECT status, duration_s, energy_j, ended_at FROM runs").fetchall() + \
                con.execute("SELECT key, energy_j FROM components ORDER BY key").fetchall()
    before = rows()
    for _ in range(2):
        merged = subprocess.run([PY, "-m", "mlfootprint", "merge", str(stale)], env=env, capture_output=True,
                                text=True, timeout=120)
        assert merged.returncode == 0, merged.stderr
        assert rows() == before


def test_r4_import_of_an_older_spool_file_leaves_the_completed_run_as_it_was(tmp_path: Path) -> None:
    """The review's IM23, through the command: a spool file from before the run's end imported later."""
    store = tmp_path / "s.db"
    writer = open_store(str(store), write=True)
    writer.import_rows(payload(run_row(status="completed", duration_s=1.65), 3.41, 30))
    spool = tmp_path / "mlfootprint-run-r1.json"
    spool.write_text(json.dumps(dict(payload(run_row(duration_s=0.1), 0.01, 2), format="mlfootprint-rows/1")))
    done = subprocess.run([PY, "-m", "mlfootprint", "import", str(spool), "--store", str(store)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "(0 new samples)" in done.stdout, done.stderr
    assert state(str(store))[:3] == ("completed", 1.65, 3.41)


# -- R9 -------------------------------------------------------------------------------------------------
def test_r9_a_rank_outside_the_integer_range_is_stored_as_null_with_a_warning(store_url: str) -> None:
    writer = open_store(store_url, write=True)
    huge = 99999999999999999999999
    writer.create_run(run_row(job_id="torchrun:x", job_rank=huge, job_json="{}"))
    first = open_store(store_url).get_run("r1").to_json()
    assert first["job"]["rank"] is None and any("job_rank=99999999999999999999999" in w for w in first["warnings"])
    writer.save_measured("r1", {"job_rank": 2**31, "status": "completed", "exit_code": -2**40,
                                "warnings_json": json.dumps(["a warning of the run"])}, [], [])
    record = open_store(store_url).get_run("r1").to_json()
    assert record["job"]["rank"] is None and record["exit_code"] is None and record["status"] == "completed"
    assert "a warning of the run" in record["warnings"]  # the run's own warnings, and those of the last write
    assert any("job_rank=2147483648 does not fit the store's column; stored as NULL" in w for w in record["warnings"])
    assert any("exit_code=-1099511627776 does not fit" in w for w in record["warnings"])
    writer.import_rows(payload(run_row("r2", job_rank=huge, pid=2**40), 1.0, 1))
    second = open_store(store_url).get_run("r2").to_json()
    assert second["pid"] == -1 and any("pid=1099511627776" in w for w in second["warnings"])


def test_r9_fitting_keeps_what_fits_and_clips_long_text() -> None:
    from mlfootprint.store.fit import INT_MAX, fit_row
    from mlfootprint.store.schema import components, runs

    row, notes = fit_row(runs, {"pid": INT_MAX, "job_rank": INT_MAX + 1, "energy_j": 10**30, "project": "p"})
    assert row == {"pid": INT_MAX, "job_rank": None, "energy_j": 1e30, "project": "p"} and len(notes) == 1
    row, notes = fit_row(components, {"key": "k" * 100, "energy_j": 10**400})
    assert len(row["key"]) == 64 and row["key"].endswith("…") and row["energy_j"] == 0.0 and len(notes) == 2


# -- R24 ------------------------------------------------------------------------------------------------
def test_r24_dead_runs_are_recorded_as_interrupted_and_live_ones_left(store_url: str) -> None:
    from datetime import datetime, timezone

    writer = open_store(store_url, write=True)
    now = datetime.now(timezone.utc).isoformat()
    gone = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    rows = {"dead-here": run_row("dead-here", host=hostname(), pid=int(gone), started_at=now, heartbeat_at=now),
            "alive-here": run_row("alive-here", host=hostname(), pid=os.getpid(), started_at=now, heartbeat_at=now),
            "stale-there": run_row("stale-there"),  # a heartbeat of 2026-01-01 on another host
            "fresh-there": run_row("fresh-there", started_at=now, heartbeat_at=now),
            "done": run_row("done", status="completed")}
    for row in rows.values():
        writer.create_run(row)
    assert writer.mark_dead_runs() == 2
    assert writer.mark_dead_runs() == 0, "once recorded, nothing more to do"
    engine_rows = {r.id: r for r in open_store(store_url).list_runs()}
    assert {k: engine_rows[k].status for k in rows} == {"dead-here": "interrupted", "alive-here": "running",
                                                           "stale-there": "interrupted", "fresh-there": "running",
                                                           "done": "completed"}
    assert engine_rows["stale-there"].ended_at == rows["stale-there"]["heartbeat_at"]


KILLED = textwrap.dedent("""
    import time, mlfootprint
    from mlfootprint.sensors import ScriptedSensor
    with mlfootprint.track(project="killed", interval_s=0.02, flush_interval_s=0.05,
                           sensors=[ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)]) as run:
        print(run.id, flush=True)
        time.sleep(60)
""")


def test_r24_the_next_run_records_a_killed_run_as_interrupted_in_the_table(isolated_env: Path) -> None:
    child = subprocess.Popen([PY, "-c", KILLED], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()

    def raw() -> Any:
        if not isolated_env.exists():
            return None
        with closing(sqlite3.connect(isolated_env)) as con:
            try:
                return con.execute("SELECT status, ended_at, heartbeat_at FROM runs WHERE id = ?", (run_id,)).fetchone()
            except sqlite3.OperationalError:  # the store is being created
                return None
    deadline = time.monotonic() + 30
    while raw() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the run's first flush
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert raw()[0] == "running", "nothing recorded its end"
    done = subprocess.run([PY, "-m", "mlfootprint", "track", "-q", "--", PY, "-c", "pass"], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert done.returncode == 0, done.stderr
    status, ended_at, heartbeat_at = raw()
    assert status == "interrupted" and ended_at == heartbeat_at


# -- samples ---------------------------------------------------------------------------------------------
def test_the_store_rolls_up_a_runs_old_samples(isolated_env: Path) -> None:
    db = open_store(write=True)
    db.create_run(run_row(host="h"))
    rows = [{"t_s": float(t), "key": "cpu", "energy_j": 2.0, "power_w": 2.0} for t in range(1, 7201)]
    db.save_measured("r1", {"duration_s": 7200.0}, [], rows)
    removed = db.rollup_samples("r1", 1.0)
    stored = open_store().samples("r1")
    # t_s 1..3600 are an hour old: 60 minute buckets plus t=3600 alone in the 61st; the last hour as measured
    assert removed == 7200 - len(stored) and len(stored) == 3600 + 61
    assert sum(s["energy_j"] for s in stored) == pytest.approx(14400.0)


def test_a_large_import_is_inserted_in_batches_and_whole(store_url: str) -> None:
    from mlfootprint.store.writer import SAMPLE_BATCH

    n = 2 * SAMPLE_BATCH + 7
    writer = open_store(store_url, write=True)
    assert writer.import_rows(payload(run_row(), 1.0, n)) == ("r1", n)
    assert len(open_store(store_url).samples("r1")) == n
    assert writer.import_rows(payload(run_row(), 1.0, n + 3)) == ("r1", 3), "only what the store lacks"
