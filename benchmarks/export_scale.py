"""`mlfootprint export` on a store of thousands of runs: time and peak memory, CSV and JSON.

    python benchmarks/export_scale.py [--runs 5000] [--out benchmarks/results/export_scale.txt]

The review measured 9.5 s (CSV) and 10.7 s / 420 MB RSS (JSON) for 5,041 runs at commit 79c03d0
(one query per run, the whole output built in memory). The store here is filled through the API's
own writer with runs of 3 components, 2 phases and 3 values each.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fill(store: str, n: int) -> None:
    from mlfootprint.store import open_store
    from mlfootprint.record import now_iso

    db = open_store(store, write=True)
    for i in range(n):
        rid = f"{i:012x}"
        db.create_run({"id": rid, "project": f"p{i % 7}", "status": "completed", "started_at": now_iso(),
                       "pue": 1.2, "country": "FR", "region": None, "intensity_g_per_kwh": 41.4,
                       "intensity_source": "bench", "scope": "machine", "interval_s": 1.0, "host": "h", "pid": 1,
                       "command": "python train.py --lr 0.1", "settings_json": "{}", "warnings_json": "[]",
                       "duration_s": 10.0, "energy_j": 1000.0 + i, "energy_uncertainty_j": 50.0,
                       "facility_energy_j": 1200.0 + i, "co2e_kg": 1e-5})
        comps = [{"key": k, "kind": k.split(":")[0], "name": k, "method": "modelled", "source": "bench",
                  "uncertainty_rel": 0.4, "energy_j": 300.0, "note": None} for k in ("cpu:0", "ram:0", "gpu:0")]
        db.save_progress(rid, {"status": "completed"}, comps, [],
                         [{"path": p, "duration_s": 5.0, "energy_j": 500.0, "gpu_energy_j": 0.0, "cpu_energy_j": 400.0,
                           "ram_energy_j": 100.0, "entries": 10, "items": 0.0} for p in ("train", "evaluation")],
                         [{"kind": "metric", "name": m, "value": 0.9} for m in ("accuracy", "loss", "f1")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "export_scale.txt")
    args = parser.parse_args()
    lines = [f"export of {args.runs} runs (python benchmarks/export_scale.py --runs {args.runs})"]
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "runs.db")
        t0 = time.perf_counter()
        fill(store, args.runs)
        lines.append(f"filling the store: {time.perf_counter() - t0:.1f} s")
        for fmt in ("csv", "json"):
            out = Path(tmp) / f"all.{fmt}"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", "import resource, sys; from mlfootprint.cli import main; "
                                   "sys.argv = ['mlfootprint'] + sys.argv[1:]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
                                   "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)",
                                   "export", "-f", fmt, "-o", str(out), "--store", store],
                                  capture_output=True, text=True, env=dict(os.environ, MLFOOTPRINT_STORE=store))
            wall = time.perf_counter() - t0
            rss_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
            lines.append(f"export -f {fmt}: {wall:.2f} s wall, peak RSS {rss_mb:.0f} MB, {out.stat().st_size / 1e6:.1f} MB "
                         f"written ({proc.stderr.strip().splitlines()[0]})")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
