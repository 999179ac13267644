"""Hardware readers and the choice of which ones to use on this machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .base import Channel, Kind, Method, Reading, Sensor, Signal
from .cpu_model import CpuModelSensor
from .fake import ScriptedSensor
from .nvml import NvmlSensor
from .rapl import POWERCAP_ROOT, RaplSensor
from .ram_model import RamModelSensor

__all__ = ["Channel", "CpuModelSensor", "Kind", "Method", "NvmlSensor", "RamModelSensor", "RaplSensor",
           "Reading", "ScriptedSensor", "Sensor", "Signal", "discover_sensors", "nvidia_driver_present"]


def discover_sensors(powercap_root: Path = POWERCAP_ROOT, env: dict[str, str] | None = None,
                     gpu: bool = True) -> tuple[list[Sensor], list[str]]:
    """The best reader for each kind of hardware on this machine, and warnings to show once.

    GPUs: NVML if it loads. CPU: RAPL packages if readable, else the utilization model. RAM: a RAPL
    dram domain if readable, else the per-GB model.
    """
    sensors: list[Sensor] = []
    warnings: list[str] = []
    if gpu and nvidia_driver_present(env):
        nvml, nvml_warnings = NvmlSensor.discover(env)
        warnings += nvml_warnings
        if nvml:
            sensors.append(nvml)
    rapl, rapl_warnings = RaplSensor.discover(powercap_root)
    warnings += rapl_warnings
    rapl_kinds = {c.kind for c in rapl.channels()} if rapl else set()
    if rapl:
        sensors.append(rapl)
    if "cpu" not in rapl_kinds:
        sensors.append(CpuModelSensor())
    if "ram" not in rapl_kinds:
        sensors.append(RamModelSensor())
    return sensors, warnings


def nvidia_driver_present(env: dict[str, str] | None = None) -> bool:
    """Whether loading NVML can find anything: a Linux machine without the driver's device nodes or
    /proc entry has no NVIDIA GPU to read, and importing and initialising NVML there costs more than a
    whole run's start. Elsewhere (and when a pynvml module is already loaded) NVML is always tried."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or "pynvml" in sys.modules or env.get("NVIDIA_VISIBLE_DEVICES"):
        return True
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/nvidia0"))
