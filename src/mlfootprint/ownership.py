"""Who measures what in a distributed job, so every device is counted exactly once.

Each GPU of a host belongs to one rank: local rank L of W takes the visible GPUs j with j % W == L
(its own `cuda:L` first, plus any GPU no rank drives, so idle GPUs the job holds are still charged).
The host's CPUs and memory belong to one process per host: local rank 0. Ranks on the same host
that would pick the same device — two launches ("nodes") sharing one machine, a CLI wrapper and the
script inside it — are kept apart by an exclusive lock per (job, device) in a per-user folder of
the host's /tmp: the first to take it measures, the others say in their record who does not.

The locks are flock(2) locks, released by the kernel when the process dies, so a crashed rank never
keeps a device from the next attempt of the job.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .jobenv import JobContext

if TYPE_CHECKING:
    from .sensors import Sensor

HOST = "host"  # the claim for a host's CPUs and memory


@dataclass
class Claims:
    """What this rank measures, and the locks that keep it so (held until `release()`)."""

    gpu_indices: list[int] | None = None  # None: every visible GPU (not in a job)
    host: bool = True
    visible_gpus: int = 0  # GPUs this process could see before ownership (the host's, for embodied shares)
    notes: list[str] = field(default_factory=list)
    _fds: list[int] = field(default_factory=list)

    def owns(self) -> list[str]:
        owned = [f"gpu:{i}" for i in self.gpu_indices or []]
        return owned + ([HOST] if self.host else [])

    def release(self) -> None:
        while self._fds:
            try:
                os.close(self._fds.pop())  # closing the only descriptor drops the flock
            except OSError:
                pass


def lock_dir(job_id: str) -> Path:
    import hashlib  # only ranks of a job get here: a lone run's start does not pay for these imports
    import tempfile

    digest = hashlib.sha256(job_id.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mlfootprint-{os.getuid()}" / "jobs" / digest


def _take(folder: Path, name: str) -> int | None:
    """An exclusive flock on folder/name, or None if another process holds it."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    fd = os.open(folder / f"{safe}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def preferred_gpus(visible: int, local_rank: int | None, local_world_size: int | None) -> list[int]:
    """Positions (0..visible-1) in the visible GPU list this local rank should measure."""
    if visible <= 0:
        return []
    if local_rank is None:
        return list(range(visible))  # a rank that does not know its place on the host: try them all
    width = local_world_size if local_world_size and local_world_size > 0 else max(visible, local_rank + 1)
    if visible == 1:  # one GPU per rank (Slurm --gpus-per-task, CUDA_VISIBLE_DEVICES per rank)
        return [0]
    return [j for j in range(visible) if j % width == local_rank]


def claim(job: JobContext | None, gpu_ids: list[tuple[int, str]], *, own_share_of_host: bool = False) -> Claims:
    """Take this rank's devices. `gpu_ids`: (NVML/AMD index, UUID) of each GPU this process can see.

    Outside a job, everything visible is measured and nothing is locked. `own_share_of_host` (process
    scope) lets every rank measure its own process tree's share of the CPUs and memory: those shares
    do not overlap, so no host lock is needed.
    """
    if job is None:
        return Claims(visible_gpus=len(gpu_ids))
    claims = Claims(gpu_indices=[], host=False, visible_gpus=len(gpu_ids))
    try:
        folder = lock_dir(job.job_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        # no lock folder: fall back to the launcher's numbering alone, and say it cannot be checked
        claims.notes.append(f"device locks unavailable ({exc}); ownership follows local ranks unchecked")
        folder = None
    for position in preferred_gpus(len(gpu_ids), job.local_rank, job.local_world_size):
        index, uuid = gpu_ids[position]
        fd = _take(folder, f"gpu-{uuid}") if folder is not None else -1
        if fd is None:
            claims.notes.append(f"GPU {index} is measured by another run of this job on this host")
            continue
        if fd >= 0:
            claims._fds.append(fd)
        claims.gpu_indices.append(index)  # type: ignore[union-attr]
    if own_share_of_host:
        claims.host = True
    elif job.local_rank in (None, 0):
        fd = _take(folder, HOST) if folder is not None else -1
        if fd is None:
            claims.notes.append("this host's CPUs and memory are measured by another run of this job")
        else:
            if fd >= 0:
                claims._fds.append(fd)
            claims.host = True
    else:
        claims.notes.append(f"this host's CPUs and memory are measured by local rank 0, not by local rank "
                            f"{job.local_rank}")
    return claims


def measured_sensors(job: JobContext | None, *, gpu: bool = True, own_share_of_host: bool = False,
                     powercap_root: Path | None = None, env: dict[str, str] | None = None
                     ) -> tuple[list[Sensor], list[str], Claims]:
    """The sensors this process reads, warnings to show once, and what it measures for its job: the
    machine's readers (sensors.discover_*), narrowed to the devices this rank owns (`claim`)."""
    from .sensors import discover_gpus, discover_host
    from .sensors.rapl import POWERCAP_ROOT

    gpus, warnings = discover_gpus(env) if gpu else (None, [])
    claims = claim(job, gpus.gpu_ids() if gpus else [], own_share_of_host=own_share_of_host)
    sensors: list[Sensor] = []
    if gpus is not None:
        kept = gpus.only(claims.gpu_indices) if claims.gpu_indices is not None else gpus
        if kept is not None:
            sensors.append(kept)
    if claims.host:
        host, host_warnings = discover_host(powercap_root or POWERCAP_ROOT)
        sensors += host
        warnings += host_warnings
    return sensors, warnings, claims
