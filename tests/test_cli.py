from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlfootprint", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200", **env), timeout=120)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("args,expected", [
    (["track", "--country", "XX", "--", "true"], "unknown country 'XX'"),
    (["track", "--pue", "0.8", "--", "true"], "invalid pue=0.8"),
    (["track", "--interval", "-1", "--", "true"], "invalid interval_s=-1.0"),
    (["track", "--region", "gcp:mars-1", "--", "true"], "unknown cloud region 'gcp:mars-1'"),
    (["track", "--", "no-such-command-xyz"], "cannot run 'no-such-command-xyz'"),
    (["show", "deadbeef"], "no run store at"),
    (["runs", "--store", "/proc/no/such/dir/runs.db"], "no run store at /proc/no/such/dir/runs.db"),
    (["runs", "--store", "/etc/passwd"], "cannot open run store"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], expected: str) -> None:
    assert expected in one_error_line(cli(*args))


def test_bad_env_and_config_file_name_their_origin(tmp_path: Path) -> None:
    assert "from MLFOOTPRINT_PUE" in one_error_line(cli("track", "--", "true", MLFOOTPRINT_PUE="-3"))
    (tmp_path / "mlfootprint.toml").write_text("pue = [\n")
    assert "cannot read config file" in one_error_line(cli("track", "--", "true"))


def test_track_streams_output_and_returns_the_exit_code(isolated_env: Path) -> None:
    proc = cli("track", "--country", "DE", "--project", "p1", "--", sys.executable, "-c",
               "print('hello from child'); raise SystemExit(3)")
    assert proc.returncode == 3
    assert "hello from child" in proc.stdout
    assert "IT energy" in proc.stderr and "CO2e" in proc.stderr
    runs = json.loads(cli("export", "--format", "json").stdout)
    assert runs[0]["status"] == "failed" and runs[0]["exit_code"] == 3 and runs[0]["project"] == "p1"
    assert runs[0]["location"]["country"] == "DE"


def test_a_command_killed_by_sigkill_is_interrupted_with_exit_137(isolated_env: Path) -> None:
    proc = cli("track", "-q", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert proc.returncode == 137
    run_id = proc.stderr.strip().splitlines()[-1]
    record = json.loads(cli("show", run_id, "--json").stdout)
    assert record["status"] == "interrupted" and record["exit_code"] == 137


def test_runs_show_export(isolated_env: Path, tmp_path: Path) -> None:
    assert cli("track", "--country", "FR", "--", "true").returncode == 0
    listing = cli("runs")
    assert listing.returncode == 0 and "completed" in listing.stdout and "FR" in listing.stdout
    run_id = listing.stdout.split("\n")[4].split()[0]
    shown = cli("show", run_id)
    assert "IT energy" in shown.stdout and "modelled" in shown.stdout
    out = tmp_path / "runs.csv"
    assert cli("export", "-o", str(out)).returncode == 0
    header, row = out.read_text().splitlines()[:2]
    assert header.startswith("id,project,status") and row.startswith(run_id)
    exported = next(csv.DictReader(out.read_text().splitlines()))
    assert float(exported["co2e_total_kg"]) > float(exported["co2e_kg"]) > 0  # total adds the embodied share
    assert float(exported["water_l"]) > 0 and exported["co2e_market_kg"] == ""  # no renewable share stated


def test_locations_lists_codes_with_sources() -> None:
    proc = cli("locations", "france")
    assert proc.returncode == 0 and "FR FRA" in proc.stdout and "ember-owid" in proc.stdout
