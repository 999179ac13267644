"""Is anything else using this machine during a trial? Other processes' CPU time and GPU contexts.

A trial lasts seconds. On a shared machine another job's load lands in some trials and not others;
machine-scope energy then measures the neighbour, not the strategy. Trials are measured in process
scope (the experiment's own process tree), and each trial is watched: the machine's busy CPU time
(steal time from other virtual machines included) minus our tree's CPU time is the load of others,
in cores.

What spoils a comparison is load that comes and goes, not load that stays. A trial is judged against
the floor of others' load over the whole experiment (the least any trial, or the warm-up, saw): it is
spoiled when others used more than `max_other_cores` above that floor, or when another process had a
context on our GPU; its figures then count only where a strategy has no clean trial. A verdict
compares pairs (a strategy's trial and the baseline's of the same round), and a pair compares like
with like when both trials ran clean, or when both ran beside the same load (within
`max_other_cores` of each other): a neighbour that keeps a core busy throughout, at any level, leaves
every pair comparable, and the result says how busy the machine was; a neighbour that starts or
stops between or during the two trials makes the pair incomparable, and a later round takes its place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from ..attribution import ProcessTree
from ..sensors.procfs import cpu_times

DEFAULT_MAX_OTHER_CORES = 0.15  # others' load above the floor a trial tolerates (an idle VM's daemons: ~0.01-0.05)


@dataclass(frozen=True)
class Load:
    other_cores: float  # mean CPU load of processes outside the tree, in cores
    foreign_gpu_pids: tuple[int, ...]  # other processes with a context on a GPU the trial used
    wall_s: float
    our_cores: float = 0.0  # mean CPU load of our own tree over the same window


def floor_of(loads: Iterable[float | None]) -> float:
    """The least load of others seen: the level a steady neighbour keeps the machine at (0 if none seen)."""
    seen = [x for x in loads if x is not None]
    return min(seen) if seen else 0.0


def spoiled(other_cores: float | None, foreign_gpu_pids: Sequence[int], floor: float, max_other_cores: float) -> bool:
    """Did other processes' load spoil a trial: more than `max_other_cores` above the floor, or our GPU shared?"""
    return bool(foreign_gpu_pids) or (other_cores is not None and other_cores - floor > max_other_cores)


def comparable(a_cores: float | None, a_pids: Sequence[int], b_cores: float | None, b_pids: Sequence[int],
               floor: float, max_other_cores: float) -> bool:
    """Do two trials compare like with like: neither shared our GPU, and both ran clean or both ran
    beside the same load of others (within `max_other_cores` of each other)?"""
    if a_pids or b_pids:
        return False
    if not spoiled(a_cores, (), floor, max_other_cores) and not spoiled(b_cores, (), floor, max_other_cores):
        return True
    return a_cores is not None and b_cores is not None and abs(a_cores - b_cores) <= max_other_cores


def describe(other_cores: float | None, foreign_gpu_pids: Sequence[int], floor: float) -> str:
    parts = []
    if other_cores is not None:
        parts.append(f"other processes used {other_cores:.2f} cores on average"
                     + (f" ({other_cores - floor:+.2f} against the {floor:.2f} they kept busy throughout)" if floor else ""))
    if foreign_gpu_pids:
        parts.append(f"processes {', '.join(map(str, foreign_gpu_pids[:4]))} shared the GPU")
    return "; ".join(parts)


class LoadWatch:
    """Others' load on this machine between `start()` and `stop()`. `gpu_sensors`: sensors with
    `pids_by_key()` (NVML) whose GPUs are checked for other processes."""

    def __init__(self, tree: ProcessTree | None = None, gpu_sensors: Sequence[Any] = ()) -> None:
        self.tree = tree or ProcessTree()
        self.gpu_sensors = tuple(gpu_sensors)
        self._t0 = self._busy0 = self._ours0 = 0.0

    def start(self) -> None:
        self._ours0 = self.tree.cpu_time_s()
        self._busy0 = cpu_times().busy_s
        self._t0 = time.monotonic()

    def stop(self) -> Load:
        wall_s = max(1e-9, time.monotonic() - self._t0)
        busy = cpu_times().busy_s - self._busy0
        ours = self.tree.cpu_time_s() - self._ours0
        return Load(max(0.0, (busy - ours) / wall_s), self._foreign_gpu_pids(), wall_s, ours / wall_s)

    def _foreign_gpu_pids(self) -> tuple[int, ...]:
        ours = self.tree.pids()
        foreign: set[int] = set()
        for sensor in self.gpu_sensors:
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


__all__ = ["DEFAULT_MAX_OTHER_CORES", "Load", "LoadWatch", "comparable", "describe", "floor_of", "spoiled"]
