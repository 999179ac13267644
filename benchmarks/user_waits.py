"""Where a user waits (issue 20, point 10), measured in one run, each figure beside its target.

1. `mlfootprint runs`, `show RUN`, `jobs` on a store of N runs: wall time of the whole command.
2. A short script that tracks itself: its wall time beside the same script untracked (its record stored
   before it exits).
3. A phase marker: `with run.phase("x"): pass` beside `with contextlib.nullcontext(): pass`, in one process.
4. Dashboard pages (runs, projects, a run, compare) on a store of 10,000 runs: latency, p95.

Commands run from bytecode, as an installed package does (this machine sets PYTHONDONTWRITEBYTECODE, which
would recompile every module at every start); each command is repeated in turns and the median (p95 for
pages) is reported, with the machine's load average beside it.

    python benchmarks/user_waits.py > benchmarks/results/user_waits.txt
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
RUNS = int(os.environ.get("USER_WAITS_RUNS", "5000"))
PAGES_RUNS = int(os.environ.get("USER_WAITS_PAGE_RUNS", "10000"))
REPEATS = 7


def make_store(path: Path, n: int) -> list[str]:
    """A store of `n` completed runs (20 projects, a few phases and values each), and their ids."""
    from mlfootprint.record import ComponentRow, PhaseRow, RunRow, ValueRow
    from mlfootprint.shapes import to_json
    from mlfootprint.store import open_store

    store = open_store(str(path), write=True)
    ids = []
    for i in range(n):
        run_id = f"{i:012x}"
        ids.append(run_id)
        row = RunRow(id=run_id, project=f"project-{i % 20}", status="completed",
                     started_at=f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000+00:00", ended_at=None,
                     heartbeat_at=None, duration_s=60.0 + i % 600, energy_j=1000.0 + i, energy_uncertainty_j=50.0,
                     facility_energy_j=1560.0 + i, pue=1.56, co2e_kg=1e-4, country="FR", region=None,
                     intensity_g_per_kwh=41.4, intensity_source="Ember", scope="machine", interval_s=1.0,
                     host="node-1", pid=1000 + i, command=f"python train.py --seed {i}", exit_code=0,
                     settings_json="{}", warnings_json="[]", impact_json=None)
        store.create_run(to_json(row))
        store.save_measured(run_id, {"energy_j": row.energy_j}, [to_json(ComponentRow("cpu:0", "cpu", "CPU", "modelled", "model", 0.5,
                                                              row.energy_j))], [])
        store.save_derived(run_id, [to_json(PhaseRow("train", 50.0, 900.0, 0.0, 800.0, 100.0, 10, 0.0))],
                           [to_json(ValueRow("metric", "accuracy", 0.9))])
    return ids


def command_s(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{args} failed: {done.stderr}")
    return elapsed


def in_turns(cases: dict[str, list[str]], env: dict[str, str]) -> dict[str, float]:
    """Median wall time of each command, the commands run in turns so a change of load falls on each alike."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(REPEATS):
        for name, args in cases.items():
            times[name].append(command_s(args, env))
    return {k: statistics.median(v) for k, v in times.items()}


def marker_ratio() -> tuple[float, float]:
    """(ns per `with run.phase()`, ns per `with nullcontext()`), best of repeats, alternated."""
    import mlfootprint
    from mlfootprint.sensors import ScriptedSensor

    sensor = ScriptedSensor([(0.0, 10.0), (1e6, 10.0)], time.monotonic)
    with tempfile.TemporaryDirectory() as tmp, mlfootprint.track(
            project="marker", sensors=[sensor], store=str(Path(tmp) / "m.db"), interval_s=0.5) as run:
        def with_null() -> None:
            with contextlib.nullcontext():
                pass

        def with_marker() -> None:
            with run.phase("forward"):
                pass

        n = 50_000
        nulls, markers = [], []
        for _ in range(15):
            nulls.append(timeit.timeit(with_null, number=n) / n)
            markers.append(timeit.timeit(with_marker, number=n) / n)
    return min(markers) * 1e9, min(nulls) * 1e9


def page_latencies(store: Path, run_ids: list[str]) -> dict[str, float]:
    """p95 latency of each dashboard page, in-process through Starlette's test client."""
    from starlette.testclient import TestClient

    from mlfootprint.report.dashboard import create_app

    client = TestClient(create_app(str(store)), base_url="http://127.0.0.1")
    pages = {"runs": "/", "projects": "/projects", "run": f"/run/{run_ids[-1]}",
             "compare": f"/compare?a={run_ids[0]}&b={run_ids[-1]}"}
    out = {}
    for name, path in pages.items():
        client.get(path)  # first hit: imports, the store's engine
        times = []
        for _ in range(20):
            t = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, (path, response.status_code)
        out[name] = sorted(times)[int(0.95 * (len(times) - 1))]
    return out


def main() -> None:
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "src" / "mlfootprint")], env=ENV, check=True)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "runs.db"
        ids = make_store(store, RUNS)
        env = dict(ENV, MLFOOTPRINT_STORE=str(store), COLUMNS="120")
        cli = [PY, "-m", "mlfootprint"]
        listing = in_turns({"runs": [*cli, "runs"], "show": [*cli, "show", ids[len(ids) // 2]], "jobs": [*cli, "jobs"],
                            "python -c pass": [PY, "-c", "pass"]}, env)
        script = Path(tmp) / "short.py"
        script.write_text("import mlfootprint\nwith mlfootprint.track(project='short'):\n    pass\n")
        bare = Path(tmp) / "bare.py"
        bare.write_text("pass\n")
        short = in_turns({"tracked": [PY, str(script)], "untracked": [PY, str(bare)]},
                         dict(ENV, MLFOOTPRINT_STORE=str(Path(tmp) / "short.db")))
        stored = subprocess.run([*cli, "runs", "--project", "short"], env=dict(ENV, MLFOOTPRINT_STORE=str(
            Path(tmp) / "short.db"), COLUMNS="120"), capture_output=True, text=True)
        marker_ns, null_ns = marker_ratio()
        big = Path(tmp) / "pages.db"
        page_ids = make_store(big, PAGES_RUNS)
        pages = page_latencies(big, page_ids)
    rows = [
        ("mlfootprint runs", f"{RUNS:,} runs", listing["runs"], 0.15, "s"),
        ("mlfootprint show RUN", f"{RUNS:,} runs", listing["show"], 0.15, "s"),
        ("mlfootprint jobs", f"{RUNS:,} runs", listing["jobs"], 0.15, "s"),
        ("short tracked script minus untracked", "record stored before exit", short["tracked"] - short["untracked"],
         0.10, "s"),
        ("phase marker / with nullcontext()", f"{marker_ns:.0f} ns / {null_ns:.0f} ns", marker_ns / null_ns, 2.0, "x"),
        *((f"dashboard page {name}, p95", f"{PAGES_RUNS:,} runs", p95, 0.2, "s") for name, p95 in pages.items()),
    ]
    print(f"# where a user waits (issue 20, point 10); machine: {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    print(f"# python -c pass: {listing['python -c pass']:.3f} s; commands median of {REPEATS}, run in turns; "
          f"untracked script {short['untracked']:.3f} s, tracked {short['tracked']:.3f} s "
          f"({'stored' if 'short' in stored.stdout else 'NOT STORED'})")
    print(f"{'figure':<44} {'on':<24} {'measured':>10} {'target':>8}  met")
    for name, on, value, target, unit in rows:
        shown = f"{value:.3f} {unit}" if unit == "s" else f"{value:.2f}{unit}"
        print(f"{name:<44} {on:<24} {shown:>10} {target:>7g}{unit}  {'yes' if value <= target else 'NO'}")
    print(json.dumps({name: round(value, 4) for name, _, value, _, _ in rows}))


if __name__ == "__main__":
    main()
