"""Hardware readers and the choice of which ones to use on this machine."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .amdsmi import AmdSmiSensor
from .base import Channel, Kind, Method, Reading, Sensor, Signal
from .cpu_model import CpuModelSensor
from .fake import ScriptedSensor
from .nvml import NvmlSensor
from .rapl import POWERCAP_ROOT, RaplSensor
from .ram_model import RamModelSensor

__all__ = ["POWERCAP_ROOT", "AmdSmiSensor", "Channel", "CpuModelSensor", "Kind", "Method", "NvmlSensor", "RamModelSensor", "RaplSensor",
           "Reading", "ScriptedSensor", "Sensor", "Signal", "amd_driver_present", "discover_gpus", "discover_host",
           "discover_sensors", "nvidia_driver_present"]


def discover_gpus(env: dict[str, str] | None = None) -> tuple[NvmlSensor | AmdSmiSensor | None, list[str]]:
    """The GPU reader of this machine (NVML if it loads, else AMD SMI), and warnings to show once."""
    warnings: list[str] = []
    found: list[NvmlSensor | AmdSmiSensor] = []
    if nvidia_driver_present(env):
        nvml, nvml_warnings = NvmlSensor.discover(env)
        warnings += nvml_warnings
        if nvml:
            found.append(nvml)
    if amd_driver_present():
        amd, amd_warnings = AmdSmiSensor.discover(env)
        warnings += amd_warnings
        if amd:
            found.append(amd)
    if len(found) > 1:  # an NVIDIA and an AMD GPU in one host: keep their keys apart
        warnings.append("NVIDIA and AMD GPUs in one host: only the NVIDIA GPUs are measured")
    return (found[0] if found else None), warnings


def discover_host(powercap_root: Path = POWERCAP_ROOT) -> tuple[list[Sensor], list[str]]:
    """The readers of the host's CPUs and memory: RAPL packages (and dram) if readable, else the models."""
    sensors: list[Sensor] = []
    rapl, warnings = RaplSensor.discover(powercap_root)
    rapl_kinds = {c.kind for c in rapl.channels()} if rapl else set()
    if rapl:
        sensors.append(rapl)
    if "cpu" not in rapl_kinds:
        sensors.append(CpuModelSensor())
    if "ram" not in rapl_kinds:
        sensors.append(RamModelSensor())
    return sensors, warnings


def discover_sensors(powercap_root: Path = POWERCAP_ROOT, env: dict[str, str] | None = None,
                     gpu: bool = True) -> tuple[list[Sensor], list[str]]:
    """Every reader this machine offers (what `mlfootprint doctor` lists); which of them a run uses in a
    distributed job is ownership.py's to decide."""
    gpus, warnings = discover_gpus(env) if gpu else (None, [])
    host, host_warnings = discover_host(powercap_root)
    return ([gpus] if gpus else []) + host, warnings + host_warnings


def amd_driver_present() -> bool:
    """Whether an amdgpu driver is loaded (AMD SMI has nothing to read without it)."""
    return "amdsmi" in sys.modules or any(os.path.exists(p) for p in ("/dev/kfd", "/sys/module/amdgpu"))


def nvidia_driver_present(env: Mapping[str, str] | None = None) -> bool:
    """Whether loading NVML can find anything: a Linux machine without the driver's device nodes or
    /proc entry has no NVIDIA GPU to read, and importing and initialising NVML there costs more than a
    whole run's start. Elsewhere (and when a pynvml module is already loaded) NVML is always tried."""
    variables = os.environ if env is None else env
    if not sys.platform.startswith("linux") or "pynvml" in sys.modules or variables.get("NVIDIA_VISIBLE_DEVICES"):
        return True
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/nvidia0"))
