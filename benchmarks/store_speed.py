"""What the store costs a person waiting for `runs`, `show` and `jobs`: a store of 5,000 runs, timed.

    python benchmarks/store_speed.py [--runs 5000] [--repeats 15] [--compare-src DIR]
                                     [--out benchmarks/results/store_speed.txt]

For each code base (this checkout's src/, and with --compare-src another one, e.g. main before the
store was split: `git archive bbfc0f5 src | tar -x -C /tmp/before` then --compare-src /tmp/before/src),
a store of --runs runs is filled through that code's own writer (3 components, 2 phases, 3 values and
20 samples per run; one run in ten is a rank of an 8-rank job), then timed:

* in a measuring process (each case warmed once, then timed 3 times; --repeats such processes):
  open + list the newest 20 runs (`runs`), open + list every run (the dashboard's projects page),
  open + the full record of one run (`show`), open + the newest 20 jobs (`jobs`);
* cold, median of --repeats fresh processes: import the store package, open, list 20 runs. This is
  what the store adds to a command's start (the interpreter and the CLI's own imports not counted).
  Modules load from bytecode, as an installed package's do (PYTHONDONTWRITEBYTECODE is dropped).

The code bases are timed in turns, round after round, so a change of the machine's load falls on
each alike. Wall-clock medians on the machine the file names; it is shared, so read them as rough.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]


def fill(store: str, n: int) -> None:
    from mlfootprint.record import now_iso
    from mlfootprint.store import open_store

    db = open_store(store, write=True)
    for i in range(n):
        rid = f"{i:012x}"
        job = {"job_id": f"torchrun:bench-{i // 80}", "job_rank": i % 8, "job_json": json.dumps({"world_size": 8})} \
            if i % 10 == 0 else {}
        db.create_run(dict({"id": rid, "project": f"p{i % 7}", "status": "completed", "started_at": now_iso(),
                            "pue": 1.2, "country": "FR", "region": None, "intensity_g_per_kwh": 41.4,
                            "intensity_source": "bench", "scope": "machine", "interval_s": 1.0, "host": f"h{i % 4}",
                            "pid": 1, "command": "python train.py --lr 0.1", "settings_json": json.dumps(
                                {"flush_interval_s": {"value": 5.0, "source": "default"}, "pad": "x" * 1500}),
                            "warnings_json": "[]", "duration_s": 10.0, "energy_j": 1000.0 + i,
                            "energy_uncertainty_j": 50.0, "facility_energy_j": 1200.0 + i, "co2e_kg": 1e-5}, **job))
        comps = [{"key": k, "kind": k.split(":")[0], "name": k, "method": "modelled", "source": "bench",
                  "uncertainty_rel": 0.4, "energy_j": 300.0, "note": None} for k in ("cpu:0", "ram:0", "gpu:0")]
        db.save_progress(rid, {"status": "completed"}, comps,
                         [{"t_s": float(t), "key": "gpu:0", "energy_j": 30.0, "power_w": 30.0} for t in range(20)],
                         [{"path": p, "duration_s": 5.0, "energy_j": 500.0, "gpu_energy_j": 0.0, "cpu_energy_j": 400.0,
                           "ram_energy_j": 100.0, "entries": 10, "items": 0.0} for p in ("train", "evaluation")],
                         [{"kind": "metric", "name": m, "value": 0.9} for m in ("accuracy", "loss", "f1")])


def measure(store: str, repeats: int) -> dict[str, float]:
    from mlfootprint.store import open_store

    def jobs(reader: object) -> Sequence[object]:
        try:
            from mlfootprint.jobs import list_jobs  # this checkout: the store gives raw rows
        except ImportError:
            return list(reader.list_jobs(limit=20))  # type: ignore[attr-defined]
        return list_jobs(reader, limit=20)

    run_id = open_store(store).list_runs(limit=1)[0].id
    cases = {
        "open + list 20 runs (runs)": lambda: open_store(store).list_runs(limit=20),
        "open + list every run (dashboard projects)": lambda: open_store(store).list_runs(limit=100_000),
        "open + one run's full record (show)": lambda: open_store(store).get_run(run_id),
        "open + list 20 jobs (jobs)": lambda: jobs(open_store(store)),
    }
    out = {}
    for name, fn in cases.items():
        fn()  # warm: the imports are timed cold, below
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


COLD = ("import sys, time\nt0 = time.perf_counter()\nfrom mlfootprint.store import open_store\n"
        "open_store(sys.argv[1]).list_runs(limit=20)\nprint(time.perf_counter() - t0)")


def _env(src: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from bytecode, not compiled every time
    return env


def compare(sources: list[tuple[str, Path]], runs: int, repeats: int, tmp: Path) -> list[str]:
    """Fill a store per code base, then time them in turns (one measuring process and one cold process
    each per round), so that a change of the machine's load falls on every code base alike."""
    stores, fill_s = [], []
    for i, (_, src) in enumerate(sources):
        stores.append(str(tmp / f"{i}.db"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(HERE), "--fill", stores[-1], "--runs", str(runs)], env=_env(src), check=True)
        fill_s.append(time.perf_counter() - t0)
        subprocess.run([sys.executable, "-c", COLD, stores[-1]], env=_env(src), check=True, capture_output=True)
    timings: list[dict[str, list[float]]] = [{} for _ in sources]
    cold: list[list[float]] = [[] for _ in sources]
    for _ in range(repeats):
        for i, (_, src) in enumerate(sources):
            done = subprocess.run([sys.executable, str(HERE), "--measure", stores[i], "--repeats", "3"], env=_env(src),
                                  check=True, capture_output=True, text=True)
            for name, value in json.loads(done.stdout).items():
                timings[i].setdefault(name, []).append(value)
            cold[i].append(float(subprocess.run([sys.executable, "-c", COLD, stores[i]], env=_env(src), check=True,
                                                capture_output=True, text=True).stdout))
    lines = []
    for i, (label, src) in enumerate(sources):
        lines.append(f"{label}: {src} (store filled in {fill_s[i]:.0f} s)")
        lines += [f"  {name}: {statistics.median(v) * 1000:.1f} ms" for name, v in timings[i].items()]
        lines.append(f"  cold process: import the store package + open + list 20 runs: "
                     f"{statistics.median(cold[i]) * 1000:.0f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compare-src", type=Path, help="another checkout's src/ folder, timed the same way")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "store_speed.txt")
    parser.add_argument("--fill", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        fill(args.fill, args.runs)
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats)))
        return
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"# python benchmarks/store_speed.py --runs {args.runs} --repeats {args.repeats}"
             + (f" --compare-src {args.compare_src}" if args.compare_src else ""),
             f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d')}; medians over {args.repeats} rounds, wall clock, machine shared with other work",
             f"# load average at the start (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}"]
    sources = [(f"this checkout ({commit})", ROOT / "src")]
    if args.compare_src:
        sources.append(("compared", args.compare_src.resolve()))
    with tempfile.TemporaryDirectory() as tmp:
        lines += compare(sources, args.runs, args.repeats, Path(tmp))
    lines.append(f"# load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    args.out.write_text(text)


if __name__ == "__main__":
    main()
