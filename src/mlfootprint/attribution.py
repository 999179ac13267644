"""Share of machine-level energy that belongs to one process tree (scope "process").

CPU: the tree's CPU time over the machine's busy CPU time in the same interval. RAM: the tree's
resident memory over the machine's used memory. GPU: whole device if the tree has a context on it
(or NVML cannot list processes), nothing otherwise — NVML gives no per-process energy, so a GPU
shared with another job is charged fully to each; the record says so.

Cost matters here: this runs on the sampler thread beside a host that may be CPU-bound in Python.
Every file read releases the GIL, and getting it back from a busy thread takes up to the switch
interval (5 ms), so a scan of every process on the machine (what `psutil.Process.children` does)
can stall sampling for seconds. The tree is therefore found by reading only its own members'
`/proc/PID/task/TID/children` (Linux), at most once per `REFRESH_S`, and the root's CPU time comes
from `os.times()` when the root is this process (one system call, reaped children included).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from .sensors.procfs import cpu_times

REFRESH_S = 1.0  # how often the tree's membership is looked up again (new children, exited ones)
_PROC = Path("/proc")


def _children_of(pid: int) -> set[int] | None:
    """Direct children of `pid` from /proc (None where the kernel does not offer the files)."""
    tasks = _PROC / str(pid) / "task"
    found: set[int] = set()
    try:
        for task in os.listdir(tasks):
            try:
                text = (tasks / task / "children").read_text()
            except FileNotFoundError:  # the thread ended meanwhile
                continue
            found.update(int(c) for c in text.split())
    except FileNotFoundError:
        return set()  # the process ended
    except (PermissionError, OSError, ValueError):
        return None
    return found


class ProcessTree:
    """A root process and its descendants, with CPU time that survives children exiting."""

    def __init__(self, pid: int | None = None) -> None:
        self.root = psutil.Process(pid or os.getpid())
        self._own = self.root.pid == os.getpid()
        self._procs: dict[int, psutil.Process] = {self.root.pid: self.root}
        self._next_refresh = 0.0
        self._use_proc_children = _children_of(self.root.pid) is not None
        self._last_cpu_s: float | None = None
        self._last_machine_busy_s: float | None = None
        self._carry_s = 0.0  # our CPU time that tick rounding put past the machine's in an interval

    def pids(self) -> set[int]:
        if time.monotonic() >= self._next_refresh:
            self._refresh()
            self._next_refresh = time.monotonic() + REFRESH_S
        return set(self._procs)

    def _refresh(self) -> None:
        if self._use_proc_children:
            seen, frontier = {self.root.pid}, [self.root.pid]
            while frontier:
                kids = _children_of(frontier.pop()) or set()
                for kid in kids - seen:
                    seen.add(kid)
                    frontier.append(kid)
            for pid in seen - set(self._procs):
                try:
                    self._procs[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass
            return
        try:  # other systems: psutil's scan
            for child in self.root.children(recursive=True):
                self._procs.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def cpu_time_s(self) -> float:
        """User+system time of the tree, reaped children included (through the root's counters)."""
        self.pids()
        total = 0.0
        for pid, proc in list(self._procs.items()):
            if proc is self.root and self._own:
                t = os.times()
                total += t.user + t.system + t.children_user + t.children_system
                continue
            try:
                c = proc.cpu_times()
            except psutil.Error:
                del self._procs[pid]
                continue
            total += c.user + c.system
            if proc is self.root:
                total += c.children_user + c.children_system
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
        """Tree CPU time / machine busy CPU time since the previous call (first call: 0).

        Both counters advance in clock ticks (10 ms), so over a short interval ours can read more than
        the machine's; the share is capped at 1 and the excess carried into the next interval, so no
        CPU time is lost to rounding (a cap alone biases the total low by several percent)."""
        cpu_s = self.cpu_time_s()
        busy_s = cpu_times().busy_s
        prev_cpu, prev_busy = self._last_cpu_s, self._last_machine_busy_s
        self._last_cpu_s, self._last_machine_busy_s = cpu_s, busy_s
        if prev_cpu is None or prev_busy is None:
            return 0.0
        d_busy = busy_s - prev_busy
        d_ours = max(0.0, cpu_s - prev_cpu) + self._carry_s
        if d_busy <= 0:
            self._carry_s = d_ours
            return 0.0
        self._carry_s = max(0.0, d_ours - d_busy)
        return min(1.0, d_ours / d_busy)

    def ram_share(self) -> float:
        used = psutil.virtual_memory().used
        return min(1.0, self.rss_bytes() / used) if used > 0 else 0.0
