"""Start-up cost of a tracker in a fresh process: `import` + first start + stop, ours beside CodeCarbon.

    python benchmarks/startup.py [--runs 15] [--peer-python PATH] [--out benchmarks/results/startup.txt]

Each measurement is a new Python process (interleaved: ours, peer, ours, peer, …, so drift on a
shared machine lands on both). Inside it we time, with perf_counter:
  * host_ms: import the package, start tracking, stop it — the time the host's thread spends in
    the tracker's calls, which is what a short job, a test or a notebook cell waits for;
  * process_ms: the whole process from interpreter start to exit (as `time python -c …` sees it),
    which also counts what happens at exit (our writer finishing the record in the background).
CodeCarbon runs as an OfflineEmissionsTracker for France with its defaults otherwise (it writes
emissions.csv in a temporary folder, as we write to a store). It is installed in its own
environment (`--peer-python`, default: this interpreter) because its dependencies pin other
versions of what we use:  python -m venv /tmp/cc && /tmp/cc/bin/pip install codecarbon==3.3.2
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
from pathlib import Path

OURS = """
import time, json, sys
t0 = time.perf_counter()
import mlfootprint
run = mlfootprint.track(country="FR", store=sys.argv[1]).start()
t1 = time.perf_counter()
run.stop()
t2 = time.perf_counter()
print(json.dumps({"start_ms": (t1 - t0) * 1e3, "stop_ms": (t2 - t1) * 1e3, "host_ms": (t2 - t0) * 1e3}))
"""

PEER = """
import time, json, sys, logging
t0 = time.perf_counter()
from codecarbon import OfflineEmissionsTracker
tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=sys.argv[1], log_level="error")
tracker.start()
t1 = time.perf_counter()
tracker.stop()
t2 = time.perf_counter()
print(json.dumps({"start_ms": (t1 - t0) * 1e3, "stop_ms": (t2 - t1) * 1e3, "host_ms": (t2 - t0) * 1e3}))
"""


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_packages(python: str, package: str) -> None:
    """Byte-compile a package as an installer does, so neither side pays for compiling its source
    (an editable install, or PYTHONDONTWRITEBYTECODE=1, would otherwise recompile ours every time)."""
    subprocess.run([python, "-c", f"import compileall, importlib.util, pathlib; "
                    f"spec = importlib.util.find_spec({package!r}); "
                    f"compileall.compile_dir(str(pathlib.Path(spec.origin).parent), quiet=1)"], check=True, env=ENV)


def measure(python: str, code: str, arg: str) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", code, arg], capture_output=True, text=True, timeout=300, env=ENV)
    process_ms = (time.perf_counter() - t0) * 1e3
    if out.returncode != 0:
        raise RuntimeError(f"{python}: {out.stderr[-2000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(figures, process_ms=process_ms)


def baseline_ms(python: str, runs: int) -> float:
    """An empty interpreter's start and exit, for reading process_ms."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True, env=ENV)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def stdlib_floor_ms(python: str) -> float:
    code = ("import time; t = time.perf_counter(); import typing, logging, dataclasses, pathlib, json, threading, "
            "uuid, re, csv; print((time.perf_counter() - t) * 1e3)")
    return statistics.median(float(subprocess.run([python, "-c", code], capture_output=True, text=True, env=ENV)
                                   .stdout) for _ in range(5))


def summary(rows: list[dict[str, float]], key: str) -> str:
    values = sorted(r[key] for r in rows)
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return f"median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "startup.txt")
    args = parser.parse_args()
    ours, peer = [], []
    compile_packages(sys.executable, "mlfootprint")
    compile_packages(args.peer_python, "codecarbon")
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "runs.db")
        measure(sys.executable, OURS, store)  # the store exists, as it does for every run but a user's first
        for i in range(args.runs):
            ours.append(measure(sys.executable, OURS, store))
            peer.append(measure(args.peer_python, PEER, tmp))
        empty_ours, empty_peer = baseline_ms(sys.executable, 5), baseline_ms(args.peer_python, 5)
    peer_version = subprocess.run([args.peer_python, "-c", "import codecarbon; print(codecarbon.__version__)"],
                                  capture_output=True, text=True).stdout.strip()
    ratio = statistics.median(r["host_ms"] for r in peer) / statistics.median(r["host_ms"] for r in ours)
    lines = [
        f"start-up in a fresh process ({args.runs} runs each, interleaved; {platform.node()}, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()})",
        f"command: python benchmarks/startup.py --runs {args.runs} --peer-python {args.peer_python}",
        "",
        "mlfootprint (import + track().start() + stop(), existing SQLite store)",
        f"  host_ms     {summary(ours, 'host_ms')}",
        f"    start     {summary(ours, 'start_ms')}",
        f"    stop      {summary(ours, 'stop_ms')}",
        f"  process_ms  {summary(ours, 'process_ms')}   (an empty interpreter: {empty_ours:.1f} ms)",
        f"CodeCarbon {peer_version} (import + OfflineEmissionsTracker(country_iso_code='FRA').start() + stop())",
        f"  host_ms     {summary(peer, 'host_ms')}",
        f"    start     {summary(peer, 'start_ms')}",
        f"    stop      {summary(peer, 'stop_ms')}",
        f"  process_ms  {summary(peer, 'process_ms')}   (an empty interpreter: {empty_peer:.1f} ms)",
        "",
        f"ratio, median host_ms: CodeCarbon / mlfootprint = {ratio:.1f}",
        "target (issue 10): host_ms <= 50 ms: "
        + ("met" if statistics.median(r["host_ms"] for r in ours) <= 50 else "NOT met"),
        f"floor on this machine: importing the standard-library modules the tracker needs "
        f"(typing, logging, dataclasses, pathlib, json, threading, uuid, re, csv): {stdlib_floor_ms(sys.executable):.1f} ms "
        "(median of 5 fresh processes)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
