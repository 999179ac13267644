"""Modelled CPU power where no energy counter can be read: utilization (psutil) × a cited power figure.

Two models, both labelled `modelled` with their uncertainty:
* the CPU model is in data/cpu_tdp.csv: logical CPUs visible × TDP / threads per socket ×
  utilization (Green Algorithms' TDP × usage method), from an idle floor of Cloud Carbon Footprint's
  minimum watts per vCPU (a server at 0 % draws tens of watts, not 0). A VM with 4 of a host's 128
  threads is charged 4/128 of the socket, never the whole socket;
* otherwise (unknown models, and VMs that only say "AMD EPYC"): Cloud Carbon Footprint's fleet
  average per vCPU, min + utilization × (max - min) — so an idle VM is not reported as drawing 0 W.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..constants import (UNCERTAINTY_TDP_MODEL, UNCERTAINTY_VCPU_MODEL, VCPU_MAX_W, VCPU_MIN_W)
from ..data import rows
from .base import Channel, Reading
from .procfs import cpu_times, logical_cpus


@dataclass(frozen=True)
class CpuSpec:
    model: str
    match: tuple[str, ...]
    tdp_w: float
    cores: int
    threads: int
    year: int
    source: str


@lru_cache(maxsize=1)
def cpu_table() -> tuple[CpuSpec, ...]:
    return tuple(
        CpuSpec(r["model"], tuple(r["match"].lower().split()), float(r["tdp_w"]), int(r["cores"]),
                int(r["threads"]), int(r["year"]), r["source"])
        for r in rows("cpu_tdp.csv")
    )


def _normalize(brand: str) -> str:
    brand = re.sub(r"\((r|tm)\)", " ", brand.lower())
    return " ".join(brand.split())


def find_cpu(brand: str) -> CpuSpec | None:
    """The table row whose match tokens all occur in the brand string (longest match wins)."""
    words = _normalize(brand)
    hits = [spec for spec in cpu_table() if all(tok in words for tok in spec.match)]
    return max(hits, key=lambda s: len(" ".join(s.match)), default=None)


def cpu_brand(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's marketing name, as the OS reports it."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _logical_cpus() -> int:
    return logical_cpus()


class CpuModelSensor:
    """Machine-wide modelled CPU power, averaged over each interval between reads."""

    key = "cpu:modelled"

    def __init__(self, brand: str | None = None, logical_cpus: int | None = None) -> None:
        self.brand = brand or cpu_brand()
        self.logical_cpus = logical_cpus or _logical_cpus()
        self.spec = find_cpu(self.brand)
        # our own reference point: psutil.cpu_percent(None) keeps one per process, which any other
        # caller (a system-metrics logger, a second run) would move under our feet
        self._last = cpu_times()

    @property
    def source(self) -> str:
        if self.spec:
            return (f"tdp×utilization ({self.spec.model}, {self.spec.tdp_w:g} W per {self.spec.threads} "
                    f"threads, {self.spec.source}; idle floor {VCPU_MIN_W.value} W per thread, {VCPU_MIN_W.source})")
        return (f"vcpu-model×utilization ({self.logical_cpus} vCPU × {VCPU_MIN_W.value}–{VCPU_MAX_W.value} W, "
                f"{VCPU_MIN_W.source}, {VCPU_MIN_W.year})")

    def power_w(self, utilization: float) -> float:
        """Modelled machine CPU power at a utilization between 0 and 1."""
        if self.spec:
            per_thread_w = self.spec.tdp_w / self.spec.threads
            floor_w = min(VCPU_MIN_W.value, per_thread_w)
            return self.logical_cpus * (floor_w + utilization * (per_thread_w - floor_w))
        return self.logical_cpus * (VCPU_MIN_W.value + utilization * (VCPU_MAX_W.value - VCPU_MIN_W.value))

    def channels(self) -> list[Channel]:
        uncertainty = UNCERTAINTY_TDP_MODEL if self.spec else UNCERTAINTY_VCPU_MODEL
        name = f"{self.brand} ({self.logical_cpus} logical CPUs)"  # the count says how much of it was modelled
        return [Channel(self.key, "cpu", name, "modelled", self.source, uncertainty, "power-interval-mean")]

    def utilization(self) -> float:
        """Share of the machine's CPU time that was busy since the previous call."""
        now = cpu_times()
        d_total = now.total_s - self._last.total_s
        d_busy = now.busy_s - self._last.busy_s
        self._last = now
        return min(1.0, max(0.0, d_busy / d_total)) if d_total > 0 else 0.0

    def read(self) -> list[Reading]:
        return [Reading(self.key, power_w=self.power_w(self.utilization()))]

    def close(self) -> None:
        pass
