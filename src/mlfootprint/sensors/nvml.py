"""NVIDIA GPU energy through NVML (nvidia-ml-py, imported as `pynvml`).

Volta and newer GPUs keep a total-energy counter (millijoules since the driver loaded): we difference
it, which loses nothing between reads. Older GPUs only report power (milliwatts), which the meter
integrates. Only the GPUs this process can see are read: `CUDA_VISIBLE_DEVICES` is honoured, with
indices or (prefixes of) UUIDs. Indices are taken in NVML (PCI bus) order, which is CUDA's order
only with `CUDA_DEVICE_ORDER=PCI_BUS_ID`; UUIDs are unambiguous and recommended on mixed machines.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .gpu import Gpu, GpuControlError, GpuNotSupportedError, GpuPermissionError, GpuSensor
from .library import Initialized

log = logging.getLogger("mlfootprint")

# nvmlInit costs tens of milliseconds: once per process, shut down at exit (library.py)
_initialized = Initialized("nvmlInit", "nvmlShutdown")
_ensure_init = _initialized.ensure


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def visible_indices(spec: str | None, uuids: list[str]) -> tuple[list[int], list[str]]:
    """Indices (NVML order) selected by a CUDA_VISIBLE_DEVICES value, and warnings.

    Follows CUDA: entries are read up to the first one that matches no device; an empty value
    hides every GPU; `None` (unset) shows all.
    """
    if spec is None:
        return list(range(len(uuids))), []
    chosen: list[int] = []
    warnings: list[str] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            break
        if entry.startswith("MIG-"):
            warnings.append(f"CUDA_VISIBLE_DEVICES entry {entry!r} is a MIG instance: NVML gives no "
                            "per-instance energy, so it is not measured")
            continue
        if entry.lstrip("-").isdigit():
            index = int(entry)
            if not 0 <= index < len(uuids):
                break
        else:
            matches = [i for i, u in enumerate(uuids) if u.startswith(entry) or u == f"GPU-{entry}"
                       or u.startswith(f"GPU-{entry}")]
            if len(matches) != 1:
                break
            index = matches[0]
        if index not in chosen:
            chosen.append(index)
    return chosen, warnings


class NvmlSensor(GpuSensor):
    """Reads every visible NVIDIA GPU. Build it with `NvmlSensor.discover()`."""

    LIBRARY, COUNTER_METHOD, POWER_METHOD = "NVML", "nvml-energy-counter", "nvml-power"

    @classmethod
    def discover(cls, env: Mapping[str, str] | None = None) -> tuple[NvmlSensor | None, list[str]]:
        """The sensor if NVML loads and at least one GPU is visible, and warnings worth showing."""
        variables: Mapping[str, str] = os.environ if env is None else env
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError:
            return None, []
        try:
            _ensure_init(nvml)
        except Exception:  # no driver / no GPU: the common case on CPU machines, not worth a warning
            return None, []
        try:
            count = nvml.nvmlDeviceGetCount()
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
            indices, warnings = visible_indices(variables.get("CUDA_VISIBLE_DEVICES"), uuids)
            gpus = []
            for i in indices:
                handle = handles[i]
                gpus.append(Gpu(i, handle, _text(nvml.nvmlDeviceGetName(handle)), uuids[i],
                                 _has_counter(nvml, handle)))
        except Exception as exc:
            return None, [f"NVML is present but could not list GPUs ({exc}); GPU energy is not measured"]
        if not gpus:
            return None, warnings
        for gpu in gpus:
            if not gpu.has_counter:
                warnings.append(f"GPU {gpu.index} ({gpu.name}) has no energy counter (pre-Volta): its "
                                "power is sampled and integrated, so short spikes between samples are missed")
        return cls(nvml, gpus), warnings

    def _energy_j(self, g: Gpu) -> float:
        return float(self._lib.nvmlDeviceGetTotalEnergyConsumption(g.handle)) / 1e3

    def _power_w(self, g: Gpu) -> float:
        return float(self._lib.nvmlDeviceGetPowerUsage(g.handle)) / 1e3

    def _limits_w(self, g: Gpu) -> tuple[float, float, float, float]:
        lib = self._lib
        low_mw, high_mw = lib.nvmlDeviceGetPowerManagementLimitConstraints(g.handle)
        return (lib.nvmlDeviceGetPowerManagementLimit(g.handle) / 1e3,
                lib.nvmlDeviceGetPowerManagementDefaultLimit(g.handle) / 1e3, low_mw / 1e3, high_mw / 1e3)

    def _write_limit_w(self, g: Gpu, watts: float) -> None:
        self._lib.nvmlDeviceSetPowerManagementLimit(g.handle, int(round(watts * 1e3)))

    def _error_kind(self, exc: Exception) -> type[GpuControlError]:
        value = getattr(exc, "value", None)
        if value == getattr(self._lib, "NVML_ERROR_NO_PERMISSION", 4):
            return GpuPermissionError
        if value == getattr(self._lib, "NVML_ERROR_NOT_SUPPORTED", 3):
            return GpuNotSupportedError
        return GpuControlError

    def pids_by_key(self) -> dict[str, set[int] | None]:
        """Processes with a compute or graphics context on each GPU; None where NVML cannot tell."""
        result: dict[str, set[int] | None] = {}
        for g in self._gpus:
            pids: set[int] | None = set()
            for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                try:
                    pids |= {p.pid for p in getattr(self._lib, getter)(g.handle)}  # type: ignore[operator]
                except Exception:
                    pids = None
                    break
            result[g.key] = pids
        return result


def _has_counter(nvml: ModuleType, handle: Any) -> bool:
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        return True
    except Exception:
        return False

