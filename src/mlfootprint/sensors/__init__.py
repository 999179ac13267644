"""Hardware readers and the choice of which ones to use on this machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..jobenv import JobContext
from ..ownership import Claims, claim
from .amdsmi import AmdSmiSensor
from .base import Channel, Kind, Method, Reading, Sensor, Signal
from .cpu_model import CpuModelSensor
from .fake import ScriptedSensor
from .nvml import NvmlSensor
from .rapl import POWERCAP_ROOT, RaplSensor
from .ram_model import RamModelSensor

__all__ = ["AmdSmiSensor", "Channel", "CpuModelSensor", "Kind", "Method", "NvmlSensor", "RamModelSensor", "RaplSensor",
           "Reading", "ScriptedSensor", "Sensor", "Signal", "discover_sensors", "nvidia_driver_present"]


def discover_sensors(powercap_root: Path = POWERCAP_ROOT, env: dict[str, str] | None = None,
                     gpu: bool = True, job: JobContext | None = None,
                     own_share_of_host: bool = False) -> tuple[list[Sensor], list[str], Claims]:
    """The best reader for each kind of hardware on this machine, warnings to show once, and what
    this process measures when it is one rank of a distributed job (ownership.claim).

    GPUs: NVML if it loads, AMD SMI if it loads. CPU: RAPL packages if readable, else the utilization
    model. RAM: a RAPL dram domain if readable, else the per-GB model. In a job, a rank reads only the
    GPUs it owns, and only one process per host reads the host's CPUs and memory.
    """
    sensors: list[Sensor] = []
    warnings: list[str] = []
    gpu_sensors: list[NvmlSensor | AmdSmiSensor] = []
    if gpu and nvidia_driver_present(env):
        nvml, nvml_warnings = NvmlSensor.discover(env)
        warnings += nvml_warnings
        if nvml:
            gpu_sensors.append(nvml)
    if gpu and amd_driver_present():
        amd, amd_warnings = AmdSmiSensor.discover(env)
        warnings += amd_warnings
        if amd:
            gpu_sensors.append(amd)
    if len(gpu_sensors) > 1:  # an NVIDIA and an AMD GPU in one host: keep their keys apart
        warnings.append("NVIDIA and AMD GPUs in one host: only the NVIDIA GPUs are measured")
        gpu_sensors = gpu_sensors[:1]
    claims = claim(job, gpu_sensors[0].gpu_ids() if gpu_sensors else [], own_share_of_host=own_share_of_host)
    for sensor in gpu_sensors:
        kept = sensor.only(claims.gpu_indices) if claims.gpu_indices is not None else sensor
        if kept is not None:
            sensors.append(kept)
    if not claims.host:
        return sensors, warnings, claims
    rapl, rapl_warnings = RaplSensor.discover(powercap_root)
    warnings += rapl_warnings
    rapl_kinds = {c.kind for c in rapl.channels()} if rapl else set()
    if rapl:
        sensors.append(rapl)
    if "cpu" not in rapl_kinds:
        sensors.append(CpuModelSensor())
    if "ram" not in rapl_kinds:
        sensors.append(RamModelSensor())
    return sensors, warnings, claims


def amd_driver_present() -> bool:
    """Whether an amdgpu driver is loaded (AMD SMI has nothing to read without it)."""
    return "amdsmi" in sys.modules or any(os.path.exists(p) for p in ("/dev/kfd", "/sys/module/amdgpu"))


def nvidia_driver_present(env: dict[str, str] | None = None) -> bool:
    """Whether loading NVML can find anything: a Linux machine without the driver's device nodes or
    /proc entry has no NVIDIA GPU to read, and importing and initialising NVML there costs more than a
    whole run's start. Elsewhere (and when a pynvml module is already loaded) NVML is always tried."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or "pynvml" in sys.modules or env.get("NVIDIA_VISIBLE_DEVICES"):
        return True
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/nvidia0"))
