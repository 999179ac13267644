"""Real launchers, on this machine, loopback only: torchrun (gloo DDP, two 'nodes' of two processes)
and a one-host Slurm cluster (`srun`). Each must give one job, every rank present, energy and samples
counted once. The store is the PostgreSQL server of .ci/run when MLFOOTPRINT_TEST_POSTGRES_URL is set
(the team setup), else a SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mlfootprint.jobs import JobSummary, summarize
from mlfootprint.store import open_store
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ddp_digits.py"
TRAIN_SAMPLES = 1437  # 80 % of scikit-learn's 1,797 digits (examples/digits.py load_data)


def _store(tmp_path: Path) -> str:
    return os.environ.get("MLFOOTPRINT_TEST_POSTGRES_URL") or str(tmp_path / "runs.db")


def _env(store: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFOOTPRINT_", "SLURM_", "TORCHELASTIC_"))}
    env.update(MLFOOTPRINT_STORE=store, MLFOOTPRINT_FLUSH_INTERVAL_S="0.5", OMP_NUM_THREADS="1")
    return env


def _check_job(store: str, project: str, ranks: int, epochs: int) -> JobSummary:
    db = open_store(store)
    runs = db.list_runs(project=project)
    job_ids = {r.job_id for r in runs}
    assert len(runs) == ranks and len(job_ids) == 1 and None not in job_ids, runs
    job = summarize(job_ids.pop(), db.job_records(runs[0].job_id))
    assert job.status == "completed" and job.ranks == ranks and job.world_size == ranks
    assert sorted(r.rank for r in job.rank_runs) == list(range(ranks))
    # counted once: exactly one rank measured this host's CPUs and memory, the others nothing
    owners = [r for r in job.rank_runs if "host" in r.owns]
    assert len(owners) == 1 and all(r.energy_j == 0 for r in job.rank_runs if r not in owners)
    assert job.energy_j == pytest.approx(owners[0].energy_j) and job.energy_j > 0
    assert job.counts["samples"] == TRAIN_SAMPLES * epochs  # each rank counted its own shard
    phases = {p.phase: p for p in job.phases}
    for name in ("setup", "data", "forward", "backward", "optimizer", "evaluation"):
        assert phases[name].ranks == ranks, name  # every rank's phases are there
    assert job.metrics["accuracy"] > 0.5
    return job


def test_torchrun_two_nodes_of_two_processes_is_one_job(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not installed")
    store, project, port = _store(tmp_path), f"ddp-{uuid.uuid4().hex[:8]}", free_port()
    # no --rdzv-id: the ranks agree on a job id through torchrun's own rendezvous store
    launches = [subprocess.Popen([torchrun, "--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "2",
                                  "--rdzv-endpoint", f"127.0.0.1:{port}", str(EXAMPLE), "--epochs", "2",
                                  "--project", project],
                                 env=_env(store), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for node in (0, 1)]
    outputs = [p.communicate(timeout=240)[0] for p in launches]
    assert [p.returncode for p in launches] == [0, 0], outputs
    job = _check_job(store, project, ranks=4, epochs=2)
    assert job.launcher == "torchrun" and job.detected_from.startswith("torchrun rendezvous store")
    assert [sorted(n.ranks) for n in job.nodes] == [[0, 1], [2, 3]]


def _slurm_or_skip() -> str:
    """The `mlfootprint` command beside this interpreter, once the one-host Slurm cluster answers; the
    test is skipped, saying why, when it does not."""
    if shutil.which("srun") is None:
        pytest.skip("srun not installed (.ci/slurm.sh installs and starts a one-host cluster)")
    probe = subprocess.run(["srun", "-n", "1", "-t", "1", "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"srun does not run: {probe.stderr.strip()[:200]}")
    return str(Path(sys.executable).parent / "mlfootprint")


def test_srun_two_tasks_under_the_cli_wrapper_is_one_job(tmp_path: Path) -> None:
    mlfootprint = _slurm_or_skip()
    store, project = _store(tmp_path), f"srun-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(["srun", "-n", "2", "-t", "5", "--kill-on-bad-exit=1", mlfootprint, "track", "--quiet",
                           "--project", project, "--", sys.executable, str(EXAMPLE), "--epochs", "1",
                           "--project", project + "-inner"],
                          env=_env(store), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the wrappers (`mlfootprint track` in each Slurm task) form one job; the script's own track()
    # calls in the same tasks join that job too, and measure nothing the wrappers already measure
    db = open_store(store)
    wrappers = db.list_runs(project=project)
    assert len(wrappers) == 2 and len({r.job_id for r in wrappers}) == 1
    job_id = wrappers[0].job_id
    assert job_id.startswith("slurm:")
    job = summarize(job_id, db.job_records(job_id))
    assert job.launcher == "slurm" and job.ranks == 4  # 2 wrappers + 2 in-script runs
    assert sorted(r.rank for r in job.rank_runs) == [0, 0, 1, 1]
    owners = [r for r in job.rank_runs if "host" in r.owns]
    assert len(owners) == 1 and job.energy_j == pytest.approx(owners[0].energy_j)
    assert job.counts["samples"] == TRAIN_SAMPLES


def test_sbatch_script_with_srun_is_one_job(tmp_path: Path) -> None:
    """The README's batch-script shape: sbatch runs a script whose srun step wraps each task."""
    mlfootprint = _slurm_or_skip()
    store, project = _store(tmp_path), f"sbatch-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\n#SBATCH --ntasks=2 --time=5\n"
                      f"srun {mlfootprint} track --quiet --project {project} -- {sys.executable} -c "
                      "'import time; t=time.time()\nwhile time.time()-t<1: pass'\n")
    done = subprocess.run(["sbatch", "--wait", "--output", str(tmp_path / "out.txt"), str(script)], env=_env(store),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "out.txt").read_text()
    slurm_id = done.stdout.strip().split()[-1]
    db = open_store(store)
    runs = db.list_runs(project=project)
    assert len(runs) == 2 and len({r.job_id for r in runs}) == 1
    assert runs[0].job_id.startswith("slurm:") and runs[0].job_id.endswith(f":{slurm_id}")
    job = summarize(runs[0].job_id, db.job_records(runs[0].job_id))
    assert job.status == "completed" and sorted(r.rank for r in job.rank_runs) == [0, 1]
    assert len([r for r in job.rank_runs if "host" in r.owns]) == 1
