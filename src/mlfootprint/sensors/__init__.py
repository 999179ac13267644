"""Hardware readers and the choice of which ones to use on this machine."""

from __future__ import annotations

from pathlib import Path

from .base import Channel, Kind, Method, Reading, Sensor, Signal
from .cpu_model import CpuModelSensor
from .fake import ScriptedSensor
from .nvml import NvmlSensor
from .rapl import POWERCAP_ROOT, RaplSensor
from .ram_model import RamModelSensor

__all__ = ["Channel", "CpuModelSensor", "Kind", "Method", "NvmlSensor", "RamModelSensor", "RaplSensor",
           "Reading", "ScriptedSensor", "Sensor", "Signal", "discover_sensors"]


def discover_sensors(powercap_root: Path = POWERCAP_ROOT, env: dict[str, str] | None = None,
                     gpu: bool = True) -> tuple[list[Sensor], list[str]]:
    """The best reader for each kind of hardware on this machine, and warnings to show once.

    GPUs: NVML if it loads. CPU: RAPL packages if readable, else the utilization model. RAM: a RAPL
    dram domain if readable, else the per-GB model.
    """
    sensors: list[Sensor] = []
    warnings: list[str] = []
    if gpu:
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
