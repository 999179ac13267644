"""A stand-in for the `pynvml` module (nvidia-ml-py) with scripted GPUs.

It mirrors the real module where the sensor touches it: handles from indices, bytes-or-str names
and UUIDs, NVMLError with a `value`, energy in millijoules, power in milliwatts, process objects
with `.pid`, and NOT_SUPPORTED from the energy counter on pre-Volta boards.
"""

from __future__ import annotations

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
