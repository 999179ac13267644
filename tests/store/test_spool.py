"""Spool and rescue files: a malformed one is one line naming it, exit 2, nothing written (R8, IM07-IM10,
IM21; R9/DV08b); devices, pipes and huge files are refused before they are read; orphans found cheaply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlfootprint.errors import MlfootprintError
from mlfootprint.store import open_store, spool
from tests.test_reliability import one_line_error

PY = sys.executable
FORMAT = spool.FORMAT


def good_payload(run_id: str = "abc123") -> dict[str, Any]:
    return {"format": FORMAT, "host": "elsewhere", "pid": 1,
            "run": {"id": run_id, "project": "p", "status": "completed", "started_at": "2026-01-01T00:00:00+00:00",
                    "pue": 1.2, "intensity_g_per_kwh": 100.0, "intensity_source": "test", "scope": "machine",
                    "interval_s": 1.0, "host": "elsewhere", "pid": 1, "duration_s": 2.0, "energy_j": 4.0},
            "components": [{"key": "cpu:0", "kind": "cpu", "name": "cpu", "method": "modelled", "source": "test",
                            "uncertainty_rel": 0.5, "energy_j": 4.0, "note": None}],
            "samples": [{"t_s": 1.0, "key": "cpu:0", "energy_j": 2.0, "power_w": 2.0},
                        {"t_s": 2, "key": "cpu:0", "energy_j": 2, "power_w": 2.0, "phase": None}]}


def import_cli(path: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "mlfootprint", "import", str(path), "--store", str(store)], capture_output=True,
                          text=True, timeout=120)


def edited(**changes: Any) -> str:
    """A good payload with some parts replaced (a path 'samples.0' addresses a list item)."""
    data = good_payload()
    for path, value in changes.items():
        target: Any = data
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return json.dumps(data)


DELETE = object()
NESTED = '{"format": "%s", "run": ' % FORMAT + "[" * 200_000 + "]" * 200_000 + "}"


@pytest.mark.parametrize("case,text,expected", [
    ("IM07 run is text", edited(run="abc"), "'run' must be an object of the run's fields, not text"),
    ("IM08 run has no id", edited(**{"run.id": DELETE}), "the run has no usable 'id'"),
    ("IM09 sample fields of the wrong type", edited(**{"samples.0": {"t_s": "abc", "key": 5, "energy_j": 1,
                                                                      "power_w": 1}}), "samples[0] must be an object"),
    ("IM10 samples is text", edited(samples="abc"), "'samples' must be a list of rows, not text"),
    ("IM21 nested 200,000 deep", NESTED, "nested too deeply"),
    ("a component that is not an object", edited(components=[3]), "components[0] must be an object, not a number"),
    ("a run field of the wrong type", edited(**{"run.energy_j": "lots"}), "run.energy_j must be a number, got 'lots'"),
    ("a run field this version does not know", edited(**{"run.colour": "red"}), "unknown to this mlfootprint"),
    ("a run without its project", edited(**{"run.project": DELETE}), "run lacks 'project'"),
    ("a status that is none", edited(**{"run.status": "sleeping"}), "run status 'sleeping' is not one of"),
    ("NaN, which standard JSON does not allow", edited(**{"run.energy_j": 1.0}).replace("4.0", "NaN"),
     "NaN is not a number standard JSON allows"),
    ("not this format", json.dumps({"format": "other", "run": {}}), "not an mlfootprint spool or rescue file"),
    ("not JSON", "{this is not json", "cannot read"),
])
def test_r8_a_malformed_spool_file_is_one_line_naming_it_and_nothing_is_written(
        case: str, text: str, expected: str, tmp_path: Path) -> None:
    bad, store = tmp_path / "mlfootprint-run-bad.json", tmp_path / "s.db"
    bad.write_text(text)
    line = one_line_error(import_cli(bad, store))
    assert str(bad) in line and expected in line, line
    assert not store.exists(), "nothing written: the store is not even created"


def test_r8_a_good_file_beside_a_bad_one_is_not_imported_either(tmp_path: Path) -> None:
    good, bad, store = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "s.db"
    good.write_text(json.dumps(good_payload()))
    bad.write_text(edited(run="abc"))
    done = subprocess.run([PY, "-m", "mlfootprint", "import", str(good), str(bad), "--store", str(store)],
                          capture_output=True, text=True, timeout=120)
    assert str(bad) in one_line_error(done) and not store.exists()


def test_r9_dv08b_a_spool_file_with_a_rank_outside_the_integer_range_imports_with_the_rank_null(tmp_path: Path) -> None:
    path, store = tmp_path / "mlfootprint-run-abc123.json", tmp_path / "s.db"
    path.write_text(edited(**{"run.job_id": "torchrun:x", "run.job_rank": 99999999999999999999999,
                              "run.job_json": "{}"}))
    done = import_cli(path, store)
    assert done.returncode == 0 and "imported run abc123 (2 new samples)" in done.stdout, done.stderr
    record = open_store(str(store)).get_run("abc123").to_json()
    assert record["job"]["rank"] is None and record["energy_j"] == 4.0
    assert any("job_rank=99999999999999999999999 does not fit" in w for w in record["warnings"])


def test_devices_pipes_folders_and_huge_files_are_refused_before_they_are_read(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # opened without O_NONBLOCK, this would wait for a writer for ever
    for path in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(MlfootprintError, match="is not a regular file"):
            spool.read(path)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(spool.MAX_FILE_BYTES + 1)  # sparse: no disk used, nothing read
    with pytest.raises(MlfootprintError, match=r"huge.json is 512 MiB, over the 512 MiB a spool file may have"):
        spool.read(huge)
    with pytest.raises(MlfootprintError, match="cannot read .*missing.json: No such file"):
        spool.read(tmp_path / "missing.json")


def test_a_checked_payload_has_float_sample_numbers_and_every_sample_column() -> None:
    from mlfootprint.store.fit import check_payload

    checked = check_payload(good_payload(), "x.json")
    assert checked["samples"][1] == {"t_s": 2.0, "key": "cpu:0", "energy_j": 2.0, "power_w": 2.0, "span_s": None,
                                     "phase": None}
    assert all(isinstance(s["t_s"], float) for s in checked["samples"])


def test_orphans_read_only_the_header_of_files_written_by_this_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    gone = int(subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    rows = {"run": {"id": "orphan1"}, "samples": [{"t_s": float(t)} for t in range(20_000)]}
    path = spool.write(url, rows)
    assert path is not None and path.read_text().startswith('{"format": "mlfootprint-rows/1", "store": ')
    assert path.stat().st_size > spool.HEAD_BYTES * 10
    assert spool.orphans(url) == [], "its writer (this process) is alive"
    text = path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {gone}', 1)
    path.write_text(text[: spool.HEAD_BYTES] + "<damaged after the header>")
    assert spool.orphans(url) == [path], "dead writer, found from the header alone"
    old_style = path.with_name("mlfootprint-run-old.json")  # files of earlier versions: header at the end
    old_style.write_text(json.dumps({"run": {"id": "old"}, "format": FORMAT, "host": spool.hostname(), "pid": gone}))
    assert spool.orphans(url) == [old_style, path]
