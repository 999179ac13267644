"""A small fleet whose energy is known exactly: series written as OpenMetrics for promtool to backfill.

Six GPUs on three hosts (DCGM exporter names, millijoules, Kubernetes labels while a pod holds a GPU),
the pods' CPU energy (Kepler names, joules, counters that start at zero), and vLLM request and token
counters of two served models. Power is smooth and known in closed form, so each group's energy over
any window is an integral computed here, independently of the code under test. Built in:

* a GPU that is idle, then taken by a pod (its series change labels), one taken by a pod that ends,
  one idle throughout: the unallocated group;
* a counter reset (a driver reload) on one GPU, and a server restart in one model's counters;
* a 10-minute scrape gap and an 80-minute one (longer than a tile) on one GPU;
* a second source (Kepler) with a zone that must not be summed (core is part of package);
* the node exporter's RAPL package counter of each host, which wraps every twenty minutes or so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

STEP_S = 15.0
HOUR = 3600.0
LIFETIME_MJ = 7.3e9  # a GPU's energy counter before the data starts (mJ): not energy of the window
RAPL_RANGE_J = 262143.328850  # a package's max_energy_range_uj / 1e6: where its counter wraps
HOST_BASE_W = 55.0  # a host's package power besides its pods


@dataclass(frozen=True)
class Wave:
    """Power base + amp * sin(2 pi (t - t0) / period), watts; `energy(a, b)` its exact integral."""

    base: float
    amp: float
    period: float

    def energy(self, t0: float, a: float, b: float) -> float:
        def f(t: float) -> float:
            x = t - t0
            return self.base * x - self.amp * self.period / (2 * math.pi) * math.cos(2 * math.pi * x / self.period)
        return f(b) - f(a)


@dataclass
class Segment:
    """A stretch of a GPU's life with one set of pod labels (None: allocated to no pod)."""

    start: float
    end: float
    pod: tuple[str, str] | None  # (namespace, pod)


@dataclass
class Gpu:
    host: str
    index: str
    wave: Wave
    segments: list[Segment]
    reset_at: float | None = None  # the counter restarts from zero here
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no samples in (a, b)


@dataclass
class Pod:
    namespace: str
    name: str
    host: str
    start: float
    end: float
    cpu: Wave
    dram_w: float = 0.0


@dataclass
class Served:
    namespace: str
    pod: str
    model: str
    start: float
    end: float
    requests_per_s: float
    tokens_per_request: float
    restart_at: float | None = None


class Fleet:
    def __init__(self, t0: float) -> None:
        self.t0 = t0
        h = HOUR
        self.end = t0 + 6 * h + 600  # samples a little past the last window's end
        w = Wave
        self.gpus = [
            Gpu("node-a", "0", w(310, 60, 5400), [Segment(t0, self.end, ("team-a", "train-1"))]),
            Gpu("node-a", "1", w(240, 90, 3000), [Segment(t0, t0 + 2 * h, None),
                                                 Segment(t0 + 2 * h, self.end, ("team-b", "serve-1"))]),
            Gpu("node-b", "0", w(330, 40, 7200), [Segment(t0, self.end, ("team-a", "train-2"))],
                reset_at=t0 + 3 * h - 7.5),
            Gpu("node-b", "1", w(200, 70, 4000), [Segment(t0, self.end, ("team-b", "serve-2"))],
                gaps=[(t0 + 2 * h + 1200, t0 + 2 * h + 1800), (t0 + 3 * h + 3000, t0 + 5 * h + 600)]),
            Gpu("node-c", "0", w(70, 5, 6000), [Segment(t0, self.end, None)]),
            Gpu("node-c", "1", w(280, 50, 4500), [Segment(t0, t0 + 4 * h, ("team-c", "job-1")),
                                                 Segment(t0 + 4 * h, self.end, None)]),
        ]
        self.pods = [
            Pod("team-a", "train-1", "node-a", t0, self.end, w(95, 20, 2000), dram_w=14.0),
            Pod("team-b", "serve-1", "node-a", t0 + 2 * h, self.end, w(40, 10, 1500)),
            Pod("team-a", "train-2", "node-b", t0, self.end, w(110, 15, 2500)),
            Pod("team-b", "serve-2", "node-b", t0, self.end, w(35, 8, 1800)),
            Pod("team-c", "job-1", "node-c", t0, t0 + 4 * h, w(60, 12, 2200)),
        ]
        self.served = [
            Served("team-b", "serve-1", "llama-3-8b", t0 + 2 * h, self.end, 2.5, 240.0),
            Served("team-b", "serve-2", "mistral-7b", t0, self.end, 4.0, 180.0, restart_at=t0 + 4 * h - 7.5),
        ]

    # -- the series ---------------------------------------------------------------------------------------
    def _times(self, start: float, end: float, offset: float) -> list[float]:
        k = math.ceil((start - self.t0 - offset) / STEP_S)
        out = []
        while (t := self.t0 + offset + k * STEP_S) < end:
            out.append(t)
            k += 1
        return out

    def dcgm(self) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        series = []
        for g in self.gpus:
            base = {"Hostname": g.host, "gpu": g.index, "UUID": f"GPU-{g.host}-{g.index}",
                    "modelName": "NVIDIA H100 80GB HBM3", "DCGM_FI_DRIVER_VERSION": "550.54.15"}
            for seg in g.segments:
                labels = dict(base)
                if seg.pod:
                    labels.update(namespace=seg.pod[0], pod=seg.pod[1], container="main")
                samples = []
                for t in self._times(seg.start, seg.end, 0.0):
                    if any(a < t < b for a, b in g.gaps):
                        continue
                    if g.reset_at is not None and t >= g.reset_at:
                        joules = g.wave.energy(self.t0, g.reset_at, t)
                        samples.append((t, joules * 1000))
                    else:
                        samples.append((t, LIFETIME_MJ + g.wave.energy(self.t0, self.t0, t) * 1000))
                series.append((labels, samples))
        return series

    def kepler(self) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        series = []
        for p in self.pods:
            labels = {"pod_name": p.name, "pod_namespace": p.namespace, "node_name": p.host, "state": "running",
                      "pod_id": f"uid-{p.name}"}
            times = self._times(p.start, p.end, 5.0)
            series.append(({**labels, "zone": "package"}, [(t, p.cpu.energy(self.t0, p.start, t)) for t in times]))
            if p.dram_w:
                series.append(({**labels, "zone": "dram"}, [(t, p.dram_w * (t - p.start)) for t in times]))
                # core is inside package: a preset that summed it would count it twice
                series.append(({**labels, "zone": "core"}, [(t, 0.8 * p.cpu.energy(self.t0, p.start, t))
                                                            for t in times]))
        return series

    def vllm(self) -> dict[str, list[tuple[dict[str, str], list[tuple[float, float]]]]]:
        requests, tokens = [], []
        for s in self.served:
            labels = {"namespace": s.namespace, "pod": s.pod, "model_name": s.model}
            req, tok = [], []
            for t in self._times(s.start, s.end, 3.0):
                since = s.restart_at if s.restart_at is not None and t >= s.restart_at else s.start
                n = s.requests_per_s * (t - since)
                req.append((t, float(math.floor(n))))
                tok.append((t, float(math.floor(n * s.tokens_per_request))))
            requests.append((labels, req))
            tokens.append((labels, tok))
        return {"vllm:request_success_total": requests, "vllm:generation_tokens_total": tokens}

    def host_energy(self, host: str, a: float, b: float) -> float:
        """A host's package energy: a base power and its pods' CPU power."""
        total = HOST_BASE_W * (b - a)
        for p in self.pods:
            lo, hi = max(a, p.start), min(b, p.end)
            if p.host == host and hi > lo:
                total += p.cpu.energy(self.t0, lo, hi)
        return total

    def rapl(self) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        series = []
        for host in sorted({g.host for g in self.gpus}):
            labels = {"instance": f"{host}:9100", "index": "0", "path": "/sys/class/powercap/intel-rapl:0"}
            samples = [(t, (1.0e5 + self.host_energy(host, self.t0, t)) % RAPL_RANGE_J)
                       for t in self._times(self.t0, self.end, 7.0)]
            series.append((labels, samples))
        return series

    def openmetrics(self) -> str:
        families = {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": self.dcgm(), "kepler_pod_cpu_joules_total": self.kepler(),
                    "node_rapl_package_joules_total": self.rapl(), **self.vllm()}
        lines = []
        for name, series in families.items():
            for labels, samples in series:
                text = ",".join(f'{k}="{v}"' for k, v in labels.items())
                lines.extend(f"{name}{{{text}}} {v!r} {t:.3f}" for t, v in samples)
        return "\n".join(lines) + "\n# EOF\n"

    # -- what the fleet view should find ----------------------------------------------------------------------
    def expected(self, a: float, b: float, *, cpu: bool = True) -> dict[str, float]:
        """Joules per namespace (and the unallocated group) over a < t < b: the integrals of power."""
        out: dict[str, float] = {}
        for g in self.gpus:
            for seg in g.segments:
                lo, hi = max(a, seg.start), min(b, seg.end)
                if hi > lo:
                    key = seg.pod[0] if seg.pod else "unallocated"
                    out[key] = out.get(key, 0.0) + g.wave.energy(self.t0, lo, hi)
        if cpu:
            for p in self.pods:
                lo, hi = max(a, p.start), min(b, p.end)
                if hi > lo:
                    out[p.namespace] = out.get(p.namespace, 0.0) + p.cpu.energy(self.t0, lo, hi) + p.dram_w * (hi - lo)
        return out

    def pod_energy(self, namespace: str, pod: str, a: float, b: float) -> float:
        total = 0.0
        for g in self.gpus:
            for seg in g.segments:
                if seg.pod == (namespace, pod):
                    lo, hi = max(a, seg.start), min(b, seg.end)
                    total += g.wave.energy(self.t0, lo, hi) if hi > lo else 0.0
        for p in self.pods:
            if (p.namespace, p.name) == (namespace, pod):
                lo, hi = max(a, p.start), min(b, p.end)
                total += p.cpu.energy(self.t0, lo, hi) + p.dram_w * (hi - lo) if hi > lo else 0.0
        return total

    def requests(self, model: str, a: float, b: float) -> float:
        s = next(x for x in self.served if x.model == model)
        lo, hi = max(a, s.start), min(b, s.end)
        return s.requests_per_s * (hi - lo)
