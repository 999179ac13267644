"""`mlfootprint fleet` over a SIMULATED fleet of 1,024 GPUs for 30 days, against a real Prometheus.

    python benchmarks/fleet_scale.py [--gpus 1024] [--days 30] [--interval 30] [--work DIR]
                                     [--out benchmarks/results/fleet_scale.txt] [--screenshot PNG]

What is simulated (and only that): the exporters. DCGM-exporter series (GPU energy counters in mJ, the
Kubernetes labels of the pod holding each GPU, none while idle) and vLLM request/token counters are
written as OpenMetrics files, backfilled into a TSDB with promtool, and served by Debian's Prometheus
2.42; `mlfootprint fleet` then queries it over HTTP as it would a production server. Teams run
multi-day 8-GPU training jobs with idle stretches between them; serving pods run for weeks; one node's
exporter is unreachable for 25 minutes (a scrape gap), one node's driver reloads (a counter reset).

Power is piecewise constant between scrapes, so the simulation knows every group's energy exactly; the
fleet figures are compared with it. Time and peak memory (RSS) of the fleet process are measured with
os.wait4, for the whole month and for one week (memory should not grow with the samples read).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.fleet.prom import Prometheus  # noqa: E402  (the same loopback Prometheus the tests start)

TEAMS = ["search", "vision", "speech", "recsys", "nlp-core", "robotics", "ads", "research-a", "research-b",
         "safety", "genai", "forecast"]
# (model, share of the GPU's TDP it draws at its busiest, requests per second at its busiest): made up
MODELS = [("llama-3-70b", 0.95, 1.6), ("llama-3-8b", 0.55, 9.0), ("mistral-7b", 0.6, 7.5), ("qwen-2-72b", 0.9, 1.4),
          ("gemma-2-9b", 0.6, 6.0)]
LOAD = {name: (power, rate) for name, power, rate in MODELS}
H100, A100 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"
CHUNK_DAYS = 3


@dataclass
class Segment:
    start: int  # sample index, inclusive
    end: int  # exclusive
    namespace: str | None
    pod: str | None
    model: str | None = None  # served model


@dataclass
class Node:
    name: str
    gpu_model: str
    segments: list[list[Segment]] = field(default_factory=list)  # per GPU


def simulate(gpus: int, samples: int, step_s: float, rng: random.Random) -> list[Node]:
    """Who holds each GPU when: 8-GPU training jobs, 1-2 GPU serving pods, idle in between."""
    nodes = []
    day = int(86400 / step_s)
    serving_nodes = max(1, gpus // 8 // 6)  # a sixth of the nodes serve models
    for n in range(gpus // 8):
        site = "eu" if n % 2 == 0 else "us"
        node = Node(f"gpu-{site}-{n:04d}", H100 if n % 4 else A100)
        if n < serving_nodes:  # one model server per GPU, redeployed every one to three weeks
            for g in range(8):
                model = MODELS[(n * 8 + g) % len(MODELS)][0]
                segs, t = [], 0
                while t < samples:
                    length = rng.randint(7 * day, 20 * day)
                    pod = f"{model}-{rng.randrange(16**6):06x}"
                    segs.append(Segment(t, min(samples, t + length), "inference", pod, model))
                    t += length + rng.randint(0, day // 4)
                node.segments.append(segs)
        else:
            segs_all: list[Segment] = []
            t = rng.randint(0, day // 2)
            while t < samples:
                length = rng.randint(day // 4, 4 * day)
                team = TEAMS[rng.randrange(len(TEAMS))]
                segs_all.append(Segment(t, min(samples, t + length), team, f"train-{team}-{rng.randrange(16**6):06x}"))
                t += length + rng.randint(0, day // 2)
            node.segments = [list(segs_all) for _ in range(8)]
        nodes.append(node)
    return nodes


def power(node: Node, segs: list[Segment], samples: int, step_s: float, rng: np.random.Generator) -> np.ndarray:
    """Watts in each scrape interval (the interval that ends at each sample)."""
    tdp = 700.0 if node.gpu_model == H100 else 400.0
    p = np.full(samples, 0.09 * tdp) + rng.normal(0, 3, samples)  # idle
    hours = (np.arange(samples) * step_s / 3600.0) % 24
    for s in segs:
        n = s.end - s.start
        if s.model:  # serving: follows the day
            diurnal = 0.45 + 0.25 * np.sin((hours[s.start:s.end] - 9) / 24 * 2 * math.pi)
            p[s.start:s.end] = tdp * (0.12 + LOAD[s.model][0] * diurnal) + rng.normal(0, 15, n)
        else:
            p[s.start:s.end] = tdp * rng.uniform(0.75, 0.92) + rng.normal(0, 20, n)
    return np.clip(p, 20.0, tdp * 1.05)


@dataclass
class Truth:
    """The simulation's own energy per group and hour, and per served model (requests too)."""

    hours: int
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    model_j: dict[str, np.ndarray] = field(default_factory=dict)
    model_requests: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, table: dict[str, np.ndarray], key: str, hour_index: np.ndarray, values: np.ndarray) -> None:
        row = table.setdefault(key, np.zeros(self.hours))
        np.add.at(row, hour_index, values)

    def window(self, table: dict[str, np.ndarray], first_hour: int, last_hour: int) -> dict[str, float]:
        return {k: float(v[first_hour:last_hour].sum()) for k, v in table.items()}


def write_chunks(nodes: list[Node], t0: float, samples: int, step_s: float, work: Path, truth: Truth,
                 seed: int) -> tuple[int, float]:
    """OpenMetrics files of CHUNK_DAYS each, backfilled one by one; returns (samples, seconds in promtool)."""
    rng = np.random.default_rng(seed)
    per_hour = int(3600 / step_s)
    # sample i closes the interval (t[i-1], t[i]]: the hour it belongs to; the first (before the data) is dropped
    hour_of = np.maximum(np.arange(samples) - 1, 0) // per_hour
    gap_node, reset_node = 17 % len(nodes), 42 % len(nodes)
    gap = (int(12 * 86400 / step_s), int(12 * 86400 / step_s + 25 * 60 / step_s))
    reset_at = int(20 * 86400 / step_s) + 7
    series: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # (name, labels, values, mask of samples kept)
    for n, node in enumerate(nodes):
        for g, segs in enumerate(node.segments):
            p = power(node, segs, samples, step_s, rng)
            joules = p * step_s  # in the interval that each sample closes
            counted = joules.copy()
            counted[0] = 0.0  # the interval before the first sample is not in the period
            counter = 4.0e9 + np.cumsum(joules * 1000.0)  # mJ since the driver loaded, long before the data
            if n == reset_node:
                counter[reset_at:] = np.cumsum(joules[reset_at:] * 1000.0)
            keep = np.ones(samples, dtype=bool)
            if n == gap_node:
                keep[gap[0]:gap[1]] = False
            base = f'Hostname="{node.name}",gpu="{g}",UUID="GPU-{n:04d}{g}",modelName="{node.gpu_model}"'
            covered = np.zeros(samples, dtype=bool)
            for s in segs:
                labels = f'{base},namespace="{s.namespace}",pod="{s.pod}",container="main"'
                mask = np.zeros(samples, dtype=bool)
                mask[s.start:s.end] = True
                covered |= mask
                series.append(("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, counter, mask & keep))
                key = s.namespace or "unallocated"
                truth.add(truth.groups, key, hour_of[s.start:s.end], counted[s.start:s.end])
                if s.model:
                    truth.add(truth.model_j, s.model, hour_of[s.start:s.end], counted[s.start:s.end])
            idle = ~covered
            series.append(("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", base, counter, idle & keep))
            truth.add(truth.groups, "unallocated", hour_of[idle], counted[idle])
        # the model servers' counters: one vLLM per serving pod
        for s in (seg for segs in node.segments for seg in segs if seg.model):
            hours = (np.arange(s.start, s.end) * step_s / 3600.0) % 24
            rate = LOAD[s.model or ""][1] * (0.45 + 0.25 * np.sin((hours - 9) / 24 * 2 * math.pi))  # requests/s
            requests = np.floor(np.cumsum(rate * step_s))
            truth.add(truth.model_requests, s.model or "", hour_of[s.start:s.end], np.diff(np.concatenate([[0.0], requests])))
            labels = f'namespace="inference",pod="{s.pod}",model_name="{s.model}"'
            for name, values in (("vllm:request_success_total", requests), ("vllm:generation_tokens_total",
                                                                              requests * 210.0)):
                full = np.zeros(samples)
                full[s.start:s.end] = values
                mask = np.zeros(samples, dtype=bool)
                mask[s.start:s.end] = True
                series.append((name, labels, full, mask))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed (Debian: apt-get install prometheus)"
    chunk = int(CHUNK_DAYS * 86400 / step_s)
    stamps = [f"{t0 + i * step_s:.0f}" for i in range(samples)]
    total, tool_s = 0, 0.0
    for first in range(0, samples, chunk):
        last = min(samples, first + chunk)
        path = work / "chunk.om"
        with path.open("w") as out:
            for name in ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "vllm:request_success_total",
                         "vllm:generation_tokens_total"):
                for metric, labels, values, mask in series:
                    if metric != name:
                        continue
                    idx = np.nonzero(mask[first:last])[0] + first
                    if not len(idx):
                        continue
                    prefix = f"{name}{{{labels}}} "
                    text = [f"{prefix}{v:.0f} {stamps[i]}" for i, v in zip(idx.tolist(), values[idx].tolist())]
                    out.write("\n".join(text))
                    out.write("\n")
                    total += len(text)
            out.write("# EOF\n")
        began = time.perf_counter()
        done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                               "--max-block-duration=2000h", str(path), str(work / "tsdb")], capture_output=True,
                              text=True)
        tool_s += time.perf_counter() - began
        assert done.returncode == 0, done.stderr[-2000:]
        path.unlink()
    return total, tool_s


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fleet_run(url: str, prometheus_pid: int, *args: str) -> dict:
    """One `mlfootprint fleet --json` process: its result, wall time, peak RSS (VmHWM, read from /proc while
    it runs: a fork's inherited high-water mark would not be its own), its CPU time and Prometheus'."""
    out_file, err_file = tempfile.TemporaryFile(mode="w+"), tempfile.TemporaryFile(mode="w+")
    load = os.getloadavg()[0]
    prom_before = cpu_s(prometheus_pid)
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mlfootprint", "fleet", "--prometheus", url, "--json", *args],
                            stdout=out_file, stderr=err_file)
    hwm_kib = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm_kib = max(hwm_kib, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    prom_cpu = cpu_s(prometheus_pid) - prom_before
    out_file.seek(0)
    err_file.seek(0)
    if proc.returncode != 0:
        raise SystemExit(f"fleet failed: {err_file.read()[-3000:]}")
    import resource

    own_cpu = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime"))
    return {"result": json.loads(out_file.read()), "seconds": seconds, "rss_mib": hwm_kib / 1024,
            "prometheus_cpu_s": prom_cpu, "children_cpu_s": own_cpu, "load": (load + os.getloadavg()[0]) / 2}


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def rel(got: float, want: float) -> str:
    return f"{(got - want) / want:+.3%}" if want else "n/a"


README_BEGIN, README_END = "<!-- fleet-scale:begin (benchmarks/fleet_scale.py) -->", "<!-- fleet-scale:end -->"


def readme_block(results: str) -> str:
    """The README's "At scale" paragraph, every figure read from the results file (tests/fleet/test_readme.py
    checks the README holds exactly this; `--readme` writes it)."""
    import re

    def grab(pattern: str) -> tuple[str, ...]:
        m = re.search(pattern, results, re.MULTILINE)
        if m is None:
            raise SystemExit(f"fleet_scale.txt: no line matches {pattern!r}: rerun benchmarks/fleet_scale.py")
        return m.groups()

    def run(label: str) -> tuple[str, ...]:
        return grab(rf"^{re.escape(label)}\s+([\d.]+)s\s+(\d+) MiB\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)")

    gpus, nodes, days, interval, samples = grab(r"^(\d+) GPUs on (\d+) nodes, (\d+) days at a ([\d.]+)-s scrape "
                                                r"interval: ([\d,]+) samples")
    cold, warm = run(f"{days} days, --by namespace (first call: cold page cache)"), run(f"{days} days, --by namespace (again)")
    week = run("7 days, --by namespace")
    served = run(f"{days} days, --serving vllm, --places (the report's data)")
    total, truth, err = grab(r"total IT energy ([\d,.]+) MWh, simulated ([\d,.]+) MWh \(([-+\d.]+%)\)")
    worst, = grab(r"largest difference ([\d.]+%)")
    gaps, resets = grab(r"scrape gaps found: (\d+) .*counter resets found: (\d+)")
    loads = [float(x[4]) for x in (cold, warm, week, served)]
    return (f"{README_BEGIN}\n**At scale** (`benchmarks/fleet_scale.py`, data SIMULATED: DCGM and vLLM exporters for "
            f"{int(gpus):,} GPUs on {nodes} nodes over {days} days at a {interval}-s scrape, {samples} samples in "
            f"Debian's Prometheus 2.42 on the same 2-vCPU machine, shared with other work at a load average of "
            f"{min(loads):g}-{max(loads):g}): one `fleet` call over the month took {cold[0]} s cold and {warm[0]} s "
            f"again (CPU: {warm[2]} s for mlfootprint, {warm[3]} s for Prometheus), at {warm[1]} MiB peak RSS against "
            f"{week[1]} MiB for one week (memory follows the series seen, not the samples); with `--serving vllm` and "
            f"two sites, {served[0]} s. The month's IT energy came out at {total} MWh against the simulation's own "
            f"integral of {truth} MWh ({err}), the largest difference in a group {worst}; the simulated 25-minute "
            f"scrape gap and driver reload were found on each of their GPUs ({gaps} gaps, {resets} resets).\n"
            f"{README_END}")


def write_readme(results: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(results) + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=1024)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=float, default=30.0, help="scrape interval, seconds")
    parser.add_argument("--work", type=Path, default=None, help="where the TSDB goes (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fleet_scale.txt")
    parser.add_argument("--screenshot", type=Path, default=None, help="also render the month's report and save a "
                                                                     "screenshot of it (headless Chromium)")
    parser.add_argument("--readme", action="store_true", help="only rewrite the README's paragraph from --out")
    args = parser.parse_args()
    if args.readme:
        write_readme(args.out.read_text(encoding="utf-8"))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="fleet-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    samples = int(args.days * 86400 / args.interval)
    t0 = math.floor(time.time() / 86400) * 86400 - (args.days + 1) * 86400  # whole days, ending yesterday
    rng = random.Random(args.seed)
    nodes = simulate(args.gpus, samples, args.interval, rng)
    truth = Truth(int(args.days * 24))
    lines = [f"mlfootprint fleet over a SIMULATED fleet (python benchmarks/fleet_scale.py --gpus {args.gpus} "
             f"--days {args.days} --interval {args.interval:g})",
             f"machine: {os.cpu_count()} CPU(s) ({platform.processor() or platform.machine()}), shared with other "
             "work; Prometheus 2.42 (Debian) on the same machine, loopback HTTP",
             "data: SIMULATED exporters (DCGM-exporter GPU energy counters in mJ with Kubernetes labels, vLLM request "
             "and token counters); Prometheus, promtool and the fleet command are real"]
    began = time.perf_counter()
    tsdb = work / "tsdb"
    reused = tsdb.exists()
    if not reused:
        count, tool_s = write_chunks(nodes, t0, samples, args.interval, work, truth, args.seed)
        (work / "truth.npz").parent.mkdir(exist_ok=True)
        arrays: dict[str, Any] = {**{f"g:{k}": v for k, v in truth.groups.items()},
                                  **{f"m:{k}": v for k, v in truth.model_j.items()},
                                  **{f"r:{k}": v for k, v in truth.model_requests.items()},
                                  "t0": np.array([t0]), "count": np.array([count]), "tool_s": np.array([tool_s]),
                                  "build_s": np.array([time.perf_counter() - began])}
        np.savez(work / "truth.npz", **arrays)
    saved = np.load(work / "truth.npz")
    t0, count, tool_s = float(saved["t0"][0]), int(saved["count"][0]), float(saved["tool_s"][0])
    build_s = float(saved["build_s"][0]) if "build_s" in saved.files else None
    truth.groups = {k[2:]: saved[k] for k in saved.files if k.startswith("g:")}
    truth.model_j = {k[2:]: saved[k] for k in saved.files if k.startswith("m:")}
    truth.model_requests = {k[2:]: saved[k] for k in saved.files if k.startswith("r:")}
    size = sum(f.stat().st_size for f in tsdb.rglob("*") if f.is_file())
    built = f"built in {build_s:.0f} s" if build_s is not None else "built"
    lines.append(f"{args.gpus} GPUs on {args.gpus // 8} nodes, {args.days} days at a {args.interval:g}-s scrape "
                 f"interval: {count:,} samples, TSDB {size / 2**20:,.0f} MiB; {built} (promtool {tool_s:.0f} s)"
                 + (f", reused from {work} (same seed)" if reused else ""))
    server = Prometheus(tsdb, extra=["--storage.tsdb.max-block-duration=2h", "--query.max-concurrency=8"])
    try:
        server.wait_ready()
        start, end = t0, t0 + args.days * 86400
        month = ["--source", "dcgm", "--by", "namespace", "--start", iso(start), "--end", iso(end), "--no-previous",
                 "--country", "FR"]
        lines.append("")
        lines.append(f"{'run':<58} {'wall':>7} {'peak RSS':>9} {'CPU fleet':>10} {'CPU Prometheus':>15} "
                     f"{'load':>5}")
        d, half = args.days, args.days // 2
        places = work / "places.csv"
        places.write_text("value,site,country,pue,renewable_share\ngpu-eu-*,eu-paris,FR,1.15,0.6\n"
                          "gpu-us-*,us-virginia,US-VA,1.3,0.3\n")
        report_run = f"{d} days, --serving vllm, --places (the report's data)"
        runs = [(f"{d} days, --by namespace (first call: cold page cache)", month),
                (f"{d} days, --by namespace (again)", month),
                ("7 days, --by namespace", ["--source", "dcgm", "--by", "namespace", "--start", iso(end - 7 * 86400),
                                             "--end", iso(end), "--no-previous", "--country", "FR"]),
                (report_run, [*month[:-2], "--serving", "vllm", "--places", str(places), "--place-label", "host"]),
                (f"{half} days + the previous {half} (top movers)",
                 ["--source", "dcgm", "--by", "namespace", "--start", iso(end - half * 86400), "--end", iso(end),
                  "--country", "FR"])]
        results = {}
        import resource

        children_cpu = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime"))
        for label, run_args in runs:
            run = fleet_run(server.url, server.process.pid, *run_args)
            results[label] = result = run["result"]
            queries = sum(q["calls"] for q in result["queries"])
            fleet_cpu, children_cpu = run["children_cpu_s"] - children_cpu, run["children_cpu_s"]
            lines.append(f"{label:<58} {run['seconds']:>6.1f}s {run['rss_mib']:>5.0f} MiB {fleet_cpu:>9.1f}s "
                         f"{run['prometheus_cpu_s']:>14.1f}s {run['load']:>5.1f}   ({queries} queries)")
        lines.append("(wall: seconds the command took; CPU: seconds of processor time it and Prometheus used; load: "
                     "the machine's 1-minute load average around the run, other work included)")
        month_result = results[f"{d} days, --by namespace (again)"]
        lines.append("")
        lines.append(f"accuracy against the simulation's own integrals ({d} days):")
        want = truth.window(truth.groups, 0, int(args.days * 24))
        got = {("unallocated" if g["unallocated"] else g["labels"]["namespace"]): g["energy_j"]
               for g in month_result["groups"]}
        total_want, total_got = sum(want.values()), month_result["totals"]["energy_j"]
        lines.append(f"  total IT energy {total_got / 3.6e9:,.2f} MWh, simulated {total_want / 3.6e9:,.2f} MWh "
                     f"({rel(total_got, total_want)})")
        worst = max((abs(got.get(k, 0.0) - v) / v, k) for k, v in want.items() if v)
        lines.append(f"  {len(want)} groups; largest difference {worst[0]:.3%} ({worst[1]}); idle share "
                     f"{month_result['totals']['unallocated_share']:.1%} (simulated "
                     f"{want.get('unallocated', 0.0) / total_want:.1%})")
        lines.append("  (a GPU's counter is charged, scrape by scrape, to the labels of the later sample: the interval in "
                     "which a GPU changes hands goes to its new holder, in the simulation to the old one)")
        served = results[report_run]["serving"]["models"]
        req_want = truth.window(truth.model_requests, 0, int(args.days * 24))
        for m in served:
            lines.append(f"  {m['model']:<12} {m['j_per_1k_requests'] / 3.6e3:,.1f} Wh per 1,000 requests; requests "
                         f"{rel(m['requests'], req_want.get(m['model'], 0.0))} against the simulation")
        gaps = month_result["gaps"]
        resets = month_result["resets"]
        lengths = ", ".join(sorted({f"{g['length_s']:.0f} s" for g in gaps}))
        lines.append(f"  scrape gaps found: {len(gaps)} ({lengths}); "
                     f"counter resets found: {len(resets)} (simulated: one node's 8 GPUs unscraped for 25 min on day 12, "
                     "another's 8 reset on day 20)")
        lines.append("")
        lines.append("memory: the fleet process holds a window of answers (a few runs of two days of values per series "
                     "and tile, or a few devices' raw samples), never the period's samples; what grows with the period "
                     "is the number of series (pods) seen.")
        if args.screenshot:
            shot(results[report_run], args.screenshot, work, args)
            lines.append(f"screenshot of the {d}-day report: {args.screenshot.resolve().relative_to(ROOT)}")
    finally:
        server.stop()
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


def shot(result: dict, png: Path, work: Path, args: argparse.Namespace) -> None:
    """The report of `result` in headless Chromium (as tests/test_share.py drives it), saved to `png`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    from mlfootprint.report.fleet_html import fleet_report_of

    result = dict(result, note=f"SIMULATED data: {args.gpus:,} GPUs for {args.days} days (benchmarks/fleet_scale.py); "
                               "the exporters are simulated, Prometheus and mlfootprint are real.")
    page = work / "fleet.html"
    page.write_text(fleet_report_of(result))
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,2600"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    try:
        browser.get(page.as_uri())
        browser.set_window_size(1200, int(browser.execute_script("return document.body.scrollHeight")) + 40)
        png.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(png))  # the whole page
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
