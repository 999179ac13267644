"""Whether a store suits a distributed job: SQLite on a network filesystem, or on one node's disk.

SQLite relies on POSIX locks and (in WAL mode) shared memory on one host; on NFS, Lustre, GPFS and
similar filesystems several nodes writing one file corrupt it (sqlite.org/howtocorrupt.html, 2.1).
A multi-node job should write to PostgreSQL, or each node to a local file merged afterwards with
`mlfootprint merge`. These checks only warn: a tracker never stops the job it measures.
"""

from __future__ import annotations

from pathlib import Path

from ..jobenv import JobContext
from .urls import sqlite_path

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "fuse.ceph", "fuse.sshfs",
              "9p", "afs", "glusterfs", "fuse.glusterfs", "panfs", "wekafs", "fuse.juicefs", "fuse.s3fs", "ocfs2", "gfs2"}
MOUNTS = Path("/proc/mounts")


def filesystem_type(path: Path, mounts: Path = MOUNTS) -> str | None:
    """The type of the filesystem holding `path` (its longest mount-point prefix), or None if unknown."""
    try:
        target = str(path.resolve())
        lines = mounts.read_text().splitlines()
    except OSError:
        return None
    best, best_type = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, best_type = point, parts[2]
    return best_type


def multi_node(job: JobContext) -> bool:
    if job.node_rank not in (None, 0):
        return True
    return bool(job.world_size and job.local_world_size and job.world_size > job.local_world_size)


def check_store_for_job(url: str, job: JobContext | None, mounts: Path = MOUNTS) -> str | None:
    """One line to warn with, when this store will not hold a job's ranks safely or together."""
    path = sqlite_path(url)
    if job is None or path is None:
        return None
    fs = filesystem_type(path.parent if not path.exists() else path, mounts)
    if fs in NETWORK_FS:
        return (f"the SQLite store {path} is on a network filesystem ({fs}): concurrent writers from several nodes "
                "corrupt SQLite there; use a PostgreSQL store (MLFOOTPRINT_STORE=postgresql+psycopg://USER@HOST/DB), "
                "or a local file per node (e.g. MLFOOTPRINT_STORE=/tmp/runs-$(hostname).db) and `mlfootprint merge`")
    if multi_node(job):
        return (f"this job spans several nodes and writes to the SQLite file {path}: nodes that do not share this path "
                "each keep their own ranks in their copy; combine the copies with `mlfootprint merge FILE...`, or use "
                "a PostgreSQL store")
    return None


__all__ = ["NETWORK_FS", "check_store_for_job", "filesystem_type", "multi_node"]
