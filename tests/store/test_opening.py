"""Opening a store for writing (opening.py): the schema checked once per process, an existing SQLite store
written through sqlite3 without SQLAlchemy, a new or older one prepared through SQLAlchemy, the same
one-line failures either way, and nothing of the parent's used by a forked child."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from mlfootprint.errors import StoreConfigError, StoreError
from mlfootprint.store import Writer, dispose_engines, open_store
from mlfootprint.store.layout import SCHEMA_VERSION
from mlfootprint.store.opening import cached_urls
from mlfootprint.store.source import AlchemySource, SqliteSource
from tests.store.test_writer import run_row

PY = sys.executable


def test_writers_share_what_they_hold_until_it_is_disposed_and_the_schema_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = open_store(str(path), write=True)
    assert isinstance(first.source, SqliteSource) and first.url in cached_urls()
    assert open_store(str(path), write=True).source is first.source
    open_store(str(path))  # a reader holds nothing
    assert cached_urls().count(first.url) == 1
    with closing(sqlite3.connect(path)) as con:  # changed behind the package's back
        con.execute("UPDATE mlfootprint_meta SET value = '99'")
        con.commit()
    open_store(str(path), write=True)  # this process trusts its earlier check
    dispose_engines(first.url)
    assert first.url not in cached_urls()
    with pytest.raises(StoreConfigError, match="schema version 99"):
        open_store(str(path), write=True)


def test_a_store_file_replaced_between_two_writers_of_a_process_is_checked_and_created_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(str(path), write=True).create_run(run_row("before"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    writer = open_store(str(path), write=True)
    writer.create_run(run_row("after"))
    assert [r.id for r in open_store(str(path)).list_runs()] == ["after"]


def test_a_forked_child_starts_without_the_parent_s_stores(tmp_path: Path) -> None:
    from mlfootprint.store import engine

    open_store(str(tmp_path / "s.db"), write=True).create_run(run_row())
    assert cached_urls() and engine.cached_urls()  # created through SQLAlchemy, written through sqlite3
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's exit handlers
        os.write(write, f"{len(cached_urls())} {len(engine.cached_urls())}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0 0"
    os.close(read)
    dispose_engines()
    assert cached_urls() == [] and engine.cached_urls() == []


def test_a_forked_child_writes_through_its_own_connection_and_leaves_the_parent_s_alone(tmp_path: Path) -> None:
    """SQLite's rule: a connection never crosses a fork. The child's copy of a writer opens its own; the
    parent's kept connection, which the child neither used nor closed, still writes."""
    path = tmp_path / "s.db"
    writer = open_store(str(path), write=True)
    writer.create_run(run_row("parent-before"))
    assert isinstance(writer.source, SqliteSource)
    kept = list(writer.source._idle)  # the connection the parent keeps (looked at here only, by a test)
    assert len(kept) == 1
    pid = os.fork()
    if pid == 0:
        try:
            assert writer.source._idle == []
            writer.create_run(run_row("child"))
            assert len(writer.source._idle) == 1 and writer.source._idle[0] is not kept[0]
            os._exit(0)
        except BaseException:
            os._exit(1)
    assert os.waitpid(pid, 0)[1] == 0
    assert writer.source._idle == kept
    writer.create_run(run_row("parent-after"))
    assert sorted(r.id for r in open_store(str(path)).list_runs()) == ["child", "parent-after", "parent-before"]
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_store_locked_longer_than_the_busy_timeout_is_waited_for_by_the_migrations_retries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long write lock (a merge) outlasts sqlite3's busy timeout: the writer does not fail to open, it
    leaves the store to migrations.prepare, which tries again (as every open did before sqlite3 wrote)."""
    import threading

    path = tmp_path / "s.db"
    open_store(str(path), write=True)
    dispose_engines()
    monkeypatch.setattr("mlfootprint.store.source.BUSY_TIMEOUT_S", 0.05)
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, holder.execute, ("ROLLBACK",))
        release.start()
        try:
            writer = open_store(str(path), write=True)
        finally:
            release.join()
    writer.create_run(run_row())
    assert [r.id for r in open_store(str(path)).list_runs()] == ["r1"]


# -- a short script ---------------------------------------------------------------------------------------
SHORT = textwrap.dedent("""
    import atexit, sys
    atexit.register(lambda: print(sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy")[:1]))
    import time, mlfootprint  # the tracker's exit handler, registered now, runs before the one above
    from mlfootprint.sensors import ScriptedSensor
    with mlfootprint.track(project="short", interval_s=0.01, flush_interval_s=0.02,
                           sensors=[ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)]) as run:
        time.sleep(0.1)  # a few flushes
    print(run.id, run.wait_stored(30), flush=True)
""")


def _short(store: Path) -> tuple[str, str]:
    """Run SHORT on `store`: (its run id, the first SQLAlchemy module loaded at exit, as a list)."""
    done = subprocess.run([PY, "-c", SHORT], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MLFOOTPRINT_STORE=str(store)))
    assert done.returncode == 0, done.stderr
    run_line, modules = done.stdout.splitlines()
    run_id, stored = run_line.split()
    assert stored == "True", done.stderr
    return run_id, modules


def test_a_run_on_an_existing_sqlite_store_never_imports_sqlalchemy(isolated_env: Path) -> None:
    first, loaded = _short(isolated_env)
    assert loaded == "['sqlalchemy']", "the first run creates the store through SQLAlchemy"
    second, loaded = _short(isolated_env)
    assert loaded == "[]", "a run on an existing store loads no part of SQLAlchemy"
    reader = open_store(str(isolated_env))
    assert [r.id for r in reader.list_runs()] == [second, first]
    for run_id in (first, second):
        record = reader.get_run(run_id)
        assert record.status == "completed" and record.energy_j > 0
        assert sum(s["energy_j"] for s in reader.samples(run_id)) == pytest.approx(record.energy_j, rel=1e-6)


def test_a_first_run_creates_the_store_with_the_schema_migrations_give(isolated_env: Path) -> None:
    """The store a first run creates is the one SQLAlchemy's DDL makes (tests/store/test_tables.py), in WAL
    mode, private, and its next writer takes it as it is."""
    _short(isolated_env)
    with closing(sqlite3.connect(isolated_env)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert con.execute("SELECT value FROM mlfootprint_meta").fetchall() == [(str(SCHEMA_VERSION),)]
        created = sorted(con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall())
    assert created == [(t,) for t in ("components", "mlfootprint_meta", "phases", "run_values", "runs", "samples",
                                      "serving_windows")]
    assert oct(isolated_env.stat().st_mode & 0o777) == "0o600"


def test_an_old_or_newer_store_is_not_taken_as_it_is(tmp_path: Path) -> None:
    """sqlite3 writes only a store at this version: an older one is upgraded first (through SQLAlchemy),
    a newer one refused, another application's database refused, untouched."""
    from tests.store.test_migrations import fixture_copy, stored

    old = fixture_copy(4, tmp_path)
    open_store(str(old), write=True).create_run(run_row(kind="experiment"))
    assert stored(old, "SELECT value FROM mlfootprint_meta") == [(str(SCHEMA_VERSION),)]
    assert stored(old, "SELECT kind FROM runs WHERE id = 'r1'") == [("experiment",)]
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as con:
        con.execute("CREATE TABLE notes (x)")
        con.commit()
    before = other.read_bytes()
    with pytest.raises(StoreConfigError, match="not an mlfootprint run store"):
        open_store(str(other), write=True)
    assert other.read_bytes() == before


# -- failures: the same line whichever way ------------------------------------------------------------------
def test_a_failed_write_says_the_same_through_sqlite3_and_sqlalchemy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    fast, slow = Writer(url), Writer(url, source=AlchemySource(url))
    assert isinstance(fast.source, SqliteSource) and isinstance(slow.source, AlchemySource)
    messages = []
    for writer in (fast, slow):
        incomplete = {k: v for k, v in run_row().items() if k != "pue"}
        with pytest.raises(StoreError) as failed:
            writer.create_run(incomplete)
        messages.append(str(failed.value))
        with pytest.raises(StoreError) as failed:
            writer.save_measured("nope", {}, [{"key": "k", "kind": "cpu", "name": "n", "method": "m", "source": "s",
                                               "uncertainty_rel": 0.1, "energy_j": 1.0}], [])
        messages.append(str(failed.value))
    assert messages[0] == messages[2] == f"run store {url!r}: NOT NULL constraint failed: runs.pue"
    assert messages[1] == messages[3] == f"run store {url!r}: FOREIGN KEY constraint failed"


def test_a_file_that_is_not_a_database_fails_to_open_with_the_same_line_as_through_sqlalchemy(tmp_path: Path) -> None:
    from mlfootprint.store.engine import get_engine
    from mlfootprint.store.failures import open_failed
    from mlfootprint.store.migrations import prepare

    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database, it is long enough to have a header of its own" * 2)
    url = f"sqlite:///{path}"
    with pytest.raises(StoreError) as failed:
        open_store(str(path), write=True)
    with pytest.raises(Exception) as through_alchemy:
        prepare(get_engine(url), url)
    assert str(failed.value) == str(open_failed(url, through_alchemy.value, path))
    assert "file is not a database; the file is not an SQLite database" in str(failed.value)
