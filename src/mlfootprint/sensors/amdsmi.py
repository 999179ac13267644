"""AMD Instinct GPU energy through AMD SMI (the `amdsmi` Python package shipped with ROCm).

MI200 and newer keep an energy accumulator: `amdsmi_get_energy_count` returns the accumulated ticks
(`energy_accumulator`; ROCm before 6.1 called the same field `power`) and the microjoules per tick
(`counter_resolution`). We difference ticks x resolution, which loses nothing between reads. A GPU
whose counter cannot be read falls back to its socket power (watts), which the meter integrates.

Only the GPUs this process can see are read: ROCR_VISIBLE_DEVICES, then HIP_VISIBLE_DEVICES (indices
or UUIDs), as the ROCm runtime applies them. An MI250X is two devices (GCDs) in one package: its
accumulator counts the package and is reported on one GCD, the other reading zero; the package is
therefore measured once, on whichever GCD carries it.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import Any

from .gpu import Gpu, GpuControlError, GpuNotSupportedError, GpuPermissionError, GpuSensor
from .library import Initialized
from .nvml import visible_indices

log = logging.getLogger("mlfootprint")

_initialized = Initialized("amdsmi_init", "amdsmi_shut_down")  # once per process (library.py)
_ensure_init = _initialized.ensure

# amdsmi_status_t codes (amdsmi_wrapper.py): what a refused power cap raises
AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_PERM = 10


def energy_uj(count: dict[str, Any]) -> float:
    """Microjoules from one `amdsmi_get_energy_count` result, either field name."""
    ticks = count.get("energy_accumulator", count.get("power"))
    if ticks is None or not isinstance(ticks, (int, float)):
        raise ValueError(f"no energy accumulator in {sorted(count)}")
    return float(ticks) * float(count["counter_resolution"])


def _name(smi: ModuleType, handle: Any) -> str:
    for getter, field in (("amdsmi_get_gpu_asic_info", "market_name"), ("amdsmi_get_gpu_board_info", "product_name")):
        try:
            value = getattr(smi, getter)(handle).get(field)
        except Exception:
            continue
        if isinstance(value, str) and value.strip() and value.strip().upper() != "N/A":
            return value.strip()
    return "AMD GPU"


def _socket_power_w(smi: ModuleType, handle: Any) -> float:
    info = smi.amdsmi_get_power_info(handle)
    for field in ("socket_power", "current_socket_power", "average_socket_power"):
        value = info.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    raise ValueError("no socket power reported")


class AmdSmiSensor(GpuSensor):
    """Reads every visible AMD GPU. Build it with `AmdSmiSensor.discover()`."""

    LIBRARY, COUNTER_METHOD, POWER_METHOD = "AMD SMI", "amdsmi-energy-count", "amdsmi-power"

    @classmethod
    def discover(cls, env: dict[str, str] | None = None) -> tuple[AmdSmiSensor | None, list[str]]:
        env = dict(os.environ) if env is None else env
        try:
            smi = importlib.import_module("amdsmi")
        except ImportError:
            return None, []
        try:
            _ensure_init(smi)
        except Exception:  # no amdgpu driver: nothing to read, nothing to say
            return None, []
        try:
            handles = list(smi.amdsmi_get_processor_handles())
            uuids = [str(smi.amdsmi_get_gpu_device_uuid(h)) for h in handles]
            indices = list(range(len(handles)))
            warnings: list[str] = []
            for var in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"):
                if env.get(var) is not None:  # each narrows what the one before left visible
                    chosen, more = visible_indices(env[var], [uuids[i] for i in indices])
                    indices, warnings = [indices[i] for i in chosen], warnings + more
            gpus = []
            for i in indices:
                try:
                    energy_uj(smi.amdsmi_get_energy_count(handles[i]))
                    counter = True
                except Exception:
                    counter = False
                gpus.append(Gpu(i, handles[i], _name(smi, handles[i]), uuids[i], counter))
        except Exception as exc:
            return None, [f"AMD SMI is present but could not list GPUs ({exc}); AMD GPU energy is not measured"]
        for g in gpus:
            if not g.has_counter:
                warnings.append(f"AMD GPU {g.index} ({g.name}) has no readable energy counter: its socket power is "
                                "sampled and integrated")
        return (cls(smi, gpus) if gpus else None), warnings

    def _energy_j(self, g: Gpu) -> float:
        return energy_uj(self._lib.amdsmi_get_energy_count(g.handle)) / 1e6

    def _power_w(self, g: Gpu) -> float:
        return _socket_power_w(self._lib, g.handle)

    def _limits_w(self, g: Gpu) -> tuple[float, float, float, float]:
        info = self._lib.amdsmi_get_power_cap_info(g.handle)  # microwatts
        return (info["power_cap"] / 1e6, info["default_power_cap"] / 1e6, info["min_power_cap"] / 1e6,
                info["max_power_cap"] / 1e6)

    def _write_limit_w(self, g: Gpu, watts: float) -> None:
        self._lib.amdsmi_set_power_cap(g.handle, 0, int(round(watts * 1e6)))  # sensor 0: the package

    def _error_kind(self, exc: Exception) -> type[GpuControlError]:
        code = getattr(exc, "err_code", None)
        if code == AMDSMI_STATUS_NO_PERM:
            return GpuPermissionError
        if code == AMDSMI_STATUS_NOT_SUPPORTED:
            return GpuNotSupportedError
        return GpuControlError
