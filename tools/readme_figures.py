"""The README's "Measured figures" table, read from the files under benchmarks/results/.

    python tools/readme_figures.py            # print the table
    python tools/readme_figures.py --write    # replace it in README.md (between the figures markers)

Every number in the table is parsed from a result file that a benchmark script writes; nothing is
typed by hand. tests/test_docs.py fails when README.md and this output disagree. Unfavourable results
stand beside the favourable ones.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- figures:begin (tools/readme_figures.py) -->", "<!-- figures:end -->"


def grab(name: str, pattern: str) -> tuple[str, ...]:
    text = (RESULTS / name).read_text(encoding="utf-8")
    m = re.search(pattern, text, re.M)
    if m is None:
        raise SystemExit(f"{name}: no match for {pattern!r}: rerun its benchmark or update tools/readme_figures.py")
    return m.groups()


def num(text: str) -> float:
    return float(text.replace(",", ""))


def rows() -> list[tuple[str, str, str, str]]:
    out = []
    counter, mean_w = grab("h100_gpu_check.txt", r"meter GPU energy \(nvml counter\): ([\d.]+) J, mean ([\d.]+) W")
    integral, = grab("h100_gpu_check.txt", r"20 Hz [^:]*: ([\d.]+) J")
    limit, = grab("h100_gpu_check.txt", r"power limit W: ([\d.]+)")
    out.append(("NVML energy counter vs a 20 Hz integral of the same board's power readings, bf16 matmuls "
                "(a consistency check of our integration: both come from the board's sensor)", "H100",
                f"{num(counter):,.0f} J vs {num(integral):,.0f} J (ratio {num(counter) / num(integral):.3f}), "
                f"{num(mean_w):.0f} W mean at a {num(limit):.0f} W limit", "h100_gpu_check.txt"))

    tracked, = grab("h100_gpu_phases.txt", r"^\s+tracked\s+median [\d.]+ s\s+ratio ([\d.]+)")
    instr, = grab("h100_gpu_phases.txt", r"^\s+instrumented\s+median [\d.]+ s\s+ratio ([\d.]+)")
    sync, = grab("h100_gpu_phases.txt", r"^\s+instrumented\+sync\s+median [\d.]+ s\s+ratio ([\d.]+)")
    out.append(("tracked / untracked wall time, GPU-bound MLP training", "H100",
                f"{tracked} (with phase markers {instr}; with `sync_cuda` {sync})", "h100_gpu_phases.txt"))

    cpu = {k: grab("overhead_cpu_2vcpu.txt", rf"^\s+{k}\s+median.*ratio to untracked ([\d.]+)")[0]
           for k in ("tracked", "instrumented", "codecarbon")}
    spread = grab("overhead_cpu_2vcpu.txt", r"^\s+untracked\s+median\s+([\d.]+) s\s+\(min ([\d.]+), max ([\d.]+)\)")
    rounds, = grab("overhead_cpu_2vcpu.txt", r"(\d+) rounds alternated")
    out.append((f"tracked / untracked, digits CNN on CPU ({rounds} alternated rounds)", "2-vCPU VM",
                f"{cpu['tracked']} (markers {cpu['instrumented']}; CodeCarbon {cpu['codecarbon']}); untracked "
                f"rounds alone spread {num(spread[1]):.2f}-{num(spread[2]):.2f} s: within that noise",
                "overhead_cpu_2vcpu.txt"))
    host = {k: grab("overhead_h100_host_cpu.txt", rf"^\s+{k}\s+median.*ratio to untracked ([\d.]+)")[0]
            for k in ("tracked", "instrumented")}
    out.append(("the same, on the H100 host's CPU (8 rounds)", "H100 host", f"{host['tracked']} and "
                f"{host['instrumented']} with markers: a noisy host, where the ratio says little either way",
                "overhead_h100_host_cpu.txt"))

    marker, bare = grab("overhead_cpu_2vcpu.txt", r"phase marker enter\+exit: (\d+) ns \(a bare `with nullcontext\(\)`: (\d+) ns\)")
    out.append(("phase marker enter + exit", "2-vCPU VM", f"{num(marker) / 1000:.2f} µs (a bare `with nullcontext()`: "
                f"{num(bare) / 1000:.2f} µs)", "overhead_cpu_2vcpu.txt"))
    warm, = grab("overhead_cpu_2vcpu.txt", r"start\+stop in a warm process: ([\d.]+) ms")
    warm_h100, = grab("h100_start_stop.txt", r"median ms ([\d.]+)")
    out.append(("start + stop of a run in a warm process", "2-vCPU VM / H100 host (with NVML)",
                f"{warm} ms / {warm_h100} ms", "overhead_cpu_2vcpu.txt, h100_start_stop.txt"))

    ours = grab("startup.txt", r"mlfootprint.*\n\s+host_ms\s+median\s+([\d.]+) ms\s+p90\s+([\d.]+) ms")
    peer = grab("startup.txt", r"CodeCarbon ([\d.]+).*\n\s+host_ms\s+median\s+([\d.]+) ms")
    proc = grab("startup.txt", r"mlfootprint(?:.*\n){4}\s+process_ms\s+median\s+([\d.]+) ms")
    out.append(("`import` + first start + stop in a fresh process, host's time (interleaved with CodeCarbon)",
                "2-vCPU VM", f"{ours[0]} ms median, {ours[1]} ms p90; CodeCarbon {peer[0]}: {num(peer[1]):,.0f} ms "
                f"({num(peer[1]) / num(ours[0]):.0f}x); the whole process, record stored at exit: {proc[0]} ms",
                "startup.txt"))

    errs = grab("forecast_error.txt", r"forecast at 10%: energy ([+-][\d.]+%).*\n.*forecast at 25%: energy ([+-][\d.]+%)"
                                      r".*\n.*forecast at 50%: energy ([+-][\d.]+%)")
    drift = grab("forecast_error.txt", r"^drift\s+10%\s+([+-][\d.]+%)")
    out.append(("forecast error after 10 % / 25 % / 50 % of a real digits run (30 epochs)", "2-vCPU VM",
                f"{' / '.join(errs)} energy; on the scripted drifting run, {drift[0]} after 10 % (outside its band)",
                "forecast_error.txt"))

    impact_ratio, tflops, share, matmul_w = (
        grab("h100_gpu_impact.txt", r"= ([\d.]+) x measured GPU energy")[0],
        *grab("h100_gpu_impact.txt", r"achieved (\d+) TFLOP/s bf16 = ([\d.]+)%"),
        grab("h100_gpu_impact.txt", r"mean (\d+) W")[0])
    mlp_j, = grab("h100_gpu_phases.txt", r"^\s+tracked\s+median [\d.]+ s\s+ratio [\d.]+, GPU (\d+) J")
    mlp_s, = grab("h100_gpu_phases.txt", r"^\s+tracked\s+median ([\d.]+) s")
    tdp, = grab("h100_gpu_impact.txt", r"at TDP \((\d+) W\)")
    mlp_w = num(mlp_j) / num(mlp_s)
    out.append(("estimate at TDP for the measured GPU-hours vs NVML energy", "H100",
                f"{impact_ratio} on bf16 matmuls at {tflops} TFLOP/s ({share} % of peak), drawing {matmul_w} W; the "
                f"MLP training benchmark averaged {mlp_w:.0f} W, where {tdp} W TDP overstates by "
                f"{num(tdp) / mlp_w - 1:.0%}", "h100_gpu_impact.txt, h100_gpu_phases.txt"))

    n_runs, n_releases, n_publishers = grab("estimate_validation.txt", r"^calibration set: (\d+) published runs .*? in "
                                                                       r"(\d+) releases of (\d+) publishers")
    release = grab("estimate_validation.txt", r"^grouped by release: mean absolute error ([\d.]+%) .*?nominal 90%: inside "
                                              r"(\d+/\d+) = (\d+%) .*?median width ([\d.]+x)")
    levels = re.findall(r"^  nominal (\d+%): inside \d+/\d+ = (\d+%), median width ([\d.]+x)",
                        (RESULTS / "estimate_validation.txt").read_text(encoding="utf-8").split("\n2. ")[0], re.M)
    publisher = grab("estimate_validation.txt", r"^grouped by publisher: mean absolute error ([\d.]+%) .*?nominal 90%: "
                                                r"inside (\d+/\d+) = (\d+%) .*?median width ([\d.]+x)")
    loro = grab("estimate_validation.txt", r"^leave-one-run-out: mean absolute error ([\d.]+%) .*?nominal 90%: inside "
                                           r"(\d+/\d+) = (\d+%)")
    peak_mae, peak_inside = grab("estimate_validation.txt", r"peak MFU: mean absolute error ([\d.]+%), inside its range "
                                                            r"(\d+/\d+)")
    hours_mape, = grab("estimate_validation.txt", r"mean absolute error from hours: CO2e ([\d.]+%)")
    out.append((f"estimate from parameters + tokens vs published accelerator-hours, each of {n_runs} runs predicted by a "
                f"fit that saw nothing of its release ({n_releases} releases of {n_publishers} publishers)", "-",
                f"{release[0]} mean absolute error (target 25 %); {release[1]} ({release[2]}) inside the nominal-90 % "
                f"range (target 85 %), median width {release[3]} (target 3x); at each nominal level, inside / median "
                f"width: " + ", ".join(f"{p} {c} / {w}" for p, c, w in levels) + f". A publisher never seen (each "
                f"publisher left out): {publisher[0]}, {publisher[1]} inside, median width {publisher[3]}. Leave one run "
                f"out: {loro[0]}, {loro[1]} inside. The papers' peak MFU: {peak_mae}, {peak_inside} inside. From the "
                f"published accelerator-hours: {hours_mape}, which only re-multiplies each publisher's own hours x "
                "power x PUE x intensity", "estimate_validation.txt"))

    held = grab("inference_validation.txt", r"^held out, all: (\d+/\d+) within 2x .*?median \|error\| (\d+%); "
                                            r"worst ratio ([\d.]+); measurement inside the printed 90% range (\d+/\d+)")
    other = grab("inference_validation.txt", r"^check-other-hardware: (\d+/\d+) within 2x")
    older = grab("inference_validation.txt", r"^check-older-software: (\d+/\d+) within 2x")
    board = grab("inference_validation.txt", r"^check-leaderboard: (\d+/\d+) within 2x")
    board_dense = grab("inference_validation.txt", r"^check-leaderboard, dense: (\d+/\d+) within 2x .*?inside the "
                                                   r"printed 90% range (\d+/\d+)")
    board_moe = grab("inference_validation.txt", r"^check-leaderboard, mixture of experts: (\d+/\d+) within 2x \((\d+%)\).*?"
                                                 r"median \|error\| (\d+%).*?inside the printed 90% range (\d+/\d+)")
    classes = re.findall(r"^  class (.*?): (\d+/\d+) within 2x \((\d+%)\)",
                         (RESULTS / "inference_validation.txt").read_text(encoding="utf-8"), re.M)
    lomo = grab("inference_validation.txt", r"^leave-one-model-out: (\d+/\d+) within 2x .*?median \|error\| (\d+%)")
    old = grab("inference_validation.txt", r"^(\d+) rows with a cited MFU \(H100\): (\d+/\d+) within 2x; median ratio "
                                           r"([\d.]+)")
    out.append(("serving estimate (decode roofline) vs published energy per token, rows never fitted on "
                "(ML.ENERGY: B200, older vLLM, and their leaderboard's Qwen 3, Gemma 3, Llama 3.3/4, DeepSeek V3.1/R1)",
                "-", f"{held[0]} within 2x (other hardware and models {other[0]}, older software {older[0]}, "
                f"leaderboard {board[0]}: dense {board_dense[0]}, mixtures of experts {board_moe[0]} ({board_moe[1]}, "
                f"target 90 %) with median error {board_moe[2]}; by deployment: "
                + ", ".join(f"{name} {n} ({share})" for name, n, share in classes) +
                f"); median error {held[1]}; worst ratio {held[2]}; inside the printed 90% range: leaderboard dense "
                f"{board_dense[1]}, mixtures of experts {board_moe[3]}. Fitted rows, leave one model out: {lomo[0]} "
                f"within 2x. The previous 2 x params FLOPs model: {old[1]} within 2x, median ratio {old[2]}",
                "inference_validation.txt"))
    ratios, = grab("inference_check.txt", r"^throughput within 2x: (\d+/\d+);")
    size, = grab("inference_check.txt", r"random-weight decoder, (\d+M) parameters")
    spread, = grab("inference_check.txt", r"^throughput within 2x: \d+/\d+; ratios (.*)$")
    reached, fitted = grab("inference_check.txt", r"^share of the roofline reached: (.*) \(batch .*the fit, vLLM on H100: "
                                                  r"([\d.]+)$")
    out.append((f"serving model vs our own decoding run (random-weight {size} decoder, KV cache, batch 1-64)",
                "2-vCPU VM", f"throughput within 2x: {ratios} (model / measured: {spread}); the run reached "
                f"{reached} of its roofline where the GPU fit assumes {fitted}: that gap is the model's error "
                "here; energy here is modelled (no RAPL), so throughput is the check",
                "inference_check.txt"))

    line = grab("h100_reduce.txt", r"bf16: ([+-]\d+%) training energy, ([+-][\d.]+ pt) accuracy")
    acc, target = grab("h100_reduce.txt", r"^\s+bf16\s+.*?(\d+/\d+) runs\s+[\d.]+ s\s+[\d.]+ g\s+([\d.]+)")[::-1]
    worse = grab("h100_reduce.txt", r"batch 256: ([+-]\d+%) training energy")
    out.append(("`reduce` on an MLP, GPU energy from NVML (3 repeats)", "H100",
                f"bf16: {line[0]} training energy, {line[1]} accuracy ({acc}; the accuracy target was reached "
                f"in {target} runs, so no energy-to-target); batch 256: {worse[0]}", "h100_reduce.txt"))

    before_s, before_n = grab("reduce_digits.txt", r"^# median before: ([\d.]+) s wall, ([\d.]+/\d+) verdicts reached")
    now_s, now_n = grab("reduce_digits.txt", r"^# median now: ([\d.]+) s wall, ([\d.]+/\d+) verdicts reached")
    pairs = len(re.findall(r"^# now: ", (RESULTS / "reduce_digits.txt").read_text(encoding="utf-8"), re.M))
    digits = re.sub(r"\n(?![✓·] |note:|energy is|Recommended|No change|  )", " ",
                    (RESULTS / "reduce_digits.txt").read_text(encoding="utf-8"))
    verdicts = re.findall(r"^([✓·]) ([^:]+): ([+-][\d.]+%) .*? —\s+(a\s+saving|costlier|no\s+change|quality\s+loss|"
                          r"undecided)", digits, re.M)
    groups: dict[str, list[str]] = {}
    for _, name, change, decision in verdicts:
        decision = " ".join(decision.split())  # a wrapped line joined with two spaces
        groups.setdefault({"a saving": "recommended"}.get(decision, decision), []).append(f"{name} {change}")
    shown = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in groups.items())
    out.append(("`reduce` on the digits CNN, target accuracy 0.95, sequential rounds (modelled CPU energy; the last "
                f"of {pairs} runs)", "2-vCPU VM (shared)",
                f"median wall time {now_s} s, {now_n} verdicts reached; the version before sequential verdicts (3 "
                f"fixed rounds), alternated with it: {before_s} s, {before_n} reached. {shown}", "reduce_digits.txt"))

    ours = (RESULTS / "store_speed.txt").read_text(encoding="utf-8").split("\ncompared: ")
    if len(ours) != 2:
        raise SystemExit("store_speed.txt: no compared block: rerun benchmarks/store_speed.py --compare-src")

    def store(text: str) -> tuple[str, ...]:
        lst, = re.findall(r"open \+ list 20 runs \(runs\): ([\d.]+) ms", text)
        cold, = re.findall(r"cold process: import the store package \+ open \+ list 20 runs: ([\d.]+) ms", text)
        bare, = re.findall(r"untracked: CPU ([\d.]+) s", text)
        tracked, = re.findall(r"tracked, existing store: CPU ([\d.]+) s", text)
        first, = re.findall(r"tracked, new store \(first run\): CPU ([\d.]+) s", text)
        return lst, cold, bare, tracked, first

    now, before = store(ours[0]), store(ours[1])
    out.append(("a short script tracked in a fresh process, CPU of the whole process (store existing / new); the "
                "store opened and 20 runs listed, in a warm / a fresh process", "2-vCPU VM (shared)",
                f"untracked {now[2]} s, tracked {now[3]} s / {now[4]} s (the version before the sqlite3 writer: "
                f"{before[3]} s / {before[4]} s: a first run still loads SQLAlchemy to create the store); list "
                f"{now[0]} ms / {now[1]} ms", "store_speed.txt"))
    samples, = grab("import_scale.txt", r"spool file: (\d+) samples")
    t_now, rss_now = grab("import_scale.txt", r"this checkout \([0-9a-f]+\): mlfootprint import ([\d.]+) s, peak RSS (\d+) MB")
    t_old, rss_old = grab("import_scale.txt", r"compared \([^)]*\): mlfootprint import ([\d.]+) s, peak RSS (\d+) MB")
    floor, = grab("import_scale.txt", r"json.loads only \(the floor\): [\d.]+ s, peak RSS (\d+) MB")
    out.append((f"`mlfootprint import` of a {num(samples):,.0f}-sample spool file", "2-vCPU VM (shared)",
                f"{t_now} s at {rss_now} MB peak RSS (before the store split: {t_old} s, {num(rss_old):,.0f} MB; "
                f"reading and parsing the file alone: {floor} MB)", "import_scale.txt"))

    waits = json.loads((RESULTS / "user_waits.txt").read_text(encoding="utf-8").strip().splitlines()[-1])
    pages = [k for k in waits if k.startswith("dashboard")]
    commands = [waits[f"mlfootprint {c}"] for c in ("runs", "show RUN", "jobs")]

    def met(values: list[float], target: float, unit: str = " s") -> str:
        missed = sum(v > target for v in values)
        return f"target {target:g}{unit}" + (f": missed{f' by {missed} of {len(values)}' if len(values) > 1 else ''}"
                                       if missed else ": met")
    out.append(("where a user waits (each beside its target, one run): `runs` / `show` / `jobs` on 5,000 runs; a short "
                "script's tracked minus untracked time; a phase marker over `with nullcontext()`; dashboard pages on "
                "10,000 runs, p95", "2-vCPU VM",
                f"{waits['mlfootprint runs']:.3f} / {waits['mlfootprint show RUN']:.3f} / "
                f"{waits['mlfootprint jobs']:.3f} s ({met(commands, 0.15)}); +{waits['short tracked script minus untracked']:.3f}"
                f" s ({met([waits['short tracked script minus untracked']], 0.1)}); "
                f"{waits['phase marker / with nullcontext()']:.2f}x ({met([waits['phase marker / with nullcontext()']], 2, 'x')}); "
                f"pages {min(waits[k] for k in pages):.3f}-{max(waits[k] for k in pages):.3f} s "
                f"({met([waits[k] for k in pages], 0.2)})",
                "user_waits.txt"))

    mypy_s, = grab("suite_time.txt", r"^mypy, cold \(make test, first step\): (\d+) s wall")
    suite_s, suite_min, failed, passed = grab("suite_time.txt", r"^pytest -q \(make test\): (\d+) s wall \(([\d.]+) min\)"
                                                                r".*?; (?:(\d+) failed, )?(\d+) passed")
    quick_s, quick_n = grab("suite_time.txt", r"^pytest -q QUICK \(make test-quick\): (\d+) s wall .*?; (\d+) passed")
    out.append(("`make test` (mypy, then the suite) and `make test-quick`, services running (PostgreSQL, Slurm, Chromium, "
                "Prometheus)", "2-vCPU VM", f"mypy {mypy_s} s cold; {passed} tests in {suite_s} s ({suite_min} min)"
                f"{f', {failed} FAILED' if failed else ''}; "
                f"the quick subset: {quick_n} tests in {quick_s} s", "suite_time.txt"))

    csv_s, json_s, rss = (grab("export_scale.txt", r"export -f csv: ([\d.]+) s")[0],
                          *grab("export_scale.txt", r"export -f json: ([\d.]+) s wall, peak RSS (\d+) MB"))
    n, = grab("export_scale.txt", r"export of (\d+) runs")
    out.append((f"`export` of {num(n):,.0f} runs", "2-vCPU VM", f"CSV {csv_s} s, JSON {json_s} s at {rss} MB peak RSS",
                "export_scale.txt"))

    ranks, = grab("job_scale.txt", r"= (\d+) ranks;")
    show_s, render_s = grab("job_scale.txt", r"query \+ summary median ([\d.]+) s .*rendering ([\d.]+) s")
    out.append((f"`show JOB` of a simulated {num(ranks):,.0f}-rank job (128 nodes x 8 GPUs), PostgreSQL on the same "
                "2 cores", "2-vCPU VM", f"query + summary {show_s} s, terminal rendering {render_s} s (target: 2 s)",
                "job_scale.txt"))
    flushes, needed, headroom = grab("job_scale.txt", r"= ([\d,]+) flushes/s; the job needs ([\d,]+) flushes/s .*"
                                                      r"headroom x([\d.]+)")
    rows_s, = grab("job_scale.txt", r"store rows written: [\d,]+ = ([\d,]+) rows/s")
    p50, p99, worst = grab("job_scale.txt", r"p50 ([\d.]+) ms, p95 [\d.]+ ms, p99 ([\d.]+) ms, max ([\d.]+) ms")
    out.append(("that job's writes at the default intervals (1 s samples, 5 s flushes), time-compressed", "2-vCPU VM",
                f"{flushes} flushes/s against {needed} needed (x{headroom} headroom), {rows_s} rows/s; flush latency "
                f"p50 {p50} ms, p99 {p99} ms, worst {num(worst):,.0f} ms", "job_scale.txt"))
    cpu = grab("job_scale.txt", r"alone ([\d.]+%), host owner ([\d.]+%), owns nothing ([\d.]+%)")
    out.append(("tracker CPU while the program sleeps (interval 1 s), alone / rank measuring the host / rank "
                "measuring nothing", "2-vCPU VM", f"{cpu[0]} / {cpu[1]} / {cpu[2]} of one core (target: 1 %)",
                "job_scale.txt"))
    kept, raw = grab("job_scale.txt", r"for a week at interval_s=1 \(store/rollup.py\): ([\d,]*\d) instead of ([\d,]*\d)")
    out.append(("samples kept per channel for a week-long run at 1 s (older samples rolled up, energy summed)", "-",
                f"{kept} rows instead of {raw}", "job_scale.txt"))

    sweep = {}
    for batching, conc, per_kwh, p50, idle in re.findall(
            r"^(on|off)\s+(\d+)\s+\d+\s+([\d,]+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+(\d+)%",
            (RESULTS / "serving_sweep.txt").read_text(encoding="utf-8"), re.M):
        sweep[(batching, int(conc))] = (num(per_kwh), num(p50), idle)
    if not sweep:
        raise SystemExit("serving_sweep.txt: no rows: rerun benchmarks/serving_sweep.py")
    lo, hi = min(c for _, c in sweep), max(c for _, c in sweep)
    out.append((f"`mlfootprint serve` on the FastAPI digits server, requests per kWh (idle excluded) at concurrency "
                f"{lo} / {hi}", "2-vCPU VM (modelled CPU)",
                f"no batching {sweep[('off', lo)][0] / 1e6:,.0f}M / {sweep[('off', hi)][0] / 1e6:,.0f}M; dynamic "
                f"batching {sweep[('on', lo)][0] / 1e6:,.0f}M / {sweep[('on', hi)][0] / 1e6:,.0f}M (batching "
                f"{'saves' if sweep[('on', lo)][0] > sweep[('off', lo)][0] else 'costs'} energy at {lo}, "
                f"{'saves' if sweep[('on', hi)][0] > sweep[('off', hi)][0] else 'costs'} at {hi}); J/request p50 {sweep[('off', hi)][1] * 1000:.1f} mJ vs "
                f"{sweep[('on', hi)][1] * 1000:.1f} mJ at {hi}", "serving_sweep.txt"))
    return out


def table() -> str:
    lines = [BEGIN, "| what | where | figure | file |", "| --- | --- | --- | --- |"]
    lines += [f"| {what} | {where} | {figure} | `{file}` |" for what, where, figure, file in rows()]
    return "\n".join(lines + [END])


ESTIMATE_BEGIN = "<!-- estimate-table:begin (tools/readme_figures.py, from benchmarks/results/estimate_validation.txt and inference_validation.txt) -->"
ESTIMATE_END = "<!-- estimate-table:end -->"


def estimate_table() -> str:
    """The estimator's validation at a glance: training errors and range coverage by how unseen the run is,
    then the serving model on mixtures of experts by deployment class."""
    text = (RESULTS / "estimate_validation.txt").read_text(encoding="utf-8")
    lines = [ESTIMATE_BEGIN, "| training runs predicted by a fit that saw nothing of | mean absolute error of "
             "accelerator-hours | inside the nominal 50 / 80 / 90 / 95 % range | median width of the 90 % range |",
             "| --- | --- | --- | --- |"]
    for label, name in (("their release (the validation to quote)", "grouped by release"),
                        ("their publisher (a lab never seen)", "grouped by publisher"),
                        ("the run itself (its siblings stay in the fit)", "leave-one-run-out")):
        block = text.split(f"\n{name}: ", 1)[1]
        mae = re.match(r"mean absolute error ([\d.]+%)", block)
        covered = re.findall(r"^  nominal \d+%: inside \d+/\d+ = (\d+%), median width ([\d.]+x)", block, re.M)[:4]
        if mae is None or len(covered) != 4:
            raise SystemExit(f"estimate_validation.txt: no {name} block: rerun benchmarks/estimate_validation.py")
        lines.append(f"| {label} | {mae.group(1)} | {' / '.join(c for c, _ in covered)} | {covered[2][1]} |")
    serving = (RESULTS / "inference_validation.txt").read_text(encoding="utf-8")
    classes = re.findall(r"^  class (.*?): (\d+/\d+) within 2x \((\d+%)\); median \|error\| (\d+%).*?inside the "
                         r"printed 90% range (\d+/\d+)", serving, re.M)
    if not classes:
        raise SystemExit("inference_validation.txt: no deployment classes: rerun benchmarks/inference_validation.py")
    lines += ["", "| mixtures of experts on the ML.ENERGY leaderboard (never fitted on), by deployment | within 2x | "
              "median error | inside the printed 90 % range |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {n} ({share}) | {err} | {inside} |" for name, n, share, err, inside in classes]
    return "\n".join(lines + [ESTIMATE_END])


SERVING_BEGIN = "<!-- serving-table:begin (tools/readme_figures.py, from benchmarks/results/inference_validation.txt) -->"
SERVING_END = "<!-- serving-table:end -->"


def serving_table() -> str:
    """The per-configuration comparison of serving estimates with published measurements."""
    text = (RESULTS / "inference_validation.txt").read_text(encoding="utf-8")
    if "\n6. by configuration" not in text:
        raise SystemExit("inference_validation.txt: no section 6: rerun benchmarks/inference_validation.py")
    section = text.split("\n6. by configuration", 1)[1]
    return "\n".join([SERVING_BEGIN] + [line for line in section.splitlines() if line.startswith("|")] + [SERVING_END])


def _replace(current: str, begin: str, end: str, text: str) -> str:
    if begin not in current or end not in current:
        sys.exit(f"README.md has no {begin.split(' ')[1]} markers")
    start, stop = current.index(begin), current.index(end) + len(end)
    return current[:start] + text + current[stop:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    text, serving, estimates = table(), serving_table(), estimate_table()
    if not args.write:
        print(text + "\n\n" + serving + "\n\n" + estimates)
        return
    readme = ROOT / "README.md"
    current = _replace(readme.read_text(encoding="utf-8"), BEGIN, END, text)
    current = _replace(current, ESTIMATE_BEGIN, ESTIMATE_END, estimates)
    readme.write_text(_replace(current, SERVING_BEGIN, SERVING_END, serving), encoding="utf-8")


if __name__ == "__main__":
    main()
