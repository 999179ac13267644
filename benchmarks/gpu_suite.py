"""The GPU path, proved in one command on a machine with an NVIDIA GPU (issue 21, point 3).

    python benchmarks/gpu_suite.py [--short] [--out PATH] [--store PATH]
    python benchmarks/gpu_suite.py --short --simulate    # no GPU here: fake NVML, CPU tensors (what CI runs)

Writes benchmarks/results/gpu_suite_<gpu>.txt (<gpu>: the NVML name, slugged) in under 8 minutes
(`--short`: seconds instead of minutes per part), with:

1. NVML's energy counter against a 20 Hz integral of NVML's power readings over the same window, on
   matrix products: a consistency check of ONE sensor (both are the board's own readings; only an
   external meter would be independent), and mlfootprint's GPU figure against the counter;
2. a training loop with phases (a randomly initialised MLP on generated data) untracked, tracked with
   phase markers, and tracked with sync_cuda: throughput, and each phase's share of time and of GPU energy;
3. a 2-rank torchrun job (gloo) whose ranks share the GPU: the job's GPU energy against the GPU's
   counter over the same time (counted once, not twice), and which rank owns the GPU;
4. examples/serve_fastapi.py's app serving a randomly initialised digits CNN on the GPU under
   `mlfootprint serve`, loaded by examples/load_digits.py: J/request idle included and excluded;
5. start-up (import + start + stop of a run) and phase-marker cost on this machine.

It reads the GPU and sets nothing on it (no power or clock limit; the file shows the power limit read
before and after). It uses the first GPU visible to it (CUDA_VISIBLE_DEVICES chooses) and narrows
everything it starts to that GPU's UUID. The runs it records stay in `--store` (a temporary SQLite file
by default) for `mlfootprint show`.

Every line says how its figure was obtained. With a fake `pynvml` on the path (`--simulate` puts
tests/fakes/pynvml_on_path first; that module says it is fake), the parts run on CPU tensors, the file
says "simulated: fake NVML, CPU tensors", and it goes to out/ unless --out says otherwise: simulated
figures exercise the code, they are not GPU results. A part that fails is written as FAILED with its
error, the other parts still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAKE_NVML = ROOT / "tests" / "fakes" / "pynvml_on_path"
BUDGET_S = 480.0  # the full suite must finish in under 8 minutes
PHASES = ("data", "forward", "backward", "optimizer")
OUTSIDE = "(outside phases)"
SIMULATED_COMPUTE = "simulated: fake NVML, CPU tensors"
# launcher variables of whatever runs this suite (a Slurm allocation, another torchrun) must not make the
# suite's own runs ranks of that job; the torchrun part sets its own
FOREIGN_ENV = ("MLFOOTPRINT_", "SLURM_", "TORCHELASTIC_", "OMPI_", "PMI_", "PMIX_")

log = logging.getLogger("gpu_suite")


class SuiteError(Exception):
    """The suite cannot run here (no GPU, no CUDA build of torch): one line, exit status 2."""


@dataclass(frozen=True)
class Board:
    """The GPU the suite measures, as NVML names it."""

    index: int  # NVML index: the record's component is gpu:<index>
    name: str
    uuid: str
    handle: Any
    driver: str
    simulated: str | None  # the fake's description, or None for a real board

    @property
    def key(self) -> str:
        return f"gpu:{self.index}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_") or "gpu"


@dataclass(frozen=True)
class Setup:
    """What every part needs: the board, where tensors live, how long to run, where runs are stored."""

    board: Board
    nvml: ModuleType
    device: str  # "cuda" or "cpu" (simulated)
    short: bool
    store: str
    work: Path  # logs of the processes the suite starts

    def seconds(self, full: float, short: float) -> float:
        return short if self.short else full

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def compute(self) -> str:
        return f"CUDA tensors on {self.board.name}" if self.cuda else SIMULATED_COMPUTE

    @property
    def gpu_basis(self) -> str:
        """How a GPU energy figure was obtained."""
        return "simulated: fake NVML's scripted counter" if self.board.simulated else "measured by NVML's energy counter"

    def track(self, project: str, **settings: Any) -> Any:
        """A tracker on this machine's sensors, storing in the suite's store, never a rank of a foreign job."""
        import mlfootprint

        return mlfootprint.track(project, store=self.store, job="off", **settings)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def find_board(nvml: ModuleType) -> Board:
    """The first GPU this process may use (CUDA_VISIBLE_DEVICES honoured as the meter honours it)."""
    from mlfootprint.sensors.nvml import visible_indices

    try:
        nvml.nvmlInit()
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
    except Exception as exc:
        raise SuiteError(f"no NVIDIA GPU can be read through NVML ({exc}); to exercise the suite without one: "
                         "--simulate (fake NVML, CPU tensors)") from None
    indices, _ = visible_indices(os.environ.get("CUDA_VISIBLE_DEVICES"), uuids)
    if not indices:
        raise SuiteError(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r} leaves no GPU of the "
                         f"{len(uuids)} NVML sees; unset it or name one GPU")
    i = indices[0]
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handles[i])
    except Exception as exc:
        raise SuiteError(f"GPU {i} ({_text(nvml.nvmlDeviceGetName(handles[i]))}) has no NVML energy counter ({exc}; "
                         "Volta and newer have one): the suite checks against it; mlfootprint integrates its power "
                         "readings instead") from None
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
    except Exception:
        driver = "unknown"
    return Board(i, _text(nvml.nvmlDeviceGetName(handles[i])), uuids[i], handles[i], driver,
                 getattr(nvml, "SIMULATED", None))


def power_limit_w(setup: Setup) -> float | None:
    try:
        return float(setup.nvml.nvmlDeviceGetPowerManagementLimit(setup.board.handle)) / 1e3
    except Exception:
        return None


class CounterLog:
    """NVML's energy counter and power of one board, read together at `hz` on a thread, each read
    stamped with the wall-clock time (so windows of runs in other processes can be looked up in it)."""

    def __init__(self, setup: Setup, hz: float = 20.0) -> None:
        self.nvml, self.handle, self.period_s = setup.nvml, setup.board.handle, 1.0 / hz
        self.rows: list[tuple[float, float, float]] = []  # (unix time s, counter J, power W)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-suite-counter-log", daemon=True)

    def __enter__(self) -> CounterLog:
        self._thread.start()
        while not self.rows and self._thread.is_alive():
            time.sleep(0.001)
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _read(self) -> None:
        before = time.time()
        counter_j = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3
        power_w = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3
        self.rows.append(((before + time.time()) / 2, counter_j, power_w))  # stamped mid-read

    def _loop(self) -> None:
        self._read()
        while not self._stop.wait(self.period_s):
            self._read()
        self._read()

    @property
    def window(self) -> tuple[float, float]:
        return self.rows[0][0], self.rows[-1][0]

    def counter_j(self) -> float:
        return self.rows[-1][1] - self.rows[0][1]

    def integral_j(self) -> float:
        """The power readings integrated by trapezoids over the log's window."""
        return sum((p0 + p1) / 2 * (t1 - t0) for (t0, _, p0), (t1, _, p1) in zip(self.rows, self.rows[1:]))

    def steps_s(self) -> list[float]:
        return [b[0] - a[0] for a, b in zip(self.rows, self.rows[1:])]

    def counter_at(self, t: float) -> float:
        """The counter at wall-clock time t, linearly between the two reads around it."""
        if not self.rows[0][0] <= t <= self.rows[-1][0]:
            raise ValueError(f"time {t:.3f} is outside the counter log ({self.rows[0][0]:.3f} to {self.rows[-1][0]:.3f})")
        for (t0, c0, _), (t1, c1, _) in zip(self.rows, self.rows[1:]):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.0)
        return self.rows[-1][1]

    def counter_between(self, t0: float, t1: float) -> float:
        return self.counter_at(t1) - self.counter_at(t0)


def run_window(record: Any) -> tuple[float, float]:
    """A run's measured window in wall-clock time: it ended at `ended_at`, after `duration_s` of metering."""
    end = datetime.fromisoformat(record.ended_at).timestamp()
    return end - record.duration_s, end


def component(record: Any, key: str) -> Any:
    found = [c for c in record.components if c.key == key]
    if not found:
        raise RuntimeError(f"the run {record.id} has no component {key} (it has "
                           f"{', '.join(c.key for c in record.components) or 'none'})")
    return found[0]


def others(record: Any, key: str) -> str:
    """The record's other components and how each was obtained, e.g. 'cpu:modelled 12.0 J modelled'."""
    return "; ".join(f"{c.key} {c.energy_j:,.1f} J {c.method}" for c in record.components if c.key != key) or "none"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
    env.update(OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"), **extra)
    return env


def run_logged(cmd: list[str], log_path: Path, timeout_s: float, env: dict[str, str]) -> str:
    """Run a command to its end with its output in `log_path`; its whole process group is killed if it
    overruns. Its output, or RuntimeError with the log's last lines."""
    with log_path.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    text = log_path.read_text(errors="replace")
    if rc != 0:
        what = f"ran past {timeout_s:.0f} s" if rc is None else f"exited with {rc}"
        tail = " | ".join(text.strip().splitlines()[-6:])
        raise RuntimeError(f"{shlex.join(cmd[:5])} ... {what}; last lines of {log_path}: {tail}")
    return text


@contextmanager
def started(cmd: list[str], log_path: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A background process for the length of the block; its process group is ended if it is still running."""
    with log_path.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- workloads ---------------------------------------------------------------------------------------
class Matmuls:
    """Square matrix products, the GPU's steadiest heavy load: bf16 on CUDA, float32 on CPU (simulated)."""

    def __init__(self, setup: Setup) -> None:
        import torch

        self.n = (4096 if setup.short else 8192) if setup.cuda else 192
        dtype = torch.bfloat16 if setup.cuda else torch.float32
        self.a = torch.randn(self.n, self.n, device=setup.device, dtype=dtype)
        self.b = torch.randn(self.n, self.n, device=setup.device, dtype=dtype)
        self.sync: Callable[[], None] = torch.cuda.synchronize if setup.cuda else (lambda: None)
        self.batch = 20 if setup.cuda else 4
        self.describe = f"{'bf16' if setup.cuda else 'float32'} {self.n}x{self.n} matrix products"
        self.run(1.0 if setup.cuda else 0.0)  # warm-up: kernels chosen, clocks up, before any window opens

    def run(self, seconds: float) -> tuple[float, float]:
        """Products for `seconds`: (FLOPs done, seconds taken)."""
        t0, products = time.perf_counter(), 0
        while True:
            for _ in range(self.batch):
                self.a @ self.b
            self.sync()
            products += self.batch
            if time.perf_counter() - t0 >= seconds:
                return 2.0 * self.n ** 3 * products, time.perf_counter() - t0


class Trainer:
    """A randomly initialised MLP trained on generated batches, each step split into phases."""

    def __init__(self, device: str, width: int | None = None, depth: int | None = None) -> None:
        import torch
        from torch import nn

        self.torch, self.cuda = torch, device == "cuda"
        width = width or (4096 if self.cuda else 96)  # on CUDA, benchmarks/gpu_phases.py's GPU-bound MLP
        depth = depth or (8 if self.cuda else 3)
        batch = 2048 if self.cuda else 32
        torch.manual_seed(0)
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.GELU()]
        self.model: nn.Module = nn.Sequential(*layers, nn.Linear(width, 16)).to(device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=True if self.cuda else None)
        self.pool = [(torch.randn(batch, width), torch.randint(0, 16, (batch,))) for _ in range(4)]
        if self.cuda:
            self.pool = [(x.pin_memory(), y.pin_memory()) for x, y in self.pool]
        self.device, self.batch = device, batch
        self.describe = (f"a {depth}x{width} MLP{' in bf16 autocast' if self.cuda else ''}, batch {batch}, AdamW, "
                         "randomly initialised, generated data")

    def steps(self, n: int, phase: Callable[[str], AbstractContextManager[Any]] | None = None) -> None:
        torch = self.torch
        mark = phase or (lambda _name: nullcontext())
        autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if self.cuda else nullcontext
        for step in range(n):
            with mark("data"):
                x_host, y_host = self.pool[step % len(self.pool)]
                x, y = x_host.to(self.device, non_blocking=True), y_host.to(self.device, non_blocking=True)
            with mark("forward"), autocast():
                loss = torch.nn.functional.cross_entropy(self.model(x), y)
            with mark("backward"):
                loss.backward()
            with mark("optimizer"):
                self.opt.step()
                self.opt.zero_grad(set_to_none=True)

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()


# -- 1. counter vs integral --------------------------------------------------------------------------
def part_counter(setup: Setup) -> list[str]:
    load = Matmuls(setup)
    with CounterLog(setup) as counter_log:
        with setup.track("gpu-suite-counter", interval_s=0.2) as run:
            flops, took_s = load.run(setup.seconds(30.0, 3.0))
    record = run.record
    ours = component(record, setup.board.key)
    t0, t1 = counter_log.window
    counter_j, integral_j, steps = counter_log.counter_j(), counter_log.integral_j(), counter_log.steps_s()
    run_t0, run_t1 = run_window(record)
    counter_run_j = counter_log.counter_between(run_t0, run_t1)
    return [
        f"load: {load.describe}, {took_s:.1f} s, {flops / took_s / 1e9:,.1f} GFLOP/s [{setup.compute}; time: wall clock]",
        f"window (Unix time): {t0:.4f} to {t1:.4f} ({t1 - t0:.2f} s), {len(counter_log.rows)} reads of counter "
        f"and power, interval mean {statistics.mean(steps) * 1e3:.1f} ms, longest {max(steps) * 1e3:.1f} ms",
        f"NVML energy counter over the window: {counter_j:,.3f} J, mean {counter_j / (t1 - t0):,.1f} W "
        f"[{setup.gpu_basis}]",
        f"20 Hz power integral (trapezoids) over the same window: {integral_j:,.3f} J [{setup.gpu_basis}: "
        "nvmlDeviceGetPowerUsage]",
        f"relative difference (counter - integral) / counter: {(counter_j - integral_j) / counter_j:+.3%} "
        "(one sensor checked against itself, not an independent measurement)",
        f"mlfootprint's GPU figure for its run ({ours.key}, {ours.method}, {ours.source}): {ours.energy_j:,.3f} J over "
        f"{record.duration_s:.2f} s; the counter over the run's window, interpolated from the log: "
        f"{counter_run_j:,.3f} J; ratio {ours.energy_j / counter_run_j:.4f}",
        f"the run's other components: {others(record, setup.board.key)}",
    ]


# -- 2. phases with and without sync_cuda --------------------------------------------------------------
ARMS = {"untracked": None, "phases": False, "phases+sync_cuda": True}


def part_phases(setup: Setup) -> list[str]:
    trainer = Trainer(setup.device)
    trainer.steps(5)  # warm-up
    trainer.sync()
    calibration, t0 = 0, time.perf_counter()
    while calibration < 10 or time.perf_counter() - t0 < 0.3:
        trainer.steps(5)
        trainer.sync()
        calibration += 5
    step_s = (time.perf_counter() - t0) / calibration
    arm_s, rounds = setup.seconds(10.0, 1.0), 3 if not setup.short else 2
    steps = max(5, round(arm_s / step_s))
    times: dict[str, list[float]] = {name: [] for name in ARMS}
    records: dict[str, list[Any]] = {name: [] for name in ARMS}
    for r in range(rounds):
        for name in list(ARMS) if r % 2 == 0 else list(reversed(ARMS)):
            sync = ARMS[name]
            tracker = nullcontext() if sync is None else setup.track("gpu-suite-phases", sync_cuda=sync,
                                                                       interval_s=0.2)
            start = time.perf_counter()
            with tracker as run:
                trainer.steps(steps, run.phase if run is not None else None)
                trainer.sync()
            times[name].append(time.perf_counter() - start)
            if run is not None:
                records[name].append(run.record)
    base = statistics.median(times["untracked"])
    lines = [f"model: {trainer.describe}; {steps} steps per arm, {rounds} rounds, arms alternated "
             f"[{setup.compute}; time: wall clock]"]
    if not setup.cuda:
        lines.append("sync_cuda: torch.cuda is not available, so markers have nothing to synchronize: the two tracked "
                     "arms run the same code here and their difference is noise")
    lines.append(f"{'arm':<18} {'median s':>9} {'steps/s':>9} {'ratio to untracked':>19} {'GPU J per arm':>14} "
                 f"{'GPU mean W':>11}   (GPU energy {setup.gpu_basis})")
    rate = {}
    for name, ts in times.items():
        rate[name] = steps / statistics.median(ts)
        gpu = [component(rec, setup.board.key).energy_j for rec in records[name]]
        watts = sum(gpu) / sum(rec.duration_s for rec in records[name]) if gpu else None
        lines.append(f"{name:<18} {statistics.median(ts):>9.3f} {rate[name]:>9.1f} "
                     f"{statistics.median(ts) / base:>19.4f} "
                     f"{(f'{statistics.median(gpu):,.1f}' if gpu else '-'):>14} "
                     f"{(f'{watts:,.1f}' if watts is not None else '-'):>11}")
    lines.append(f"throughput cost of synchronizing at every marker: 1 - steps/s with / without sync_cuda = "
                 f"{1 - rate['phases+sync_cuda'] / rate['phases']:+.1%}")
    lines.append("phase split over all rounds, time share | GPU energy share (the meter splits each interval's energy "
                 "by time overlap): without sync_cuda ; with sync_cuda")
    split = {name: phase_split(records[name]) for name in ("phases", "phases+sync_cuda")}
    for phase in (*PHASES, OUTSIDE):
        cells = [f"{split[name].get(phase, (0.0, 0.0))[0]:6.1%} | {split[name].get(phase, (0.0, 0.0))[1]:6.1%}"
                 for name in split]
        lines.append(f"  {phase:<18} {cells[0]} ; {cells[1]}")
    return lines


def phase_split(records: list[Any]) -> dict[str, tuple[float, float]]:
    """Each top-level phase's share of the time and of the GPU energy, summed over runs."""
    time_s: dict[str, float] = {}
    gpu_j: dict[str, float] = {}
    for record in records:
        for p in record.phases:
            if p.top_level or p.phase == OUTSIDE:
                time_s[p.phase] = time_s.get(p.phase, 0.0) + p.duration_s
                gpu_j[p.phase] = gpu_j.get(p.phase, 0.0) + p.by_kind.get("gpu", 0.0)
    total_s, total_j = sum(time_s.values()) or 1.0, sum(gpu_j.values()) or 1.0
    return {name: (time_s[name] / total_s, gpu_j[name] / total_j) for name in time_s}


# -- 3. a 2-rank job on one GPU ----------------------------------------------------------------------------
JOB_MODEL = {"cuda": (1024, 4), "cpu": (64, 3)}  # (width, depth): smaller than part 2's, gloo all-reduces through the host


def job_model(device: str) -> str:
    width, depth = JOB_MODEL[device]
    return f"a {depth}x{width} MLP"


def part_job(setup: Setup) -> list[str]:
    from mlfootprint.jobs import summarize
    from mlfootprint.store import open_store

    seconds = setup.seconds(40.0, 2.0)
    project = f"gpu-suite-job-{os.getpid()}-{int(time.time())}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(Path(__file__).resolve()), "--worker", "rank", "--seconds", f"{seconds:g}", "--store", setup.store,
           "--device", setup.device, "--project", project]
    with CounterLog(setup) as counter_log:
        run_logged(cmd, setup.work / "job.log", timeout_s=seconds + 240, env=child_env())
    db = open_store(setup.store)
    rows = db.list_runs(project=project)
    job_ids = {r.job_id for r in rows}
    if len(rows) != 2 or len(job_ids) != 1 or None in job_ids:
        raise RuntimeError(f"expected the 2 ranks of one job in the store, found {len(rows)} runs of jobs {job_ids}")
    job_id = job_ids.pop()
    assert job_id is not None
    records = {r.job.rank: r for r in db.job_records(job_id) if r.job is not None}
    job = summarize(job_id, records.values())
    gpus = [d for d in job.devices if d.kind == "gpu"]
    owners = [d.rank for d in gpus if d.key == setup.board.key]
    if len(owners) != 1:
        raise RuntimeError(f"{setup.board.key} should be measured by exactly one rank; measured by ranks {owners}")
    owner = records[owners[0]]
    job_gpu_j = sum(d.energy_j for d in gpus)
    t0, t1 = run_window(owner)
    counter_j = counter_log.counter_between(t0, t1)
    first = min(run_window(r)[0] for r in records.values())
    last = max(run_window(r)[1] for r in records.values())
    lines = [
        f"launch: torchrun --standalone --nproc-per-node 2, gloo (NCCL refuses two ranks on one GPU), both ranks "
        f"on {setup.board.key}, each training "
        f"{job_model(setup.device)} under DDP for {seconds:g} s [{setup.compute}]",
        f"job {job.id}: {job.ranks} ranks, status {job.status}, wall {job.wall_s:.1f} s",
        f"{setup.board.key} is measured by rank {owners[0]} (lock per GPU and job, ownership.py)",
    ]
    for rank, record in sorted(records.items()):
        link = record.job
        assert link is not None
        lines.append(f"  rank {rank}: owns {', '.join(link.owns) or 'nothing'}; IT energy charged "
                     f"{record.energy_j:,.1f} J; {'; '.join(link.ownership) or 'no note'}")
    lines += [
        f"job GPU energy (sum over ranks, each device once): {job_gpu_j:,.3f} J [{setup.gpu_basis}]",
        f"NVML counter over the owning rank's run ({owner.duration_s:.2f} s, from the suite's 20 Hz log): "
        f"{counter_j:,.3f} J; ratio job / counter {job_gpu_j / counter_j:.4f} (2 would mean counted twice)",
        f"NVML counter over the job's whole window (first rank's start to last rank's end, {last - first:.2f} s): "
        f"{counter_log.counter_between(first, last):,.3f} J",
        f"job IT energy {job.energy_j:,.1f} J ({job.energy_basis}): "
        + "; ".join(f"{d.key} {d.energy_j:,.1f} J {d.method} by rank {d.rank}" for d in job.devices),
    ]
    return lines


def worker_rank(args: argparse.Namespace) -> None:
    """One rank of part 3: DDP over gloo on the shared GPU until the time is up (ranks agree when to stop)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import mlfootprint

    if args.device == "cpu":
        torch.set_num_threads(1)
    with mlfootprint.track(args.project, store=args.store, interval_s=0.5) as run:
        with run.phase("setup"):
            dist.init_process_group("gloo")
            trainer = Trainer(args.device, *JOB_MODEL[args.device])
            trainer.model = DistributedDataParallel(trainer.model, device_ids=[0] if args.device == "cuda" else None)
        deadline = time.monotonic() + args.seconds
        go, steps = torch.ones(1), 0
        while go.item() > 0:
            trainer.steps(5, run.phase)
            run.count(samples=5 * trainer.batch)
            steps += 5
            go[0] = 1.0 if time.monotonic() < deadline else 0.0
            dist.all_reduce(go, op=dist.ReduceOp.MIN)  # every rank stops after the same step
        trainer.sync()
        dist.barrier()
        dist.destroy_process_group()
    print(json.dumps({"rank": run.job.rank if run.job else None, "run": run.id, "steps": steps}))


# -- 4. serving -------------------------------------------------------------------------------------
def part_serving(setup: Setup) -> list[str]:
    from mlfootprint.store import open_store

    sys.path.insert(0, str(ROOT))
    from tests.net import free_port

    port = free_port()
    window_s = setup.seconds(5.0, 1.0)
    requests, concurrency = (4000 if not setup.short else 150), 8
    project = f"gpu-suite-serve-{os.getpid()}-{int(time.time())}"
    serve = [sys.executable, "-m", "mlfootprint", "serve", "--quiet", "--project", project, "--window", f"{window_s:g}",
             "--interval", "0.5", "--store", setup.store, "--metrics-url", f"http://127.0.0.1:{port}/metrics",
             "--requests-counter", "digits_requests_total", "--tokens-counter", "digits_images_total", "--",
             sys.executable, str(Path(__file__).resolve()), "--worker", "server", "--port", str(port),
             "--device", setup.device, "--project", project + "-app"]
    # flushes every half second, so the suite sees serve's first window (the wrapper's own setting, not the figures')
    env = child_env(MLFOOTPRINT_JOB="off", MLFOOTPRINT_FLUSH_INTERVAL_S="0.5")
    with started(serve, setup.work / "serve.log", env) as server:
        # serve counts from its first read of the counter: a load sent before it would be partly missed. A stored
        # window means that read happened (and gives an idle window before the load).
        first_window(open_store(setup.store), project, server, timeout_s=300)
        load = run_logged([sys.executable, str(ROOT / "examples" / "load_digits.py"), "--port", str(port),
                           "--requests", str(requests), "--concurrency", str(concurrency), "--wait", "240"],
                          setup.work / "load.log", timeout_s=600, env=env)
        time.sleep(2.5 * window_s)  # idle after the load: windows that serve nothing give the idle power
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/shutdown", data=b"{}"), timeout=10)
        rc = server.wait(timeout=120)
    if rc != 0:
        raise RuntimeError(f"mlfootprint serve exited with {rc}; see {setup.work / 'serve.log'}")
    db = open_store(setup.store)
    record = db.get_run(db.list_runs(project=project)[0].id)
    s = record.serving
    if s is None or not s.requests:
        raise RuntimeError(f"the serve run {record.id} has no serving windows with requests")
    per = s.energy_per_request_j
    gpu = component(record, setup.board.key)
    idle_windows = sum(1 for w in s.series if w.requests <= 0)

    def j(value: float | None) -> str:
        return "-" if value is None else f"{value:,.4f} J"
    return [
        f"server: examples/serve_fastapi.py's app (FootprintMiddleware, Prometheus counters) serving a randomly "
        f"initialised digits CNN [{setup.compute}], under `mlfootprint serve --window {window_s:g}`",
        f"load: examples/load_digits.py --requests {requests} --concurrency {concurrency}: "
        f"{load.strip().splitlines()[-1]} (random weights: accuracy is chance)",
        f"windows: {s.windows} ({idle_windows} served nothing), {s.duration_s:.1f} s, {s.requests:.0f} requests "
        "(the server's digits_requests_total counter)",
        f"IT energy per request, idle included: {j(per.idle_included)}; idle excluded: {j(per.idle_excluded)}; "
        f"above idle: {j(per.above_idle)}; p50 over windows: {j(per.p50)} [energy {s.basis}: {setup.board.key} "
        f"{setup.gpu_basis}; {others(record, setup.board.key)}]",
        f"idle power {('-' if s.idle_power_w is None else f'{s.idle_power_w:,.1f} W')}, idle share "
        f"{('-' if s.idle_share is None else f'{s.idle_share:.1%}')}",
        f"GPU alone over the whole run, the server's start included: {gpu.energy_j:,.3f} J over "
        f"{record.duration_s:.2f} s, mean {gpu.energy_j / record.duration_s:,.1f} W [{setup.gpu_basis}]",
    ]


def first_window(db: Any, project: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Until the serve run of `project` has stored a serving window; RuntimeError if serve ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlfootprint serve ended (status {server.returncode}) before its first window")
        try:
            rows = db.list_runs(project=project)
            if rows and db.get_run(rows[0].id).serving is not None:
                return
        except Exception as exc:  # the store busy with serve's write: read again
            log.debug("store not readable yet: %s", exc)
        time.sleep(0.2)
    raise RuntimeError(f"mlfootprint serve stored no window within {timeout_s:.0f} s")


def worker_server(args: argparse.Namespace) -> None:
    """The server of part 4: examples/serve_fastapi.py's app around a randomly initialised digits CNN on `device`."""
    import torch
    import uvicorn
    from torch import nn

    sys.path.insert(0, str(ROOT / "examples"))
    import digits
    import serve_fastapi

    class OnDevice(nn.Module):
        """The app hands CPU tensors in and reads CPU tensors out; the model runs on the device."""

        def __init__(self, inner: nn.Module, device: str) -> None:
            super().__init__()
            self.inner, self.device = inner, device

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.inner(x.to(self.device)).float().cpu()
            return out

    torch.manual_seed(0)
    if args.device == "cpu":
        torch.set_num_threads(1)
    model = OnDevice(digits.build_model().to(args.device).eval(), args.device)
    app = serve_fastapi.build_app(model, batching=False, max_batch=32, wait_s=0.005, project=args.project)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))

    def stop() -> None:
        server.should_exit = True
    app.state.should_exit = stop
    server.run()


# -- 5. start-up and markers ---------------------------------------------------------------------------
def part_overhead(setup: Setup) -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import overhead

    warm, fresh = (5, 2) if setup.short else (20, 10)
    warm_ms, fresh_ms = overhead.start_stop_cost_ms(setup.store, repeats=warm, fresh_runs=fresh)
    n = 100_000 if setup.short else 1_000_000
    marker_ns, null_ns = overhead.marker_cost_ns(n, setup.track("gpu-suite-markers"))
    n_sync = 10_000 if setup.short else 20_000
    sync_ns, _ = overhead.marker_cost_ns(n_sync, setup.track("gpu-suite-markers", sync_cuda=True))
    with setup.track("gpu-suite-sensors") as run:
        sensors = ", ".join(sorted(c.key for c in run.snapshot().channels))
    sync_note = ("on an idle GPU" if setup.cuda else
                 "no CUDA here: nothing to synchronize, so this is the plain marker again")
    return [
        f"every figure below is a time measured by perf_counter, with the sensors a run reads here: {sensors}",
        f"start + stop of a run in a warm process: {warm_ms:.1f} ms (median of {warm})",
        f"import + start + stop in a fresh process: {fresh_ms:.0f} ms (median of {fresh} processes)",
        f"phase marker enter+exit: {marker_ns:,.0f} ns (a bare `with nullcontext()`: {null_ns:,.0f} ns; {n:,} "
        "each, an empty loop subtracted)",
        f"phase marker enter+exit with sync_cuda ({sync_note}): {sync_ns / 1000:,.2f} us ({n_sync:,} each)",
    ]


PARTS: list[tuple[str, Callable[[Setup], list[str]]]] = [
    ("NVML energy counter vs the 20 Hz integral of NVML power readings: a consistency check of ONE sensor "
     "(both are the board's own readings)", part_counter),
    ("A training loop with phases, without and with sync_cuda", part_phases),
    ("A 2-rank job sharing the GPU, counted once", part_job),
    ("Serving under `mlfootprint serve`: energy per request", part_serving),
    ("Start-up and phase-marker overhead on this machine", part_overhead),
]


def prepare(args: argparse.Namespace) -> Setup:
    """NVML's board and torch's device, or SuiteError saying why the suite cannot run here."""
    if args.simulate:
        sys.path.insert(0, str(FAKE_NVML))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKE_NVML), os.environ.get("PYTHONPATH")]))
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        raise SuiteError("pynvml (nvidia-ml-py) is not installed: pip install nvidia-ml-py; or --simulate") from None
    board = find_board(nvml)
    # everything the suite starts (ranks, server, fresh processes) sees this one GPU, and the meter with it
    os.environ["CUDA_VISIBLE_DEVICES"] = board.uuid
    import torch

    device = "cpu"
    if board.simulated is not None:
        # a fake board has no driver device nodes: NVIDIA_VISIBLE_DEVICES (what a container runtime sets) makes
        # mlfootprint try NVML anyway, in this process and in every one the suite starts
        os.environ.setdefault("NVIDIA_VISIBLE_DEVICES", "all")
        torch.set_num_threads(1)  # CPU tensors on a shared machine: one thread keeps the arms comparable
    else:
        if not torch.cuda.is_available():
            raise SuiteError(f"torch {torch.__version__} cannot use CUDA here: the suite needs a CUDA build of "
                             "PyTorch (or --simulate: fake NVML, CPU tensors)")
        device = "cuda"
    return Setup(board, nvml, device, args.short, args.store, args.work)


def header(setup: Setup, argv: list[str], total_s: float, limits: tuple[float | None, float | None]) -> list[str]:
    import torch

    import mlfootprint

    board = setup.board
    cuda = f"CUDA {torch.version.cuda}" if setup.cuda else "CPU tensors"
    lines = [
        f"# python benchmarks/gpu_suite.py {shlex.join(argv)}".rstrip(),
        f"# {datetime.now().astimezone().isoformat(timespec='seconds')}; {total_s:.0f} s in all "
        f"({'short mode' if setup.short else f'the full suite must finish in under {BUDGET_S:.0f} s'})",
        f"# GPU: {board.name} (NVML index {board.index}, {board.uuid}), driver {board.driver}, power limit "
        + ("unreadable" if limits[0] is None else f"{limits[0]:g} W"),
        f"# host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch "
        f"{torch.__version__} ({cuda}), mlfootprint {mlfootprint.__version__}",
        f"# compute: {setup.compute}",
        f"# GPU energy: {setup.gpu_basis}; CPU and RAM: as each run's components say (method given with each); "
        "times: wall clock",
    ]
    if board.simulated:
        lines.append(f"# SIMULATED: {board.simulated}. These figures exercise the suite's code; they are not GPU "
                     "measurements.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="seconds instead of minutes per part")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/gpu_suite_<gpu>.txt; "
                        "simulated: out/gpu_suite_<gpu>.txt)")
    parser.add_argument("--store", help="where the suite's runs are stored (default: a new temporary SQLite file)")
    parser.add_argument("--simulate", action="store_true", help="no GPU: the fake NVML of tests/fakes, CPU tensors")
    # the processes the suite starts run this file again
    parser.add_argument("--worker", choices=("rank", "server"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--project", default="gpu-suite", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "rank":
        return worker_rank(args)
    if args.worker == "server":
        return worker_server(args)

    logging.basicConfig(level=logging.INFO, format="gpu_suite: %(message)s")
    logging.getLogger("mlfootprint").setLevel(logging.ERROR)
    for key in [k for k in os.environ if k.startswith(FOREIGN_ENV)]:
        del os.environ[key]  # the suite's runs are its own, with default settings
    args.work = Path(tempfile.mkdtemp(prefix="gpu-suite-"))
    args.store = str(Path(args.store).resolve()) if args.store else str(args.work / "runs.db")
    out = args.out.resolve() if args.out else None
    try:
        if out is not None and (out.is_dir() or not out.parent.is_dir()):
            raise SuiteError(f"--out {args.out}: give a file in an existing folder")
        setup = prepare(args)
    except SuiteError as exc:
        print(f"gpu_suite: {exc}", file=sys.stderr)
        sys.exit(2)
    os.chdir(args.work)  # no mlfootprint.toml of the caller's folder changes the suite's settings
    log.info("%s (%s); runs in %s, logs in %s", setup.board.name, setup.compute, setup.store, setup.work)
    limit_before = power_limit_w(setup)
    started_at, sections, failed = time.monotonic(), [], False
    for number, (title, part) in enumerate(PARTS, 1):
        t0 = time.monotonic()
        log.info("part %d: %s", number, title)
        try:
            lines = part(setup)
        except Exception as exc:
            traceback.print_exc()
            lines, failed = [f"FAILED: {type(exc).__name__}: {exc}"], True
        sections.append(["", f"## {number}. {title} ({time.monotonic() - t0:.0f} s)", *lines])
        log.info("\n".join(sections[-1][2:]))
    limit_after = power_limit_w(setup)
    total_s = time.monotonic() - started_at
    argv = list(sys.argv[1:])
    text = "\n".join(header(setup, argv, total_s, (limit_before, limit_after)) + [ln for s in sections for ln in s] + [
        "",
        f"power limit before / after the suite: {limit_before} W / {limit_after} W: "
        + ("unchanged" if limit_before == limit_after else "CHANGED (by something else: the suite sets no limit)")
        + "; the suite sets no power or clock limit",
    ]) + "\n"
    if not setup.short and total_s > BUDGET_S:
        text += f"over budget: {total_s:.0f} s against {BUDGET_S:.0f} s\n"
    if out is None:
        folder = ROOT / ("out" if setup.board.simulated else "benchmarks/results")
        out = folder / f"gpu_suite_{setup.board.slug}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log.info("wrote %s", out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
