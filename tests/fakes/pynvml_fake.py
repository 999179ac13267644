"""A stand-in for the `pynvml` module (nvidia-ml-py) with scripted GPUs.

It mirrors the real module where the sensor touches it: handles from indices, bytes-or-str names
and UUIDs, NVMLError with a `value`, energy in millijoules, power in milliwatts, process objects
with `.pid`, and NOT_SUPPORTED from the energy counter on pre-Volta boards.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_GPU_IS_LOST = 15


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {1: "Uninitialized", 3: "Not Supported", 4: "Insufficient Permissions",
                15: "GPU is lost"}.get(self.value, f"NVML error {self.value}")


@dataclass
class FakeGpu:
    name: str
    uuid: str
    power_w: float
    has_counter: bool = True
    fail_after_reads: int | None = None  # raises GPU_IS_LOST after this many energy/power reads
    pids: list[int] = field(default_factory=list)
    default_limit_mw: int = 700_000
    min_limit_mw: int = 200_000
    max_limit_mw: int = 700_000
    limit_mw: int = 700_000
    can_set_limit: bool = True
    limit_history: list[int] = field(default_factory=list)
    energy_mj: float = 0.0
    reads: int = 0


class FakeNvml:
    """Build one, then `install(monkeypatch)` to make `import pynvml` return it."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.initialized = False
        self.shutdowns = 0

    def advance(self, seconds: float) -> None:
        """Let the GPUs draw their power for `seconds`."""
        for g in self.gpus:
            g.energy_mj += g.power_w * seconds * 1e3

    def _check(self) -> None:
        if not self.initialized:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _read(self, h: FakeGpu) -> None:
        h.reads += 1
        if h.fail_after_reads is not None and h.reads > h.fail_after_reads:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)

    # -- the subset of pynvml the sensor uses ---------------------------------------------------
    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self.initialized = False
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> FakeGpu:
        self._check()
        return self.gpus[i]

    def nvmlDeviceGetName(self, h: FakeGpu) -> bytes:
        return h.name.encode()  # older nvidia-ml-py returned bytes

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        return h.uuid

    def nvmlDeviceGetTotalEnergyConsumption(self, h: FakeGpu) -> int:
        self._check()
        if not h.has_counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        self._read(h)
        return int(h.energy_mj)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        self._check()
        self._read(h)
        return int(h.power_w * 1e3)

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        self._check()
        return [SimpleNamespace(pid=p, usedGpuMemory=1 << 30) for p in h.pids]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        self._check()
        return []

    def nvmlDeviceGetPowerManagementLimit(self, h: FakeGpu) -> int:
        return h.limit_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: FakeGpu) -> int:
        return h.default_limit_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h: FakeGpu) -> list[int]:
        return [h.min_limit_mw, h.max_limit_mw]

    def nvmlDeviceSetPowerManagementLimit(self, h: FakeGpu, limit_mw: int) -> None:
        self._check()
        if not h.can_set_limit:
            raise NVMLError(NVML_ERROR_NO_PERMISSION)
        if not h.min_limit_mw <= limit_mw <= h.max_limit_mw:
            raise NVMLError(2)  # invalid argument
        h.limit_mw = limit_mw
        h.limit_history.append(limit_mw)

    def install(self, monkeypatch) -> "FakeNvml":  # type: ignore[no-untyped-def]
        import sys
        from types import ModuleType

        module = ModuleType("pynvml")
        for name in dir(self):
            if name.startswith("nvml") or name == "NVMLError":
                setattr(module, name, getattr(self, name))
        monkeypatch.setitem(sys.modules, "pynvml", module)
        from mlfootprint.sensors import nvml as sensor  # NVML is initialised once per module object: a new
        monkeypatch.setattr(sensor._initialized, "modules", {})  # fake must not inherit an old one's id
        return self


@dataclass(frozen=True)
class ScriptedPower:
    """A board whose power follows wall-clock time: base + amplitude * sin(2 pi t / period).

    Its energy counter is the exact integral since `epoch_s`, so processes that read it at the same
    moment agree (the ranks of a job, a server and the wrapper measuring it), and a check can compute
    what any window should hold from the window's two ends alone.
    """

    base_w: float = 300.0
    amplitude_w: float = 40.0
    period_s: float = 1.0
    epoch_s: float = 1.7e9  # the "driver load" time the counter starts from

    @property
    def omega(self) -> float:
        return 2 * math.pi / self.period_s

    def power_w(self, t_s: float) -> float:
        return self.base_w + self.amplitude_w * math.sin(self.omega * t_s)

    def energy_j(self, t_s: float) -> float:
        """Energy since `epoch_s`, exactly."""
        return (self.base_w * (t_s - self.epoch_s)
                + self.amplitude_w / self.omega * (math.cos(self.omega * self.epoch_s) - math.cos(self.omega * t_s)))

    def mean_w_bound(self, duration_s: float) -> float:
        """How far the mean power over any window of `duration_s` can be from `base_w`."""
        return self.amplitude_w * min(1.0, 2 / (self.omega * duration_s))

    def trapezoid_bound_rel(self, longest_step_s: float) -> float:
        """A bound on |counter - trapezoid integral| / counter for samples at most `longest_step_s` apart:
        each trapezoid errs by at most step^3 * max|P''| / 12, and max|P''| = amplitude * omega^2."""
        return self.amplitude_w * self.omega ** 2 * longest_step_s ** 2 / 12 / (self.base_w - self.amplitude_w)


SUITE_POWER = ScriptedPower()  # the board tests/fakes/pynvml_on_path/pynvml.py simulates


class WallClockNvml(FakeNvml):
    """FakeNvml whose GPUs draw `power` at wall-clock time: counter and power readings are functions of
    time.time(), so every process importing it sees the same board without sharing anything."""

    def __init__(self, gpus: list[FakeGpu], power: ScriptedPower,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(gpus)
        self.power, self.clock = power, clock

    def nvmlSystemGetDriverVersion(self) -> str:
        return "fake"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: FakeGpu) -> int:
        self._check()
        self._read(h)
        return int(self.power.energy_j(self.clock()) * 1e3)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        self._check()
        self._read(h)
        return int(self.power.power_w(self.clock()) * 1e3)
