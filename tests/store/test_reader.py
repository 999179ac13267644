"""The Reader: listings, nesting, jobs, a read-only store (R5), and what a listing costs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from mlfootprint.jobs import list_jobs
from mlfootprint.shapes import to_json
from mlfootprint.store import Reader, Writer, open_store
from mlfootprint.store.layout import BLOB_COLUMNS
from tests.store.test_writer import payload, run_row

PY = sys.executable
FIXTURES = Path(__file__).parent / "fixtures"


def nested_store(url: str) -> Writer:
    """An experiment with two trials, a run with a nested run, and a plain run."""
    writer = open_store(url, write=True)
    rows = [run_row("exp", kind="experiment", status="completed", started_at="2026-01-01T00:00:00+00:00",
                    energy_j=0.0, co2e_kg=0.0),
            run_row("trial1", parent_id="exp", status="completed", started_at="2026-01-01T00:01:00+00:00",
                    energy_j=10.0, co2e_kg=1.0),
            run_row("trial2", parent_id="exp", status="completed", started_at="2026-01-01T00:02:00+00:00",
                    energy_j=20.0, co2e_kg=2.0),
            run_row("outer", status="completed", started_at="2026-01-01T00:03:00+00:00", energy_j=50.0, co2e_kg=5.0),
            run_row("inner", parent_id="outer", status="completed", started_at="2026-01-01T00:03:10+00:00",
                    energy_j=0.0, co2e_kg=0.0),
            run_row("alone", status="completed", started_at="2026-01-01T00:04:00+00:00", energy_j=7.0, co2e_kg=0.7)]
    for row in rows:
        writer.create_run(row)
    return writer


def test_a_listing_reads_only_the_columns_it_shows_and_top_level_runs_when_asked(store_url: str) -> None:
    nested_store(store_url)
    reader = open_store(store_url)
    rows = reader.list_runs()
    assert [r.id for r in rows] == ["alone", "inner", "outer", "trial2", "trial1", "exp"]
    assert all(getattr(r, c) is None for r in rows for c in BLOB_COLUMNS if hasattr(r, c)), "a listing reads no blob"
    top = reader.list_runs(top_level_only=True)
    assert [r.id for r in top] == ["alone", "outer", "exp"] and top[2].kind == "experiment"
    assert [r.id for r in reader.list_runs(limit=2, top_level_only=True)] == ["alone", "outer"]
    assert [r.id for r in reader.children("exp")] == ["trial1", "trial2"] and reader.children("alone") == []
    totals = reader.child_totals([r.id for r in top])
    assert set(totals) == {"exp", "outer"}
    assert (totals["exp"].children, totals["exp"].energy_j, totals["exp"].co2e_kg) == (2, 30.0, 3.0)
    assert (totals["outer"].children, totals["outer"].energy_j) == (1, 0.0)
    record = reader.get_run("trial1").to_json()
    assert record["settings"] == {} and record["status"] == "completed"


def test_nesting_columns_travel_through_merge(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    nested_store(source).import_rows(payload(run_row("charged", parent_id="outer"), 4.0, 3))
    with_owner = open_store(source, write=True)
    with_owner.save_measured("charged", {}, [{"key": "gpu:0", "kind": "gpu", "name": "g", "method": "measured",
                                              "source": "t", "uncertainty_rel": 0.1, "energy_j": 4.0,
                                              "note": None, "charged_to": "outer"}], [])
    target = open_store(f"sqlite:///{tmp_path / 'b.db'}", write=True)
    for p in open_store(source).payloads():
        target.import_rows(p)
    copied = {p["run"]["id"]: p for p in open_store(target.url).payloads()}
    assert copied["trial1"]["run"]["parent_id"] == "exp" and copied["exp"]["run"]["kind"] == "experiment"
    assert copied["charged"]["components"][0]["charged_to"] == "outer" and len(copied["charged"]["samples"]) == 3


def test_jobs_are_listed_from_raw_rows_shaped_by_the_jobs_module(store_url: str) -> None:
    writer = open_store(store_url, write=True)
    for rank in range(3):
        writer.import_rows(payload(run_row(f"rank{rank}", status="completed", job_id="slurm:10", job_rank=rank,
                                           host=f"node{rank // 2}", job_json=json.dumps({"world_size": 4})),
                                   10.0, 1))
    writer.create_run(run_row("other", job_id="slurm:100", job_rank=0, status="completed"))
    reader = open_store(store_url)
    raw = reader.job_rows()
    assert [j.job_id for j in raw] == ["slurm:100", "slurm:10"] or [j.job_id for j in raw] == ["slurm:10", "slurm:100"]
    ten = next(j for j in raw if j.job_id == "slurm:10")
    assert [r["job_rank"] for r in ten.runs] == [0, 1, 2]
    assert ten.gpus == {("node0", "gpu:0"), ("node1", "gpu:0")}
    shaped = {j.job_id: to_json(j) for j in list_jobs(reader)}
    assert (shaped["slurm:10"]["ranks"], shaped["slurm:10"]["world_size"], shaped["slurm:10"]["nodes"],
            shaped["slurm:10"]["gpus"], shaped["slurm:10"]["energy_j"]) == (3, 4, 2, 2, 30.0)
    assert reader.find_job("slurm:10") == "slurm:10" and reader.find_job("slurm:1000") is None
    assert len(reader.job_records("slurm:10")) == 3


def test_the_reader_never_writes_even_when_it_shows_a_dead_run_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(str(path), write=True).create_run(run_row())  # running, with a heartbeat long gone
    before = path.read_bytes()
    reader = open_store(str(path))
    assert reader.list_runs()[0].status == "interrupted" and reader.get_run("r1").to_json()["status"] == "interrupted"
    assert path.read_bytes() == before
    assert isinstance(reader, Reader) and not hasattr(reader, "engine") and not hasattr(reader, "import_rows")
    assert set(vars(reader)) >= {"url", "display_url", "path", "tables", "columns", "source", "backend"}


LISTING = """
import sys
from mlfootprint.store import open_store
reader = open_store(sys.argv[1])
reader.list_runs(); reader.job_rows()
print(sorted(m for m in ("sqlalchemy", "psutil", "mlfootprint.jobs", "mlfootprint.impact", "mlfootprint.record")
             if m in sys.modules))
reader.get_run(reader.list_runs()[0].id)
print(sorted(m for m in ("sqlalchemy", "mlfootprint.record") if m in sys.modules))
"""


def test_a_listing_of_a_sqlite_store_loads_neither_sqlalchemy_nor_psutil_nor_records(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    nested_store(str(path))
    done = subprocess.run([PY, "-c", LISTING, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['mlfootprint.record']"]


# -- R5 ---------------------------------------------------------------------------------------------------
def _without_file_capabilities(folder: Path) -> list[str]:
    """A command prefix that runs without root's right to ignore file modes (as the review did), or skip."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: a read-only file cannot be made read-only to root")
    prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    closed = folder / "closed"
    closed.write_text("x")
    closed.chmod(0)
    probe = subprocess.run([*prefix, PY, "-c", f"open({str(closed)!r}).read()"], capture_output=True)
    closed.unlink()
    if probe.returncode == 0:
        pytest.skip("root's file capabilities could not be dropped here (setpriv had no effect)")
    return prefix


@pytest.mark.parametrize("file_mode,folder_mode", [(0o444, 0o555), (0o600, 0o555), (0o444, 0o755)])
def test_r5_a_read_only_store_can_be_listed_and_shown(tmp_path: Path, file_mode: int, folder_mode: int) -> None:
    prefix = _without_file_capabilities(tmp_path)
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "s.db"
    made = subprocess.run([PY, "-m", "mlfootprint", "track", "-q", "--store", str(store), "--", "true"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    with closing(sqlite3.connect(store)) as con:  # closed: no -wal or -shm file stays open beside the store
        run_id = con.execute("SELECT id FROM runs").fetchone()[0]
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".spool")) == ["s.db"]
    store.chmod(file_mode)
    folder.chmod(folder_mode)
    try:
        before = store.read_bytes()
        for command in (["runs"], ["show", run_id], ["jobs"], ["export", "-f", "json"]):
            done = subprocess.run([*prefix, PY, "-m", "mlfootprint", *command, "--store", str(store)],
                                  capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="150"))
            assert done.returncode == 0, (command, done.stderr)
            assert run_id in done.stdout or command == ["jobs"], command
        assert store.read_bytes() == before
    finally:
        folder.chmod(0o755)
        store.chmod(0o600)


def test_r5_a_writer_on_a_read_only_store_says_why_in_one_line(tmp_path: Path) -> None:
    prefix = _without_file_capabilities(tmp_path)
    store = tmp_path / "s.db"
    open_store(str(store), write=True)
    store.chmod(0o444)
    done = subprocess.run([*prefix, PY, "-m", "mlfootprint", "import", "--store", str(store), str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=120)
    store.chmod(0o600)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def _rows(reader: Any) -> list[str]:
    return [r.id for r in reader.list_runs()]


def test_a_fixture_store_reads_the_same_through_sqlite3_and_sqlalchemy(tmp_path: Path) -> None:
    """The two ways a reader reaches rows (source.py) run the same SQL: their answers must agree."""
    from mlfootprint.store.source import AlchemySource

    path = tmp_path / "s.db"
    shutil.copyfile(FIXTURES / "schema5.sqlite3", path)
    fast = open_store(str(path))
    slow = Reader(fast.url, source=AlchemySource(fast.url))
    assert fast.source.backend == slow.source.backend == "sqlite" and fast.source is not slow.source
    assert fast.list_runs() == slow.list_runs() and _rows(fast)
    assert [fast.get_run(i).to_json() for i in _rows(fast)] == [slow.get_run(i).to_json() for i in _rows(slow)]
    assert fast.job_rows() == slow.job_rows() and list(fast.payloads()) == list(slow.payloads())
