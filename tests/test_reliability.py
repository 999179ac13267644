"""Regression tests for the reliability review's findings (../shared/reviews/reliability.md, F1-F23).

Each test reproduces the review's case and checks the behaviour the README promises instead.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

import mlfootprint
from mlfootprint.errors import ConfigError, StoreConfigError
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import open_store

PY = sys.executable


def cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "mlfootprint", *args], capture_output=True, text=True,
                          env=dict(os.environ, **{"COLUMNS": "150", **env}), timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def steady(watts: float) -> ScriptedSensor:
    return ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic)


# -- F1: concurrent first use of a fresh store -------------------------------------------------------
def concurrent_tracks(store: str, tmp: Path, n: int = 16) -> None:
    """n `track` processes at once on a store that does not exist yet: every command runs, every run is stored."""
    procs = [subprocess.Popen([PY, "-m", "mlfootprint", "track", "-q", "--store", store, "--", PY, "-c",
                               f"open({str(tmp / f'ran-{i}')!r}, 'w').close()"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert [rc for rc, _ in results] == [0] * n, results
    assert sorted(p.name for p in tmp.glob("ran-*")) == sorted(f"ran-{i}" for i in range(n)), "every command ran"
    assert not any("Traceback" in e or "already exists" in e for _, e in results)
    assert len(open_store(store).list_runs(limit=1000)) == n, "every run is stored"


def test_f1_sixteen_tracks_on_a_fresh_sqlite_store_all_run_and_all_are_stored(tmp_path: Path) -> None:
    concurrent_tracks(str(tmp_path / "fresh" / "race.db"), tmp_path)


# -- F2: NaN metrics, counts and long names never block a save ----------------------------------------
def test_f2_a_diverged_run_is_stored_whole_with_the_nan_metric_as_null(isolated_env: Path) -> None:
    with mlfootprint.track(project="diverged", sensors=[steady(10.0)], interval_s=0.05, flush_interval_s=0.1) as run:
        for epoch in range(6):
            time.sleep(0.1)
            run.log_metrics(val_loss=0.5 if epoch < 2 else float("nan"), train_loss=float("inf"))
            run.count(tokens=float("nan"), samples=8)
            run.progress(float("nan"), 10)
    record = open_store(str(isolated_env)).get_run(run.id)
    assert record.status == "completed"
    assert record.duration_s == pytest.approx(run.duration_s) and record.duration_s > 0.55
    assert record.metrics == {"val_loss": None, "train_loss": None}
    assert record.counts == {"samples": 48.0}
    assert json.loads(cli("show", run.id, "--json").stdout)["metrics"]["val_loss"] is None


def test_f2_names_longer_than_the_columns_are_clipped_not_refused(isolated_env: Path) -> None:
    long = "x" * 300
    with mlfootprint.track(sensors=[steady(10.0)], interval_s=0.02) as run:
        with run.phase(long):
            with run.phase(long):
                time.sleep(0.05)
        run.log_metrics(**{long: 1.0, "a\x00b": 2.0})
        run.count(**{long: 3})
    record = open_store(str(isolated_env)).get_run(run.id)
    assert record.status == "completed" and record.energy_j > 0
    assert all(len(name) <= 200 for name in record.metrics) and len(record.metrics) == 2
    assert all(len(p.phase) <= 255 for p in record.phases)


def test_f2_a_sensor_returning_nan_is_a_failed_read_not_a_lost_run(isolated_env: Path, clock: Any) -> None:
    class Broken(ScriptedSensor):
        def read(self):  # type: ignore[no-untyped-def]
            return [mlfootprint.sensors.Reading(self.key, power_w=float("nan"))]

    with mlfootprint.track(sensors=[steady(10.0), Broken([(0, 1), (1, 1)], time.monotonic, key="gpu:1")],
                           interval_s=0.02) as run:
        time.sleep(0.1)
    record = open_store(str(isolated_env)).get_run(run.id)
    broken = next(c for c in record.components if c.key == "gpu:1")
    assert broken.energy_j == 0 and "not a finite number" in (broken.note or "")
    assert record.energy_j == pytest.approx(10.0 * record.duration_s, rel=0.05)


# -- F3: fork inside a tracked block --------------------------------------------------------------------
FORK_EXIT = textwrap.dedent("""
    import os, sys, time, sqlite3, mlfootprint
    from mlfootprint.sensors import ScriptedSensor
    s = ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)
    with mlfootprint.track(project="parent", interval_s=0.01, flush_interval_s=0.01, sensors=[s]) as run:
        time.sleep(0.2)
        hung = 0
        for i in range(int(sys.argv[1])):
            pid = os.fork()
            if pid == 0:
                if sys.argv[2] == "own":   # a child starting its own run
                    with mlfootprint.track(project="child", sensors=[s], interval_s=0.01):
                        time.sleep(0.02)
                    os._exit(0)
                sys.exit(0)                # unwinds through the parent's with-block
            t = time.time()
            while not os.waitpid(pid, os.WNOHANG)[0]:
                if time.time() - t > 8:
                    hung += 1; os.kill(pid, 9); os.waitpid(pid, 0); break
                time.sleep(0.005)
        mid = sqlite3.connect(os.environ["MLFOOTPRINT_STORE"]).execute(
            "select status from runs where id=?", (run.id,)).fetchall()
    print(run.id, run.status, hung, mid, flush=True)
""")


def test_f3_forked_children_leave_the_parents_run_alone_and_never_hang(isolated_env: Path) -> None:
    out = subprocess.run([PY, "-c", FORK_EXIT, "40", "exit"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    run_id, status, hung, mid = out.stdout.split(maxsplit=3)
    assert (status, hung) == ("completed", "0")
    assert "running" in mid and "failed" not in mid, "no child finished the parent's run while it ran"
    assert open_store(str(isolated_env)).get_run(run_id).status == "completed"


def test_f3_forked_children_can_store_runs_of_their_own(isolated_env: Path) -> None:
    out = subprocess.run([PY, "-c", FORK_EXIT, "12", "own"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[2] == "0"
    assert "database is locked" not in out.stderr
    # a child that leaves with os._exit right after a 20 ms run may not see its store open in time: its
    # record is then in a spool file, which the next run writing to the store imports
    assert cli("track", "-q", "--", "true").returncode == 0
    children = open_store(str(isolated_env)).list_runs(limit=100, project="child")
    assert len(children) == 12 and all(r.status == "completed" for r in children)


# -- F4, F14: user text is data: no markup, no terminal escapes, no formulas ------------------------------
@pytest.mark.parametrize("name", ["[/]", "[bold red]alert[/]", "[x for x in y]",
                                  "[link=https://evil.example]click[/link]", "\x1b[31mred\x1b]0;title\x07"])
def test_f4_f14_markup_and_escapes_in_names_are_shown_as_text(isolated_env: Path, name: str) -> None:
    tracked = cli("track", "--project", name, "--", PY, "-c", "import sys; sys.exit(3)")
    assert tracked.returncode == 3, tracked.stderr  # the command's exit code, whatever the name
    shown = cli("runs", COLUMNS="400")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    visible = name.replace("\x1b", "?").replace("\x07", "?")
    assert visible in shown.stdout and "\x1b]" not in shown.stdout and "\x1b[31m" not in shown.stdout
    run_id = open_store(str(isolated_env)).list_runs()[0].id
    assert cli("show", run_id).returncode == 0


def test_f4_a_hydra_command_line_does_not_break_runs(isolated_env: Path) -> None:
    assert cli("track", "-q", "--", PY, "-c", "import sys", "data.paths=[/data/a,/data/b]").returncode == 0
    shown = cli("runs", COLUMNS="250")
    assert shown.returncode == 0 and "data.paths=[/data/a,/data/b]" in shown.stdout


def test_f14_csv_export_never_writes_a_live_formula(isolated_env: Path) -> None:
    assert cli("track", "-q", "--project", '=HYPERLINK("http://evil","x")', "--", "true").returncode == 0
    rows = list(csv.DictReader(io.StringIO(cli("export", "-f", "csv").stdout)))
    assert rows[0]["project"] == "'=HYPERLINK(\"http://evil\",\"x\")"


# -- F5, F9, F10, F12, F20: reduce -----------------------------------------------------------------------
OK_SCRIPT = """
def train_trial(setup):
    for e in range(2):
        yield {"w": e}
def evaluate(model):
    return {"accuracy": 0.5 + 0.2 * model["w"]}
def predict(model):
    return PREDICTIONS
"""


def reduce_script(tmp: Path, body: str, name: str = "s.py") -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("extra,expected", [
    (["--json-file", "/nonexistent/x.json"], "cannot write /nonexistent/x.json"),
    (["--plot", "/nonexistent/p.png"], "cannot write /nonexistent/p.png"),
    (["--country", "XX"], "unknown country 'XX'"),
    (["--store", "/etc/passwd"], "cannot open run store"),
    (["--budget", "nan"], "--budget a positive number"),
    (["--target", "=0.9"], "invalid target '=0.9'"),
])
def test_f5_f12_reduce_refuses_bad_settings_before_any_trial(tmp_path: Path, extra: list[str], expected: str) -> None:
    script = reduce_script(tmp_path, OK_SCRIPT.replace("PREDICTIONS", "10") + "\nopen('imported', 'w')\n")
    line = one_line_error(cli("reduce", str(script), "--repeats", "1", "--strategies", "", *extra))
    assert expected in line
    assert not (tmp_path / "imported").exists() or "--target" in expected or "budget" in expected


def test_f5_reduce_with_every_trial_failed_exits_non_zero(tmp_path: Path) -> None:
    script = reduce_script(tmp_path, "def train_trial(setup):\n    raise RuntimeError('boom')\n    yield\n"
                                     "def evaluate(model):\n    return {}\n")
    proc = cli("reduce", str(script), "--repeats", "1", "--strategies", "")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # progress lines, then the error
    last = proc.stderr.strip().splitlines()[-1]
    assert "no trial ran to the end" in last and "boom" in last


def test_f9_predict_returning_zero_ends_with_a_reason(tmp_path: Path) -> None:
    script = reduce_script(tmp_path, OK_SCRIPT.replace("PREDICTIONS", "0"))
    proc = cli("reduce", str(script), "--repeats", "1", "--strategies", "", timeout=60)
    assert "returned 0 predictions" in proc.stderr + proc.stdout


@pytest.mark.parametrize("body,expected", [
    ("x = {\n", "syntax error at line 1"),
    ("raise ValueError('bad config')\n", "cannot import"),
    ("import sys\nsys.exit(3)\n", "called sys.exit(3) while being imported"),
])
def test_f10_f20_a_script_that_fails_at_import_gets_one_line(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in one_line_error(cli("reduce", str(reduce_script(tmp_path, body)), "--strategies", ""))


def test_f20_the_scripts_folder_does_not_shadow_installed_packages(tmp_path: Path) -> None:
    folder = tmp_path / "project"  # not the working directory, which `python -m` puts first on its own
    folder.mkdir()
    (folder / "matplotlib.py").write_text("raise ImportError('the local matplotlib.py was imported')\n")
    script = reduce_script(folder, OK_SCRIPT.replace("PREDICTIONS", "10"))
    proc = cli("reduce", str(script), "--repeats", "1", "--strategies", "", "--plot", str(tmp_path / "p.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p.png").stat().st_size > 0


def test_f20_a_huge_repeat_count_does_not_flood_the_output(tmp_path: Path) -> None:
    script = reduce_script(tmp_path, OK_SCRIPT.replace("PREDICTIONS", "10"))
    # "batch": strategies whose microsecond trials leave their verdicts open, so rounds run until the budget
    # ends them (a baseline alone has no verdict to wait for and stops after the rounds its spread needs)
    proc = cli("reduce", str(script), "--repeats", "1000", "--budget", "1", "--strategies", "batch")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.splitlines()) < 30 and "more trial(s) skipped" in proc.stderr


# -- F6: passwords never stored or printed -----------------------------------------------------------------
def test_f6_passwords_in_the_query_or_unparseable_urls_are_masked(isolated_env: Path) -> None:
    from mlfootprint.store.urls import display_url

    url = "postgresql+psycopg://postgres@/db?host=/tmp/x&port=5432&password=PgS3cret!"
    assert "PgS3cret" not in display_url(url) and "password=***" in display_url(url)
    assert "S3cretPW" not in one_line_error(cli("runs", "--store", "://user:S3cretPW@host/db"))
    assert display_url("postgresql://u:S3cret@PW@127.0.0.1/db") == "postgresql://u:***@127.0.0.1/db"
    assert "u:p@" not in one_line_error(cli("runs", "--store", "postgresql+psycopg://u:p@h:notaport/db"))
    with mlfootprint.track(sensors=[steady(1.0)], store=str(isolated_env)) as run:
        pass
    assert run.record.settings["store"].value == f"sqlite:///{isolated_env}"


# -- F7: a locked store neither stalls the sampler nor inflates the run ---------------------------------
LOCK = textwrap.dedent("""
    import sqlite3, sys, time
    c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None); c.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True); time.sleep(float(sys.argv[2])); c.execute("ROLLBACK")
""")


def test_f7_a_locked_store_leaves_sampling_duration_and_exit_time_alone(isolated_env: Path) -> None:
    from mlfootprint.recorder import EXIT_WAIT_S

    assert cli("track", "-q", "--", "true").returncode == 0  # the store exists
    lock_s = 3 + EXIT_WAIT_S + 3  # longer than the run and the exit's wait: the record must go to a spool file
    locker = subprocess.Popen([PY, "-c", LOCK, str(isolated_env), str(lock_s)], stdout=subprocess.PIPE, text=True)
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    t0 = time.monotonic()
    proc = cli("track", "-q", "--country", "FR", "--", "sleep", "3",
               MLFOOTPRINT_FLUSH_INTERVAL_S="0.5", MLFOOTPRINT_INTERVAL_S="0.25")
    wall_s = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert "mlfootprint import" in proc.stderr  # the user is told where the data went
    locker.wait()
    run_id = next(line for line in proc.stderr.splitlines() if len(line.strip()) == 12).strip()
    for _ in range(100):  # the wrapper's exit waited for the lock, or left a spool file to import
        try:
            record = open_store(str(isolated_env)).get_run(run_id)
            break
        except Exception:
            spooled = list(isolated_env.with_name("runs.db.spool").glob(f"*{run_id}*"))
            if spooled:
                assert cli("import", str(spooled[0])).returncode == 0
            time.sleep(0.1)
    assert record.status == "completed"
    assert record.duration_s == pytest.approx(3.0, abs=0.5), "the end is when the command ended"
    samples = open_store(str(isolated_env)).samples(run_id)
    assert len({s["t_s"] for s in samples}) >= 10, "sampling went on at 0.25 s while the store was locked"
    assert wall_s < 3 + EXIT_WAIT_S + 3, "the wrapper's exit waits a bounded time, not for the lock"


# -- F8: the Electricity Maps token stays with its host -------------------------------------------------
class _Api(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    mode = "redirect"
    other = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        _Api.seen.append(dict(self.headers))
        if _Api.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{_Api.other}/carbon-intensity/forecast?zone=DE")
            self.end_headers()
        else:
            body = json.dumps({"message": "bad token " + str(self.headers.get("auth-token"))}).encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.mark.parametrize("mode", ["redirect", "error"])
def test_f8_the_token_is_not_sent_to_another_origin_nor_echoed(mode: str) -> None:
    servers = [HTTPServer(("127.0.0.1", 0), _Api) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    _Api.seen, _Api.mode, _Api.other = [], mode, servers[1].server_port
    try:
        proc = cli("when", "--duration", "2h", "--zone", "DE", "--within", "12h", ELECTRICITYMAPS_TOKEN="TOKEN-SECRET-4242",
                   MLFOOTPRINT_ELECTRICITYMAPS_URL=f"http://127.0.0.1:{servers[0].server_port}")
    finally:
        for s in servers:
            s.shutdown()
    line = one_line_error(proc)
    assert "TOKEN-SECRET-4242" not in proc.stderr + proc.stdout
    assert len(_Api.seen) == 1, "only the configured host was contacted"
    assert ("redirect" in line) if mode == "redirect" else ("HTTP 401" in line and "***" in line)


# -- F10, F12: inputs that used to give tracebacks or nonsense ------------------------------------------
def _csv(tmp: Path, name: str, body: str) -> str:
    path = tmp / name
    path.write_text("datetime,intensity_g_per_kwh\n" + body)
    return str(path)


def test_f10_f12_f13_bad_numbers_and_series_give_one_line(tmp_path: Path) -> None:
    good = _csv(tmp_path, "good.csv", "2026-11-23T00:00Z,100\n2026-11-23T01:00Z,200\n2026-11-23T02:00Z,50\n")
    cases = [
        (["runs", "--limit", "99999999999999999999"], "--limit must be between"),
        (["runs", "--limit", "abc"], "(got 'abc')"),
        (["runs", "--limit", "0"], "--limit must be between"),
        (["when", "--duration", "99999999999999999999d", "--csv", good], "invalid duration"),
        (["when", "--duration", "1h", "--now", "9999-12-31T23:59Z", "--csv", good], "too far in the future"),
        (["when", "--duration", "1h", "--csv", good, "--energy-kwh", "nan", "--now", "2026-11-23T00:00Z"],
         "invalid --energy-kwh"),
        (["when", "--duration", "1h", "--csv", good, "--energy-kwh", "-5", "--now", "2026-11-23T00:00Z"],
         "invalid --energy-kwh"),
        (["when", "--duration", "1h", "--csv", _csv(tmp_path, "y.csv", "9999-12-31T23:00Z,100\n")], "too far"),
        (["when", "--duration", "1h", "--csv", _csv(tmp_path, "x.csv", "2026-11-23T00:00Z,100,extra,cols\n")],
         "more cells than the header"),
        (["when", "--duration", "1h", "--region", "GB"], "invalid GB Carbon Intensity API URL"),
        (["where", "--energy-kwh", "nan", "--candidates", "FR,DE"], "invalid energy"),
        (["where", "--energy-kwh", "1e308", "--candidates", "FR,DE"], "invalid energy"),
        (["where", "--energy-kwh", "10", "--candidates", "FR,DE", "--pue", "100"], "invalid pue=100"),
        (["where", "--energy-kwh", "10", "--candidates", "FR,DE", "--pue", "nan"], "invalid pue"),
        (["estimate", "--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--count", "0"], "at least 1"),
        (["estimate", "--params", "7e9", "--tokens", "1e12", "--hardware", "h100", "--layers", "-1",
          "--d-model", "4096", "--seq-len", "2048"], "layers must be a positive integer"),
        (["estimate", "--hardware", "h100", "--gpu-hours", "inf"], "--gpu-hours must be a finite number"),
        (["estimate", "--hardware", "h100", "--gpu-hours", "10", "--host-w", "nan"], "--host-w must be a finite"),
        (["track", "--pue", "abc", "--", "true"], "(got 'abc')"),
        (["track", "--intensity-csv", "", "--", "true"], "--intensity-csv is empty"),
        (["track", "--store", "postgresql+psycopg://u:p@h:notaport/db", "--", "true"], "invalid store URL"),
        (["track", "--store", "sqlite:///:memory:", "--", "true"], "in memory"),
    ]
    for args, expected in cases:
        proc = cli(*args, MLFOOTPRINT_GB_API_URL="not a url")
        assert expected in one_line_error(proc), (args, proc.stderr)


@pytest.mark.parametrize("rows,expected", [
    ("from,to,intensity_g_per_kwh\n2026-11-23T00:00Z,2026-11-23T00:30Z,100\n2026-11-23T00:15Z,2026-11-23T01:00Z,200\n",
     "overlaps"),
    ("from,to,intensity_g_per_kwh\n2026-11-23T01:00Z,2026-11-23T00:00Z,100\n", "not after it"),
])
def test_f13_overlapping_and_reversed_rows_are_refused(tmp_path: Path, rows: str, expected: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(rows)
    assert expected in one_line_error(cli("when", "--duration", "30m", "--csv", str(path)))


def test_f13_a_gap_in_a_series_is_not_bridged_with_the_last_value(tmp_path: Path) -> None:
    from mlfootprint.grid.series import from_csv, parse_time

    series = from_csv(_csv(tmp_path, "gap.csv", "2026-11-23T00:00Z,100\n2026-11-23T01:00Z,200\n"
                                                "2026-11-25T00:00Z,200\n2026-11-25T01:00Z,300\n"))
    assert series.at(parse_time("2026-11-24T00:00Z")) is None
    proc = cli("when", "--duration", "1h", "--within", "3h", "--now", "2026-11-24T00:00Z", "--csv", str(tmp_path / "gap.csv"))
    assert proc.returncode == 2 and "200 g" not in proc.stdout


def test_f13_naive_times_are_said_to_be_read_as_utc(tmp_path: Path) -> None:
    from mlfootprint.grid.series import from_csv

    assert "read as UTC" in from_csv(_csv(tmp_path, "n.csv", "2026-11-23T00:00,100\n2026-11-23T01:00,90\n")).source
    assert "read as UTC" not in from_csv(_csv(tmp_path, "z.csv", "2026-11-23T00:00Z,100\n")).source


def test_f13_a_series_that_misses_the_run_is_said_at_start(tmp_path: Path, caplog: Any) -> None:
    path = _csv(tmp_path, "old.csv", "2020-01-01T00:00Z,100\n2020-01-01T01:00Z,90\n")
    with caplog.at_level("WARNING", "mlfootprint"):
        with mlfootprint.track(intensity_csv=path, sensors=[steady(1.0)]):
            pass
    assert any("does not cover" in r.getMessage() for r in caplog.records)


# -- F11: standard JSON everywhere ------------------------------------------------------------------------
def test_f11_json_outputs_parse_strictly(isolated_env: Path) -> None:
    with mlfootprint.track(sensors=[steady(1.0)]) as run:
        run.log_metrics(loss=float("inf"))
    strict = {"parse_constant": lambda c: (_ for _ in ()).throw(ValueError(c))}
    assert json.loads(cli("show", run.id, "--json").stdout, **strict)["metrics"] == {"loss": None}
    json.loads(cli("export", "-f", "json").stdout, **strict)
    json.loads(cli("estimate", "--hardware", "h100", "--gpu-hours", "1e300", "--power-w", "1e300", "--json").stdout
               or "{}", **strict)


# -- F15: the Python API never raises into the loop -------------------------------------------------------
def test_f15_bad_argument_types_are_warned_about_not_raised(isolated_env: Path, caplog: Any) -> None:
    with caplog.at_level("WARNING", "mlfootprint"):
        with mlfootprint.track(sensors=[steady(1.0)]) as run:
            run.count(samples="abc")  # type: ignore[arg-type]
            assert run.progress("abc") is True  # type: ignore[arg-type]
            run.progress(1, total="x")  # type: ignore[arg-type]
            with run.phase(123):  # type: ignore[arg-type]
                pass
            with run.phase("x", items="x"):  # type: ignore[arg-type]
                pass
            with run.phase("a/b"):
                pass
            run.phase_enter(None)  # type: ignore[arg-type]
            run.phase_exit(5)  # type: ignore[arg-type]
    assert run.status == "completed"
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) >= 5


# -- F16: the command's processes do not outlive the wrapper unnoticed ----------------------------------
def test_f16_background_work_that_outlives_the_command_is_reported(isolated_env: Path) -> None:
    proc = cli("track", "-q", "--", "sh", "-c", "sleep 3 & exit 0")
    assert proc.returncode == 0
    assert "outlived it" in proc.stderr
    run_id = proc.stderr.strip().splitlines()[-1]
    assert any("outlived" in w for w in open_store(str(isolated_env)).get_run(run_id).warnings)


def test_f16_killing_the_wrapper_stops_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    child = f"import time, pathlib\nfor _ in range(100):\n    pathlib.Path({str(marker)!r}).touch(); time.sleep(0.1)\n"
    wrapper = subprocess.Popen([PY, "-m", "mlfootprint", "track", "-q", "--", PY, "-c", child])
    for _ in range(100):
        if marker.exists():
            break
        time.sleep(0.1)
    wrapper.send_signal(signal.SIGKILL)  # the OOM killer
    wrapper.wait()
    time.sleep(1.0)
    marker.unlink()
    time.sleep(0.5)
    assert not marker.exists(), "the command died with its wrapper"


def test_f16_sigusr1_is_passed_on_not_fatal_to_the_wrapper(tmp_path: Path) -> None:
    child = ("import signal, sys, time\nsignal.signal(signal.SIGUSR1, lambda *a: sys.exit(7))\n"
             "print('ready', flush=True)\ntime.sleep(30)\n")
    wrapper = subprocess.Popen([PY, "-m", "mlfootprint", "track", "-q", "--", PY, "-c", child],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wrapper.stdout is not None and wrapper.stdout.readline().strip() == "ready"
    wrapper.send_signal(signal.SIGUSR1)
    assert wrapper.wait(timeout=30) == 7


# -- F17, F19: store files -----------------------------------------------------------------------------
def test_f17_readers_never_create_or_change_a_store(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "runs.db"
    assert "no run store at" in one_line_error(cli("runs", "--store", str(typo)))
    assert "no run store at" in one_line_error(cli("show", "abc", "--store", str(typo)))
    assert not typo.parent.exists()


def test_f17_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE runs (name TEXT)")
    before = other.read_bytes()
    assert "not an mlfootprint run store" in one_line_error(cli("runs", "--store", str(other)))
    with pytest.raises(StoreConfigError, match="not an mlfootprint run store"):
        open_store(str(other), write=True)
    assert other.read_bytes() == before


@pytest.mark.parametrize("store", ["sqlite:///:memory:", ":memory:"])
def test_f17_an_in_memory_store_is_refused(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreConfigError, match="in memory"):
        mlfootprint.track(store=store).start()
    assert not list(tmp_path.iterdir()), "SQLite's in-memory name is not taken for a file name"


def test_f17_sqlite_url_arguments_print_no_warning(tmp_path: Path) -> None:
    proc = cli("track", "-q", "--store", f"sqlite:///{tmp_path}/q.db?timeout=5", "--", "true")
    assert proc.returncode == 0 and "Warning" not in proc.stderr


def test_f19_store_spool_and_folder_are_private(tmp_path: Path) -> None:
    store = tmp_path / "new" / "runs.db"
    with mlfootprint.track(store=str(store), sensors=[steady(1.0)]) as run:
        pass
    run.wait_stored(10)
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert oct(store.parent.stat().st_mode & 0o777) == "0o700"


# -- F18: a store deleted mid-run -------------------------------------------------------------------------
def test_f18_a_store_deleted_during_the_run_is_noticed_and_the_data_spooled(tmp_path: Path, caplog: Any) -> None:
    store = tmp_path / "gone.db"
    with caplog.at_level("WARNING", "mlfootprint"):
        with mlfootprint.track(store=str(store), sensors=[steady(5.0)], interval_s=0.02, flush_interval_s=0.05) as run:
            time.sleep(0.3)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store}{suffix}").unlink(missing_ok=True)
            time.sleep(0.2)
    assert any("deleted or replaced" in r.getMessage() for r in caplog.records)
    assert run.rescue_path is not None
    payload = json.loads(run.rescue_path.read_text())
    assert payload["run"]["energy_j"] == pytest.approx(run.energy_j)


# -- F21: messages ----------------------------------------------------------------------------------------
def test_f21_messages_keep_user_text_and_say_the_right_thing(tmp_path: Path) -> None:
    assert "':fire:'" in one_line_error(cli("track", "--country", ":fire:", "--", "true"))
    script = tmp_path / "bad-interp"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    assert "interpreter" in one_line_error(cli("track", "--", str(script)))
    store = str(tmp_path / "r.db")
    assert cli("track", "-q", "--store", store, "--", "true").returncode == 0
    assert cli("runs", "--project", "nonexist", "--store", store).stderr.startswith("no runs of project 'nonexist'")


# -- F22: export reads in batches ----------------------------------------------------------------------------
def test_f22_export_uses_a_few_queries_per_batch_not_one_per_run(isolated_env: Path) -> None:
    for _ in range(30):
        with mlfootprint.track(sensors=[steady(1.0)]):
            pass
    store = open_store(str(isolated_env))
    statements: list[str] = []
    store.source.trace = statements.append
    records = list(store.iter_records())
    assert len(records) == 30
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 8


# -- F23: the demo keeps out of the user's store ------------------------------------------------------------
def test_f23_make_demo_uses_a_store_of_its_own() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "MLFOOTPRINT_STORE" in demo or "--store" in demo


def test_f10_a_damaged_schema_version_is_one_line(isolated_env: Path) -> None:
    with mlfootprint.track(sensors=[steady(1.0)]) as run:
        pass
    assert run.wait_stored(10)
    with sqlite3.connect(isolated_env) as con:
        con.execute("UPDATE mlfootprint_meta SET value='three' WHERE key='schema_version'")
    assert "damaged schema version 'three'" in one_line_error(cli("runs"))
