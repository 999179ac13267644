"""Machine CPU times and memory in use, read from Linux's /proc (psutil elsewhere).

The modelled CPU and RAM sensors need two numbers per read. On Linux they come from /proc/stat and
/proc/meminfo, as psutil reads them, without importing psutil on every run's start path (it costs
more than the rest of the start). Other systems use psutil.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

_LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/stat")
_TICKS = os.sysconf("SC_CLK_TCK") if _LINUX else 100


class CpuTimes(NamedTuple):
    busy_s: float  # all CPUs, since boot: user, nice, system, irq, softirq, steal (guest is inside user)
    total_s: float  # busy + idle + iowait


def cpu_times() -> CpuTimes:
    if _LINUX:
        with open("/proc/stat", "rb") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        busy = user + nice + system + irq + softirq + steal
        return CpuTimes(busy / _TICKS, (busy + idle + iowait) / _TICKS)
    import psutil

    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    busy = sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return CpuTimes(busy, busy + idle)


def memory_used_bytes() -> int:
    """Memory in use, as psutil.virtual_memory().used computes it on Linux: total - available."""
    if _LINUX:
        info: dict[str, int] = {}
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                key, _, rest = line.partition(b":")
                info[key.decode()] = int(rest.split()[0]) * 1024
        return info["MemTotal"] - info.get("MemAvailable", info["MemFree"])
    import psutil

    return int(psutil.virtual_memory().used)


def logical_cpus() -> int:
    """The machine's logical CPUs, the one count the package uses: the CPU model multiplies machine-wide
    utilization (/proc/stat covers every CPU) by it, and a CPU-only run's embodied share is taken of it."""
    return os.cpu_count() or 1
