"""Measurements of one machine: nested runs are charged once; unrelated runs at the same time are named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlfootprint.overlap import MachineRegistry

MLFOOTPRINT = [sys.executable, "-m", "mlfootprint"]


def test_two_unrelated_machine_scope_runs_name_each_other(tmp_path: Path) -> None:
    env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"), MLFOOTPRINT_FLUSH_INTERVAL_S="0.1")
    flag = tmp_path / "b-started"
    wait_for_b = (f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.02)\ntime.sleep(0.6)")
    machine = Path(tempfile.gettempdir()) / f"mlfootprint-{os.getuid()}" / "machine"
    before = set(machine.glob("*.lock"))  # other tests' runs may have left theirs: A's is the new one
    a = subprocess.Popen([*MLFOOTPRINT, "track", "-q", "--project", "a", "--", sys.executable, "-c", wait_for_b],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not set(machine.glob("*.lock")) - before and time.monotonic() < deadline:
        time.sleep(0.02)  # A is registered once its run has started
    b = subprocess.run([*MLFOOTPRINT, "track", "-q", "--project", "b", "--", sys.executable, "-c",
                        f"open({str(flag)!r}, 'w').close()"], env=env, capture_output=True, text=True, timeout=120)
    a_out, a_err = a.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, a_err + b.stderr
    records = json.loads(subprocess.run([*MLFOOTPRINT, "export", "--format", "json"], env=env, capture_output=True,
                                        text=True, timeout=60).stdout)
    by = {r["project"]: r for r in records}
    assert by["b"]["overlaps"] == [by["a"]["id"]], "B started while A measured: B names A"
    assert by["a"]["overlaps"] == [by["b"]["id"]], "A saw B at a flush: A names B"
    assert any("measured this machine at the same time" in w for w in by["a"]["warnings"])


def test_a_nested_run_is_not_an_overlap(tmp_path: Path) -> None:
    env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"))
    script = "import mlfootprint, time\nwith mlfootprint.track(project='inner'):\n    time.sleep(0.3)\n"
    done = subprocess.run([*MLFOOTPRINT, "track", "-q", "--project", "outer", "--", sys.executable, "-c", script],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = {r["project"]: r for r in json.loads(subprocess.run(
        [*MLFOOTPRINT, "export", "--format", "json"], env=env, capture_output=True, text=True, timeout=60).stdout)}
    outer, inner = records["outer"], records["inner"]
    assert inner["parent_id"] == outer["id"] and inner["energy_j"] == 0.0
    assert outer["overlaps"] == [] and inner["overlaps"] == []
    # the stored energy counts the machine once: the sum over both runs is the outer run's (F1)
    assert outer["energy_j"] + inner["energy_j"] == outer["energy_j"] > 0
    # `runs` lists the outer run once, its nested run counted in its line; --nested lists both
    listing = subprocess.run([*MLFOOTPRINT, "runs"], env=dict(env, COLUMNS="160"), capture_output=True, text=True,
                             timeout=60).stdout
    assert "outer (+1 nested)" in listing and outer["id"] in listing and inner["id"] not in listing
    every = subprocess.run([*MLFOOTPRINT, "runs", "--nested"], env=dict(env, COLUMNS="160"), capture_output=True,
                           text=True, timeout=60).stdout
    assert outer["id"] in every and inner["id"] in every and "nested)" not in every


def test_a_registry_entry_of_a_dead_process_is_not_alive(tmp_path: Path) -> None:
    mine = MachineRegistry("mine", "p", "t0", folder=tmp_path)
    other = subprocess.run([sys.executable, "-c", f"from mlfootprint.overlap import MachineRegistry\n"
                            f"MachineRegistry('gone', 'p', 't0', folder=__import__('pathlib').Path({str(tmp_path)!r}))"],
                           timeout=60)
    assert other.returncode == 0
    assert mine.others() == [] and not (tmp_path / "gone.lock").exists(), "a lock no process holds is cleaned up"
    alive = MachineRegistry("alive", "q", "t1", folder=tmp_path)
    assert [o.run_id for o in mine.others()] == ["alive"]
    alive.close()
    mine.close()


def test_a_short_run_between_two_flushes_is_named_by_the_long_one(tmp_path: Path) -> None:
    """B starts, finds A alive, and ends before A looks again: A still names B at its next look (B left it
    a note), and only once."""
    a = MachineRegistry("long", "p", "t0", folder=tmp_path)
    b = MachineRegistry("short", "q", "t1", folder=tmp_path)
    assert [o.run_id for o in b.others()] == ["long"]
    b.close()
    assert [(o.run_id, o.project) for o in a.others()] == [("short", "q")]
    assert a.others() == [] and not list(tmp_path.glob("long.met.*")), "the note is read once, then removed"
    a.close()
    assert not list(tmp_path.iterdir()), "nothing is left behind"
