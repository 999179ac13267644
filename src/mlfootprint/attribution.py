"""Share of machine-level energy that belongs to one process tree (scope "process").

CPU: the tree's CPU time over the machine's busy CPU time in the same interval. RAM: the tree's
resident memory over the machine's used memory. GPU: whole device if the tree has a context on it
(or NVML cannot list processes), nothing otherwise — NVML gives no per-process energy, so a GPU
shared with another job is charged fully to each; the record says so.
"""

from __future__ import annotations

import os

import psutil


class ProcessTree:
    """A root process and its descendants, with CPU time that survives children exiting."""

    def __init__(self, pid: int | None = None) -> None:
        self.root = psutil.Process(pid or os.getpid())
        self._procs: dict[int, psutil.Process] = {self.root.pid: self.root}
        self._last_cpu_s: float | None = None
        self._last_machine_busy_s: float | None = None

    def pids(self) -> set[int]:
        try:
            for child in self.root.children(recursive=True):
                self._procs.setdefault(child.pid, child)
        except psutil.Error:
            pass
        return set(self._procs)

    def cpu_time_s(self) -> float:
        """User+system time of the tree, reaped children included (through the root's counters)."""
        self.pids()
        total = 0.0
        for pid, proc in list(self._procs.items()):
            try:
                t = proc.cpu_times()
            except psutil.Error:
                del self._procs[pid]
                continue
            total += t.user + t.system
            if proc is self.root:
                total += t.children_user + t.children_system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for proc in list(self._procs.values()):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def cpu_share(self) -> float:
        """Tree CPU time / machine busy CPU time since the previous call (first call: 0..1 since boot)."""
        cpu_s = self.cpu_time_s()
        times = psutil.cpu_times()
        busy_s = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        prev_cpu, prev_busy = self._last_cpu_s, self._last_machine_busy_s
        self._last_cpu_s, self._last_machine_busy_s = cpu_s, busy_s
        if prev_cpu is None or prev_busy is None:
            return 0.0
        d_busy = busy_s - prev_busy
        if d_busy <= 0:
            return 0.0
        return min(1.0, max(0.0, (cpu_s - prev_cpu) / d_busy))

    def ram_share(self) -> float:
        used = psutil.virtual_memory().used
        return min(1.0, self.rss_bytes() / used) if used > 0 else 0.0
