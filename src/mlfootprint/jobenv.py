"""Which distributed job this process is a rank of, read from the launcher's environment.

torchrun (torch.distributed.elastic), Slurm, Open MPI and PMI launchers (MPICH/Hydra, Intel MPI,
PMIx) all tell each process its rank through environment variables; Accelerate, DeepSpeed and
Lightning launch through these too. Nothing needs configuring: the job id groups every rank's run,
and the record keeps which variables it came from. `job=` / MLFOOTPRINT_JOB overrides the id, and
`job=off` measures the process alone.

A torchrun job started without `--rdzv-id` (its run id is then the literal "none") has no id of its
own: its ranks agree on one through the rendezvous store torchrun already runs (the agent's TCPStore
at MASTER_ADDR:MASTER_PORT), so the ranks of two nodes still land in one job.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("mlfootprint")

OFF = ("off", "none", "0", "false", "no")
AGREE_TIMEOUT_S = 5.0  # how long a torchrun rank waits for the rendezvous store before using a fallback id

# (variable, launcher) in order of preference for each quantity: the process that calls track() is a
# torch worker more often than a Slurm task (srun torchrun ...), so torch's variables come first.
RANK_VARS = (("RANK", "torchrun"), ("OMPI_COMM_WORLD_RANK", "openmpi"), ("PMIX_RANK", "pmix"),
             ("PMI_RANK", "pmi"), ("SLURM_PROCID", "slurm"))
LOCAL_RANK_VARS = ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")
WORLD_VARS = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
LOCAL_WORLD_VARS = ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")
NODE_RANK_VARS = ("GROUP_RANK", "SLURM_NODEID")


@dataclass(frozen=True)
class JobContext:
    """This process's place in a distributed job."""

    job_id: str
    launcher: str  # torchrun | slurm | torchrun+slurm | openmpi | pmix | pmi | manual
    detected_from: str  # the variables the id and rank came from, e.g. "SLURM_JOB_ID, RANK"
    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    local_world_size: int | None = None
    node_rank: int | None = None
    step: str | None = None  # Slurm step id; torchrun restart count
    note: str | None = None  # how far the id can be trusted, when it is a fallback

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# Ranks and sizes are stored in INTEGER columns, 32-bit on PostgreSQL: a value outside this range could
# never be written (every save of the run would fail), so it is ignored like any other garbage.
INT_RANGE = (-(2**31), 2**31 - 1)
# ASCII digits only (str.isdigit() also takes '²', which int() refuses), and few enough of them for int()
# (it refuses more than 4300 digits) and for the range
_WHOLE = re.compile(r"-?[0-9]{1,12}")


def _int(env: Mapping[str, str], names: tuple[str, ...],
         warnings: list[str] | None = None) -> tuple[int | None, str | None]:
    """The first of `names` that holds a whole number in INT_RANGE, and its name. A variable set to
    anything else is skipped, and said once in `warnings`: a launcher never sets such a value, and the
    job must run anyway."""
    for name in names:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        if _WHOLE.fullmatch(raw) and INT_RANGE[0] <= int(raw) <= INT_RANGE[1]:
            return int(raw), name
        if warnings is not None:
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            warnings.append(f"{name}={shown!r} is not a whole number from {INT_RANGE[0]} to {INT_RANGE[1]}; "
                            "ignored (the run is recorded without it)")
    return None, None


def slurm_tasks_on_node(tasks_per_node: str, node_id: int) -> int | None:
    """Tasks on node `node_id` from Slurm's compressed list, e.g. "4(x2),3" -> [4, 4, 3] (walked, never
    expanded: a repeat count is any number the variable holds)."""
    if node_id < 0:
        return None
    for part in tasks_per_node.split(","):
        m = re.fullmatch(r"\s*([0-9]{1,12})(?:\(x([0-9]{1,12})\))?\s*", part)
        if m is None:
            return None
        repeat = int(m.group(2) or 1)
        if node_id < repeat:
            tasks = int(m.group(1))
            return tasks if tasks <= INT_RANGE[1] else None
        node_id -= repeat
    return None


def detect(env: Mapping[str, str] | None = None, override: str | None = None,
           warnings: list[str] | None = None) -> JobContext | None:
    """The job this process belongs to, or None when it runs alone (no launcher variables, or `off`).
    Never raises on what the environment holds: a variable that is not a rank or size is ignored and
    said in `warnings`."""
    env = os.environ if env is None else env
    if override is not None and override.strip().lower() in OFF:
        return None
    rank: int | None = None
    rank_var = rank_launcher = None
    for name, launcher in RANK_VARS:
        value, found = _int(env, (name,), warnings)
        if value is not None:
            rank, rank_var, rank_launcher = value, found, launcher
            break
    local_rank, _ = _int(env, LOCAL_RANK_VARS, warnings)
    world_size, _ = _int(env, WORLD_VARS, warnings)
    local_world_size, _ = _int(env, LOCAL_WORLD_VARS, warnings)
    node_rank, _ = _int(env, NODE_RANK_VARS, warnings)
    slurm_job = env.get("SLURM_JOB_ID", "").strip()
    if local_world_size is None and slurm_job and env.get("SLURM_STEP_TASKS_PER_NODE") and node_rank is not None:
        local_world_size = slurm_tasks_on_node(env["SLURM_STEP_TASKS_PER_NODE"], node_rank)
    step = env.get("SLURM_STEP_ID") or env.get("TORCHELASTIC_RESTART_COUNT") or None
    note = None

    if override is not None and override.strip():
        job_id, launcher, id_var = override.strip(), rank_launcher or "manual", "MLFOOTPRINT_JOB / job="
    elif slurm_job:
        cluster = env.get("SLURM_CLUSTER_NAME", "").strip()
        job_id = f"slurm:{cluster}:{slurm_job}" if cluster else f"slurm:{slurm_job}"
        launcher = "torchrun+slurm" if "TORCHELASTIC_RUN_ID" in env else "slurm"
        id_var = "SLURM_JOB_ID"
    elif "TORCHELASTIC_RUN_ID" in env:
        launcher, id_var = "torchrun", "TORCHELASTIC_RUN_ID"
        run_id = env["TORCHELASTIC_RUN_ID"].strip()
        if run_id and run_id.lower() != "none":
            job_id = f"torchrun:{run_id}"
        else:
            job_id, id_var, note = _torchrun_agreed_id(env)
    elif env.get("PMIX_NAMESPACE"):
        job_id, launcher, id_var = f"pmix:{env['PMIX_NAMESPACE']}", rank_launcher or "pmix", "PMIX_NAMESPACE"
    elif env.get("OMPI_MCA_ess_base_jobid"):
        job_id, launcher, id_var = f"openmpi:{env['OMPI_MCA_ess_base_jobid']}", "openmpi", "OMPI_MCA_ess_base_jobid"
    elif rank is not None and world_size is not None and world_size > 1:
        # ranks without a job id (MPICH/Hydra gives none): the launcher's parent process is shared
        # by every rank of a node, not across nodes; say so rather than guess
        job_id = f"{rank_launcher}:{os.getppid()}"
        launcher, id_var = rank_launcher or "manual", "parent process id"
        note = ("the launcher gives no job id: ranks are grouped by their parent process, which only ranks on "
                "the same node share; set MLFOOTPRINT_JOB to group ranks across nodes")
    else:
        return None
    if rank is None and world_size is None:
        rank, rank_var = (0, None) if override else (None, None)
    sources = ", ".join(dict.fromkeys(v for v in (id_var, rank_var) if v))
    return JobContext(job_id=job_id[:128], launcher=launcher, detected_from=sources, rank=rank, local_rank=local_rank,
                      world_size=world_size, local_world_size=local_world_size, node_rank=node_rank, step=step,
                      note=note)


def _torchrun_agreed_id(env: Mapping[str, str]) -> tuple[str, str, str | None]:
    """An id every rank of a torchrun job started without --rdzv-id agrees on.

    The first rank to ask proposes a random id in the agent's rendezvous store (compare-and-set),
    every later rank reads it. Without the store (torch not importable, the store unreachable) the
    rendezvous endpoint stands in: two jobs reusing one endpoint would then share an id, and the
    record says so."""
    endpoint = f"{env.get('MASTER_ADDR', '?')}:{env.get('MASTER_PORT', '?')}"
    if env.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
        try:
            from datetime import timedelta

            from torch.distributed import TCPStore

            store = TCPStore(env["MASTER_ADDR"], int(env["MASTER_PORT"]), is_master=False,
                             timeout=timedelta(seconds=AGREE_TIMEOUT_S), wait_for_workers=False)
            proposal = os.urandom(6).hex()
            agreed = store.compare_set("mlfootprint/job_id", "", proposal)
            value = agreed.decode() if isinstance(agreed, bytes) else str(agreed)
            if value:
                return f"torchrun:{value}", "torchrun rendezvous store", None
        except Exception as exc:  # noqa: BLE001 - any failure falls back to the endpoint
            log.debug("mlfootprint: torchrun rendezvous store not usable (%s)", exc)
    return (f"torchrun:{endpoint}", "MASTER_ADDR:MASTER_PORT",
            "torchrun without --rdzv-id: ranks grouped by the rendezvous endpoint, which later jobs on the same "
            "endpoint reuse; pass --rdzv-id or set MLFOOTPRINT_JOB for a unique job id")
