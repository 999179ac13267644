"""Stores written by every older version (fixtures/, made by those versions' code) are read as they are
and upgraded by a writer, one step per version, to the schema a new store gets."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import mlfootprint
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import dispose_engines, open_store
from mlfootprint.store.layout import ADDED_COLUMNS, SCHEMA_VERSION
from mlfootprint.store.migrations import STEPS

FIXTURES = Path(__file__).parent / "fixtures"
OLD_VERSIONS = list(range(1, SCHEMA_VERSION))


def fixture_copy(version: int, folder: Path) -> Path:
    path = folder / f"schema{version}.db"
    shutil.copyfile(FIXTURES / f"schema{version}.sqlite3", path)
    path.chmod(0o600)
    return path


def stored(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute(sql).fetchall()


def layout(path: Path) -> dict[str, Any]:
    """Each table's columns (type, NOT NULL, default, primary key) and index names: the schema as stored."""
    out: dict[str, Any] = {}
    with closing(sqlite3.connect(path)) as con:
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
            columns = {r[1]: (r[2].upper(), r[3], r[4], r[5]) for r in con.execute(f"PRAGMA table_info({table})")}
            indexes = {r[1] for r in con.execute(f"PRAGMA index_list({table})") if not r[1].startswith("sqlite_")}
            out[table] = (columns, indexes)
    return out


def test_there_is_a_fixture_and_an_upgrade_step_for_every_older_version() -> None:
    assert sorted(STEPS) == OLD_VERSIONS
    for v in OLD_VERSIONS:
        assert stored(FIXTURES / f"schema{v}.sqlite3", "SELECT value FROM mlfootprint_meta") == [(str(v),)]


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_an_old_store_is_read_unchanged_and_upgraded_by_a_writer_with_the_same_figures(version: int,
                                                                                        tmp_path: Path) -> None:
    path = fixture_copy(version, tmp_path)
    before = path.read_bytes()
    runs = stored(path, "SELECT id, status, energy_j, co2e_kg, duration_s FROM runs ORDER BY started_at")
    assert len(runs) >= 3 and {r[1] for r in runs} >= {"completed", "failed"}

    reader = open_store(str(path))
    listed = reader.list_runs()
    assert [(r.id, r.status, r.energy_j, r.co2e_kg) for r in reversed(listed)] == [r[:4] for r in runs]
    assert all(r.kind == "run" and r.parent_id is None for r in listed), "columns the version lacks are filled"
    records = {r[0]: reader.get_run(r[0]).to_json() for r in runs}
    for run_id, record in records.items():
        components = stored(path, f"SELECT key, energy_j FROM components WHERE run_id = '{run_id}' ORDER BY key")
        assert sorted((c["key"], c["energy_j"]) for c in record["components"]) == components
        assert record["energy_j"] == pytest.approx(sum(e for _, e in components))
        assert len(reader.samples(run_id)) == stored(path, f"SELECT count(*) FROM samples WHERE run_id = '{run_id}'")[0][0]
        if version >= 2:
            assert {p["phase"] for p in record["phases"]} >= {"train", "eval"} and record["metrics"]["loss"] == 0.25
            assert record["counts"]["samples"] == 512
        if version >= 5:
            assert record["serving"] is not None and record["serving"]["windows"] == 3
    assert path.read_bytes() == before, "a reader leaves the file as it is"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "and creates nothing beside it"

    dispose_engines()
    open_store(str(path), write=True)
    assert stored(path, "SELECT value FROM mlfootprint_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    upgraded = open_store(str(path))
    assert {r[0]: upgraded.get_run(r[0]).to_json() for r in runs} == records, "every run reads the same after the upgrade"
    assert [r.id for r in upgraded.list_runs(top_level_only=True)] == [r.id for r in listed]


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_an_upgraded_store_has_the_schema_of_a_new_one(version: int, tmp_path: Path) -> None:
    path = fixture_copy(version, tmp_path)
    open_store(str(path), write=True)
    new = tmp_path / "new.db"
    open_store(str(new), write=True)
    assert layout(path) == layout(new)


def test_each_column_a_version_added_is_listed_with_its_old_row_value(tmp_path: Path) -> None:
    """layout.ADDED_COLUMNS is what a reader fills in for an old store: exactly the columns schema 1 lacks."""
    old, new = layout(FIXTURES / "schema1.sqlite3"), layout(_new(tmp_path))
    for table, (columns, _) in new.items():
        if table not in old:
            continue
        added = set(columns) - set(old[table][0])
        assert added == set(ADDED_COLUMNS.get(table, {})), table


def _new(folder: Path) -> Path:
    path = folder / "new.db"
    open_store(str(path), write=True)
    return path


def test_a_step_half_done_by_a_crashed_writer_is_finished_by_the_next(tmp_path: Path) -> None:
    path = fixture_copy(5, tmp_path)
    with closing(sqlite3.connect(path)) as con:  # as if a writer died after the first ALTER of the 5 -> 6 step
        con.execute("ALTER TABLE runs ADD COLUMN parent_id VARCHAR(32)")
    open_store(str(path), write=True)
    assert layout(path) == layout(_new(tmp_path))


def test_a_version_2_store_shows_through_the_cli_before_and_after_a_writer(tmp_path: Path) -> None:
    path = fixture_copy(2, tmp_path)
    run_id = stored(path, "SELECT id FROM runs ORDER BY started_at LIMIT 1")[0][0]

    def show() -> dict[str, Any]:
        import json

        done = subprocess.run([sys.executable, "-m", "mlfootprint", "show", run_id, "--json", "--store", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))
    first = show()
    assert first["impact"] is None and first["co2e_kg"] > 0
    assert stored(path, "SELECT value FROM mlfootprint_meta") == [("2",)]
    open_store(str(path), write=True)
    assert show() == first


def test_a_version_5_job_is_listed_before_and_after_the_upgrade_and_new_ranks_join_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlfootprint.jobs import list_jobs
    from mlfootprint.shapes import to_json

    path = fixture_copy(5, tmp_path)
    before = [to_json(j) for j in list_jobs(open_store(str(path)))]
    assert [(j["job_id"], j["ranks"]) for j in before] == [("fixture:job1", 1)]
    monkeypatch.setenv("MLFOOTPRINT_JOB", "fixture:job1")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    sensor = ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)
    with mlfootprint.track(project="fixture-job", store=str(path), sensors=[sensor], interval_s=0.02) as run:
        time.sleep(0.05)
    assert run.wait_stored(10)
    after = [to_json(j) for j in list_jobs(open_store(str(path)))]
    assert [(j["job_id"], j["ranks"], j["world_size"]) for j in after] == [("fixture:job1", 2, 2)]


def test_a_store_of_a_newer_version_is_refused_by_readers_and_writers(tmp_path: Path) -> None:
    from mlfootprint.errors import StoreConfigError

    path = fixture_copy(5, tmp_path)
    with closing(sqlite3.connect(path)) as con:
        con.execute(f"UPDATE mlfootprint_meta SET value = '{SCHEMA_VERSION + 1}'")
        con.commit()
    before = path.read_bytes()
    for write in (False, True):
        with pytest.raises(StoreConfigError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
            open_store(str(path), write=write)
    assert path.read_bytes() == before


def test_the_5_to_6_step_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL takes the same steps (ALTER ... ADD COLUMN with a default, an index): a v5 store made by
    dropping what version 6 added, upgraded by a writer, holds its run and the new columns."""
    from sqlalchemy import create_engine, text

    writer = open_store(postgres_url, write=True)
    writer.create_run({"id": "pgv5", "project": "p", "status": "completed", "started_at": "2026-01-01T00:00:00+00:00",
                       "pue": 1.0, "intensity_g_per_kwh": 1.0, "intensity_source": "x", "scope": "machine",
                       "interval_s": 1.0, "host": "h", "pid": 1, "energy_j": 5.0})
    engine = create_engine(postgres_url)
    with engine.begin() as con:
        con.execute(text("DROP INDEX ix_runs_parent"))
        con.execute(text("DROP INDEX ix_runs_started"))
        for table, column in (("runs", "parent_id"), ("runs", "kind"), ("runs", "serving_estimate_json"),
                              ("runs", "overlaps_json"), ("components", "charged_to")):
            con.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        con.execute(text("UPDATE mlfootprint_meta SET value = '5'"))
    dispose_engines()
    reader = open_store(postgres_url)
    assert reader.get_run("pgv5").to_json()["energy_j"] == 5.0 and reader.list_runs()[0].kind == "run"
    open_store(postgres_url, write=True)
    with engine.begin() as con:
        kinds = con.execute(text("SELECT kind, parent_id FROM runs")).all()
        version = con.execute(text("SELECT value FROM mlfootprint_meta")).scalar()
    engine.dispose()
    assert kinds == [("run", None)] and version == str(SCHEMA_VERSION)
