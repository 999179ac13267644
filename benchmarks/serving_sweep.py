"""How many requests per kWh, at which concurrency, with and without dynamic batching.

    python benchmarks/serving_sweep.py [--concurrency 1 4 16] [--requests 3000] [--out benchmarks/results/serving_sweep.txt]

For each setting, runs examples/serve_fastapi.py under `mlfootprint serve` (its Prometheus counters,
2 s windows), waits through an idle window, sends `--requests` requests from `--concurrency` loopback
workers, waits for a last counter read, and stops it. Reads from the two records: the outside view
(`serve`: requests per kWh and J/request idle excluded and above idle, p50 over windows) and the
inside view (the ASGI middleware: J per request in `inference`). Writes a table and a plot
(serving_sweep.png) of requests per kWh against concurrency.

On this 2-vCPU VM the CPU energy is modelled (utilization x TDP share) and the load generator shares
the cores with the server: the curve shows the method, the figures are this machine's.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.net import free_port, wait_for  # noqa: E402  (the loopback helpers the serving tests use)


def one(concurrency: int, batching: bool, requests: int, store: str) -> dict[str, Any]:
    from mlfootprint.store import open_store

    port = free_port()
    tag = f"c{concurrency}-{'batch' if batching else 'nobatch'}"
    env = dict(os.environ, MLFOOTPRINT_STORE=store)
    server = subprocess.Popen(
        [sys.executable, "-m", "mlfootprint", "serve", "--quiet", "--project", f"outside-{tag}", "--window", "2",
         "--metrics-url", f"http://127.0.0.1:{port}/metrics", "--requests-counter", "digits_requests_total",
         "--tokens-counter", "digits_images_total", "--", sys.executable, str(ROOT / "examples" / "serve_fastapi.py"),
         "--port", str(port), "--epochs", "2", "--project", f"inside-{tag}", *(["--batching"] if batching else [])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics", timeout_s=90.0)
        time.sleep(2.5)  # an idle window
        load = subprocess.run([sys.executable, str(ROOT / "examples" / "load_digits.py"), "--port", str(port),
                               "--requests", str(requests), "--concurrency", str(concurrency)],
                              capture_output=True, text=True, check=True)
        time.sleep(2.5)
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/shutdown", data=b"{}"), timeout=5)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    db = open_store(store)
    runs = {r.project: r.id for r in db.list_runs(limit=1000)}
    outside, inside = db.get_run(runs[f"outside-{tag}"]), db.get_run(runs[f"inside-{tag}"])
    assert outside is not None and inside is not None and outside.serving is not None, tag
    s = outside.serving
    per_request = s.energy_per_request_j
    phases = {p.phase: p for p in inside.phases}
    answered = inside.counts.get("images", 0)
    inference = phases.get("request/inference")
    return {"concurrency": concurrency, "batching": batching, "requests": s.requests,
            "load": load.stdout.strip().splitlines()[-1],
            "requests_per_kwh_busy": 3.6e6 / per_request.idle_excluded if per_request.idle_excluded else None,
            "j_per_request": {"idle_included": per_request.idle_included, "idle_excluded": per_request.idle_excluded,
                              "above_idle": per_request.above_idle, "p50": per_request.p50},
            "idle_share": s.idle_share,
            "inference_j": (inference.energy_j if inference else 0.0) / answered if answered else None,
            "basis": ", ".join(sorted({c.method for c in outside.components}))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving_sweep.txt"))
    args = parser.parse_args()
    store = str(Path(tempfile.mkdtemp()) / "sweep.db")
    rows = [one(c, b, args.requests, store) for b in (False, True) for c in args.concurrency]
    lines = [f"# benchmarks/serving_sweep.py --concurrency {' '.join(map(str, args.concurrency))} --requests "
             f"{args.requests}",
             f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; examples/serve_fastapi.py "
             f"under mlfootprint serve (2 s windows); energy basis: {rows[0]['basis']}",
             f"{'batching':<9} {'conc':>4} {'requests':>8} {'req/kWh busy':>14} {'J/req idle incl':>16} "
             f"{'J/req idle excl':>16} {'J/req above idle':>17} {'J/req p50':>10} {'idle share':>10} "
             f"{'inference J/req':>16}"]
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        j = r["j_per_request"]
        lines.append(f"{'on' if r['batching'] else 'off':<9} {r['concurrency']:>4} {r['requests']:>8.0f} "
                     f"{fmt(r['requests_per_kwh_busy'], ',.0f'):>14} {fmt(j['idle_included'], '.4f'):>16} "
                     f"{fmt(j['idle_excluded'], '.4f'):>16} {fmt(j['above_idle'], '.4f'):>17} {fmt(j['p50'], '.4f'):>10} "
                     f"{fmt(r['idle_share'], '.0%'):>10} {fmt(r['inference_j'], '.4f'):>16}")
    lines += [f"load {'on' if r['batching'] else 'off'} c{r['concurrency']}: {r['load']}" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    Path(args.out).write_text(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for batching in (False, True):
            pts = [(r["concurrency"], r["requests_per_kwh_busy"]) for r in rows if r["batching"] == batching
                   and r["requests_per_kwh_busy"]]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                    label=f"dynamic batching {'on' if batching else 'off'}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel("requests per kWh (idle excluded)")
        ax.set_title(f"digits CNN on FastAPI, {os.cpu_count()} vCPUs ({rows[0]['basis']} energy)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(Path(args.out).with_suffix(".png"), dpi=110)
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
