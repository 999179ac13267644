"""`mlfootprint import` of a large spool file: peak memory and time (the reliability review's IM22, R21).

    python benchmarks/import_scale.py [--samples 1500000] [--compare-src DIR]
                                      [--out benchmarks/results/import_scale.txt]

The review imported a 179 MB spool file of 1.5 million samples at commit fff5c1d: 1.7 GB RSS, 18 s.
Here a spool file of --samples samples (one run, three channels, a sample a second, the shape a run
writes) is made once and imported into a new SQLite store by `python -m mlfootprint import`, in a
fresh process per code base: this checkout's src/, and with --compare-src another one (e.g. main
before the change: `git archive bbfc0f5 src | tar -x -C /tmp/before`, then --compare-src
/tmp/before/src). Peak RSS is the process's own (getrusage of the waited-for child).

A third process only reads and parses the same file (json.loads), which is the floor an import
built on the standard JSON parser cannot go under: the parsed file is in memory at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
PARSE_ONLY = "import json, sys\njson.loads(open(sys.argv[1], encoding='utf-8').read())"


def make_spool(path: Path, n: int) -> None:
    """A spool file as a run writes it (store/spool.py): header, run row, components, samples."""
    keys = ("gpu:0", "cpu:0", "ram:0")
    run = {"id": "bigimport0001", "project": "import-scale", "status": "completed",
           "started_at": "2026-01-01T00:00:00.000+00:00", "ended_at": "2026-01-18T08:00:00.000+00:00",
           "heartbeat_at": "2026-01-18T08:00:00.000+00:00", "duration_s": n / 3, "energy_j": 200.0 * n,
           "energy_uncertainty_j": 1.0, "facility_energy_j": 240.0 * n, "pue": 1.2, "co2e_kg": 1.0, "country": "FR",
           "region": None, "intensity_g_per_kwh": 41.4, "intensity_source": "bench", "scope": "machine",
           "interval_s": 1.0, "host": "elsewhere", "pid": 1, "command": "python train.py", "settings_json": "{}",
           "warnings_json": "[]"}
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"format": "mlfootprint-rows/1", "store": "bench", "host": "elsewhere", "pid": 1,
                            "run": run, "components": [{"key": k, "kind": k[:3], "name": k, "method": "modelled",
                                                        "source": "bench", "uncertainty_rel": 0.2,
                                                        "energy_j": 200.0 * n / 3, "note": None} for k in keys],
                            "phases": [], "values": [], "windows": []})[:-1])
        f.write(', "samples": [')
        for i in range(n):
            sample = {"t_s": float(i // 3 + 1) + 0.000123, "key": keys[i % 3], "energy_j": 200.123456,
                      "power_w": 200.123456, "phase": None}
            f.write(("," if i else "") + json.dumps(sample))
        f.write("]}")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, the last line of output) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().strip() if proc.stdout else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {out[-500:]}")
    return wall, usage.ru_maxrss / 1024, out.splitlines()[-1] if out else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_500_000)
    parser.add_argument("--compare-src", type=Path, help="another checkout's src/ folder, imported the same way")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "import_scale.txt")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "mlfootprint-run-bigimport0001.json"
        make_spool(spool, args.samples)
        size_mb = spool.stat().st_size / 1e6
        lines = [f"# python benchmarks/import_scale.py --samples {args.samples}"
                 + (f" --compare-src {args.compare_src}" if args.compare_src else ""),
                 f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                 f"{time.strftime('%Y-%m-%d')}; one run each, wall clock, machine shared with other work",
                 f"# load average at the start (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
                 f"spool file: {args.samples} samples, {size_mb:.0f} MB"]
        wall, rss, _ = timed([sys.executable, "-c", PARSE_ONLY, str(spool)], dict(os.environ))
        lines.append(f"read + json.loads only (the floor): {wall:.1f} s, peak RSS {rss:.0f} MB")
        sources = [(f"this checkout ({commit})", ROOT / "src")]
        if args.compare_src:
            sources.append((f"compared ({args.compare_src})", args.compare_src.resolve()))
        for i, (label, src) in enumerate(sources):
            store = Path(tmp) / f"store{i}.db"
            env = dict(os.environ, PYTHONPATH=str(src), MLFOOTPRINT_STORE=str(store), COLUMNS="500")
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from bytecode
            wall, rss, last = timed([sys.executable, "-m", "mlfootprint", "import", str(spool)], env)
            lines.append(f"{label}: mlfootprint import {wall:.1f} s, peak RSS {rss:.0f} MB ({last.split(' from ')[0]})")
    lines.append(f"# load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    args.out.write_text(text)


if __name__ == "__main__":
    main()
