"""A 128-node x 8-GPU job (1,024 ranks) writing to one store, simulated and time-compressed.

    python benchmarks/job_scale.py --store postgresql+psycopg://USER@/DB?host=... [--nodes 128] [--minutes 10]
    python benchmarks/job_scale.py            # starts a throwaway PostgreSQL with .ci/postgres.sh

Each simulated rank writes what a real rank's writer thread writes (the same Store calls, the same
rows): at the default settings (a sample per second, a flush every 5 s) a flush carries 5 samples per
channel it owns (its GPU; local rank 0 also the host's CPU and RAM), its component totals, and its
phases and counts. The simulation sends the flushes of `--minutes` of job time as fast as
`--writers` concurrent connections allow, so it measures the store's capacity, and compares it with
what the job needs in real time (1,024 flushes per 5 s). Then it times `mlfootprint show JOB` (the
query and the summary, and the terminal rendering) on the full job, and the tracker's own CPU use in
one process per role (alone, a rank owning the host, a rank owning nothing) at the default interval.

Results: benchmarks/results/job_scale.txt (this machine: 2 cores, the PostgreSQL server on the same
cores as the writers — a cluster's database server would not share them).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_S = 1.0  # the defaults (config.SETTINGS)
FLUSH_S = 5.0
PHASES = ("data", "forward", "backward", "optimizer")


def rank_rows(job_id: str, rank: int, gpus_per_node: int, host: str) -> dict[str, Any]:
    local = rank % gpus_per_node
    run_id = os.urandom(6).hex()
    row = {"id": run_id, "project": "scale", "status": "running", "started_at": "2026-11-23T00:00:00+00:00",
           "pue": 1.2, "country": "FR", "region": None, "intensity_g_per_kwh": 21.7, "intensity_source": "sim",
           "scope": "machine", "interval_s": INTERVAL_S, "host": host, "pid": 1000 + rank, "command": "train.py",
           "settings_json": "{}", "warnings_json": "[]", "heartbeat_at": "2026-11-23T00:00:00+00:00",
           "job_id": job_id, "job_rank": rank,
           "job_json": (f'{{"launcher": "torchrun", "detected_from": "sim", "rank": {rank}, "local_rank": {local}, '
                        f'"world_size": {WORLD}, "local_world_size": {gpus_per_node}, '
                        f'"node_rank": {rank // gpus_per_node}, "owns": ["gpu:{local}"'
                        + (', "host"' if local == 0 else "") + "]}")}
    keys = [(f"gpu:{local}", "gpu", 700.0)] + ([("cpu:package-0", "cpu", 350.0), ("ram", "ram", 60.0)]
                                              if local == 0 else [])
    return {"run": row, "keys": keys}


WORLD = 0


def flush(db: Any, state: dict[str, Any], t_s: float, final: bool) -> float:
    """One writer flush: measured rows, then derived rows (recorder._write); returns its latency."""
    run = state["run"]
    samples, comps = [], []
    for key, kind, watts in state["keys"]:
        for i in range(int(FLUSH_S / INTERVAL_S)):
            p = watts * (0.8 + 0.4 * random.random())
            samples.append({"t_s": t_s - FLUSH_S + (i + 1) * INTERVAL_S, "key": key, "energy_j": p * INTERVAL_S,
                            "power_w": p})
            state["energy"][key] = state["energy"].get(key, 0.0) + p * INTERVAL_S
        comps.append({"key": key, "kind": kind, "name": "NVIDIA H100 80GB HBM3" if kind == "gpu" else kind,
                      "method": "simulated", "source": "scripted", "uncertainty_rel": 0.05,
                      "energy_j": state["energy"][key], "note": None})
    energy = sum(state["energy"].values())
    fields = {"status": "completed" if final else "running", "duration_s": t_s, "energy_j": energy,
              "energy_uncertainty_j": 0.05 * energy, "facility_energy_j": 1.2 * energy,
              "co2e_kg": 1.2 * energy / 3.6e6 * 0.0217, "heartbeat_at": "2026-11-23T00:00:00+00:00"}
    share = [0.05, 0.3, 0.5, 0.15]
    phases = [{"path": p, "duration_s": t_s * s * (1 + 0.02 * random.random()), "energy_j": energy * s,
               "gpu_energy_j": energy * s, "cpu_energy_j": 0.0, "ram_energy_j": 0.0, "entries": int(t_s), "items": 0.0}
              for p, s in zip(PHASES, share)]
    values = [{"kind": "count", "name": "samples", "value": 32.0 * t_s}]
    t0 = time.perf_counter()
    db.save_measured(run["id"], fields, comps, samples)
    db.save_derived(run["id"], phases, values)
    return time.perf_counter() - t0


def tracker_cpu_share(role: str, seconds: float) -> float:
    """CPU time the tracker's threads use while the host program sleeps, as a share of one core."""
    code = f"""
import os, resource, time, uuid, mlfootprint
env = {{"alone": {{}}, "host owner": {{"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}},
       "owns nothing": {{"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}}}}[{role!r}]
os.environ.update(env)
job = "bench:" + uuid.uuid4().hex if env else None
with mlfootprint.track(project="overhead", job=job) as run:
    time.sleep(1.0)  # past the start: imports and the store's creation are not steady-state overhead
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    time.sleep({seconds})
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    dt = time.monotonic() - t0
print((u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime) / dt)
"""
    env = dict(os.environ, MLFOOTPRINT_STORE=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"ovh-{uuid.uuid4().hex}.db"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def week_rollup() -> tuple[int, int, float]:
    """One channel sampled every second for a week, rolled up as a writer does: rows before and after."""
    from mlfootprint.store.rollup import plan

    week_s = 7 * 86400
    samples: list[dict[str, Any]] = [{"id": t, "key": "gpu:0", "t_s": float(t), "energy_j": 300.0 + t % 11, "power_w": 300.0 + t % 11,
                "span_s": None} for t in range(1, week_s + 1)]
    merges = plan(samples, float(week_s), INTERVAL_S)
    merged_ids = {i for m in merges for i in m.ids}
    removed = len(merged_ids)
    kept_energy = sum(m.row["energy_j"] for m in merges) + sum(
        s["energy_j"] for s in samples if s["id"] not in merged_ids)
    total = sum(s["energy_j"] for s in samples)
    return len(samples), len(samples) - removed + len(merges), abs(kept_energy - total) / total


def main() -> None:
    global WORLD
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="a PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--nodes", type=int, default=128)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0, help="job time to simulate")
    parser.add_argument("--writers", type=int, default=16, help="concurrent store connections")
    parser.add_argument("--overhead-seconds", type=float, default=20.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "job_scale.txt"))
    args = parser.parse_args()
    started_pg = None
    url = args.store
    if url is None:
        url = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh")], capture_output=True, text=True,
                             check=True).stdout.strip()
        started_pg = url
    try:
        from mlfootprint.jobs import list_jobs, summarize
        from mlfootprint.report.job_view import job_view
        from mlfootprint.store import open_store
        from rich.console import Console

        WORLD = args.nodes * args.gpus_per_node
        job_id = f"torchrun:scale-{uuid.uuid4().hex[:8]}"
        db = open_store(url, write=True)
        states = [rank_rows(job_id, r, args.gpus_per_node, f"node{r // args.gpus_per_node:03d}") for r in range(WORLD)]
        for s in states:
            s["energy"] = {}
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.writers) as pool:
            list(pool.map(lambda s: db.create_run(s["run"]), states))
        create_s = time.perf_counter() - t0
        rounds = int(args.minutes * 60 / FLUSH_S)
        latencies: list[float] = []
        rows = 0
        lock = threading.Lock()

        def one(s: dict[str, Any], t_s: float, final: bool) -> None:
            nonlocal rows
            lat = flush(db, s, t_s, final)
            with lock:
                latencies.append(lat)
                rows += len(s["keys"]) * int(FLUSH_S / INTERVAL_S) + len(s["keys"]) + len(PHASES) + 2
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.writers) as pool:
            for k in range(1, rounds + 1):
                list(pool.map(lambda s, k=k: one(s, k * FLUSH_S, k == rounds), states))
        write_s = time.perf_counter() - t0
        flushes = len(latencies)
        needed_per_s = WORLD / FLUSH_S
        capacity_per_s = flushes / write_s
        q = statistics.quantiles(latencies, n=100)

        show_times, render_times = [], []
        reader = open_store(url)
        for _ in range(3):
            t0 = time.perf_counter()
            job = summarize(job_id, reader.job_records(job_id))
            show_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            Console(file=io.StringIO(), width=120).print(job_view(job))  # as `show JOB` prints it
            render_times.append(time.perf_counter() - t0)
        assert job.ranks == WORLD and job.gpus == WORLD and len(job.nodes) == args.nodes
        list_t0 = time.perf_counter()
        listed = list_jobs(reader, limit=20)
        list_s = time.perf_counter() - list_t0

        week_raw, week_kept, week_energy_err = week_rollup()
        overhead = {role: tracker_cpu_share(role, args.overhead_seconds) for role in ("alone", "host owner",
                                                                                      "owns nothing")}
        lines = [
            f"# benchmarks/job_scale.py --nodes {args.nodes} --gpus-per-node {args.gpus_per_node} --minutes "
            f"{args.minutes:g} --writers {args.writers}",
            f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, store "
            f"{reader.backend} on the same machine; simulated sensors, time-compressed",
            f"job: {args.nodes} nodes x {args.gpus_per_node} GPUs = {WORLD} ranks; {args.minutes:g} min of job time "
            f"= {rounds} flushes per rank at flush_interval_s={FLUSH_S:g}, interval_s={INTERVAL_S:g}",
            f"run rows created: {WORLD} in {create_s:.2f} s",
            f"flushes written: {flushes} in {write_s:.1f} s = {capacity_per_s:,.0f} flushes/s; the job needs "
            f"{needed_per_s:,.0f} flushes/s in real time: headroom x{capacity_per_s / needed_per_s:.1f}",
            f"store rows written: {rows:,} = {rows / write_s:,.0f} rows/s",
            f"flush latency (one rank's measured + derived transactions): p50 {q[49] * 1000:.1f} ms, "
            f"p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms",
            f"show JOB ({WORLD} ranks): query + summary median {statistics.median(show_times):.2f} s "
            f"(target <= 2 s); terminal rendering {statistics.median(render_times):.2f} s",
            f"jobs (list of {len(listed)}): {list_s:.2f} s",
            "tracker CPU while the program sleeps, share of one core (target <= 1 %), interval_s=1, "
            f"{args.overhead_seconds:g} s each: " + ", ".join(f"{k} {v:.2%}" for k, v in overhead.items()),
            f"samples kept per channel for a week at interval_s=1 (store/rollup.py): {week_kept:,} instead of "
            f"{week_raw:,}, energy kept to {week_energy_err:.1e} relative",
        ]
        text = "\n".join(lines) + "\n"
        print(text, end="")
        Path(args.out).write_text(text)
    finally:
        if started_pg:
            subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", started_pg], check=False)


if __name__ == "__main__":
    main()
