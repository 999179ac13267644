"""Is anything else using this machine during a trial? Other processes' CPU time and GPU contexts.

A trial lasts seconds. On a shared machine another job's load lands in some trials and not others;
machine-scope energy then measures the neighbour, not the strategy. Trials are measured in process
scope (the experiment's own process tree), and each trial is watched: the machine's busy CPU time
(steal time from other virtual machines included) minus our tree's CPU time is the load of others,
in cores. A trial beside more than a threshold of it, or beside another process on our GPU, is
contaminated: it is re-run once the machine is quieter, and left out of the verdicts when clean
repeats exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psutil

from ..attribution import ProcessTree
from ..sensors.procfs import cpu_times

DEFAULT_MAX_OTHER_CORES = 0.15  # others' average load a trial tolerates (daemons on an idle VM: ~0.01-0.05)


@dataclass(frozen=True)
class Load:
    other_cores: float  # mean CPU load of processes outside the tree, in cores
    foreign_gpu_pids: tuple[int, ...]  # other processes with a context on a GPU the trial used
    wall_s: float

    def contaminated(self, max_other_cores: float) -> bool:
        return self.other_cores > max_other_cores or bool(self.foreign_gpu_pids)

    def describe(self) -> str:
        parts = [f"other processes used {self.other_cores:.2f} cores on average"]
        if self.foreign_gpu_pids:
            parts.append(f"processes {', '.join(map(str, self.foreign_gpu_pids[:4]))} shared the GPU")
        return "; ".join(parts)


class LoadWatch:
    """Others' load on this machine between `start()` and `stop()`."""

    def __init__(self, tree: ProcessTree | None = None) -> None:
        self.tree = tree or ProcessTree()
        self._t0 = self._busy0 = self._ours0 = 0.0

    def start(self) -> None:
        self._ours0 = self.tree.cpu_time_s()
        self._busy0 = cpu_times().busy_s
        self._t0 = time.monotonic()

    def stop(self, sensors: Any = ()) -> Load:
        wall_s = max(1e-9, time.monotonic() - self._t0)
        busy = cpu_times().busy_s - self._busy0
        ours = self.tree.cpu_time_s() - self._ours0
        return Load(max(0.0, (busy - ours) / wall_s), self._foreign_gpu_pids(sensors), wall_s)

    def _foreign_gpu_pids(self, sensors: Any) -> tuple[int, ...]:
        ours = self.tree.pids()
        foreign: set[int] = set()
        for sensor in sensors:
            pids_by_key = getattr(sensor, "pids_by_key", None)
            if pids_by_key is None:
                continue
            try:
                listed = pids_by_key()
            except Exception:
                continue
            for pids in listed.values():
                if pids and pids & ours:  # a GPU we use: anyone else on it (visible in our PID namespace)?
                    foreign |= {p for p in pids - ours if psutil.pid_exists(p)}
        return tuple(sorted(foreign))
