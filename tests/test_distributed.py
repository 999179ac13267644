"""Distributed jobs: launcher detection, one owner per device, the job view, merge, placement, rollup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlfootprint.jobenv import JobContext, detect, slurm_tasks_on_node
from mlfootprint.meter import Meter
from mlfootprint.ownership import claim, preferred_gpus
from mlfootprint.ownership import measured_sensors
from tests.fakes.amdsmi_fake import FakeAmdGpu, FakeAmdSmi
from tests.fakes.pynvml_fake import FakeGpu, FakeNvml


def _job(rank: int, local_rank: int, world: int, local_world: int, job_id: str | None = None,
         node_rank: int | None = None) -> JobContext:
    return JobContext(job_id or f"test:{uuid.uuid4().hex}", "torchrun", "test", rank, local_rank, world, local_world,
                      node_rank)


# -- detection ---------------------------------------------------------------------------------------
def test_torchrun_variables() -> None:
    env = {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1",
           "TORCHELASTIC_RUN_ID": "job42", "TORCHELASTIC_RESTART_COUNT": "0"}
    job = detect(env)
    assert job is not None
    assert (job.job_id, job.launcher, job.rank, job.local_rank, job.world_size, job.local_world_size,
            job.node_rank) == ("torchrun:job42", "torchrun", 5, 1, 8, 4, 1)
    assert job.detected_from == "TORCHELASTIC_RUN_ID, RANK"


def test_slurm_variables_and_tasks_per_node() -> None:
    env = {"SLURM_JOB_ID": "1234", "SLURM_STEP_ID": "0", "SLURM_PROCID": "6", "SLURM_LOCALID": "2",
           "SLURM_NODEID": "1", "SLURM_STEP_NUM_TASKS": "7", "SLURM_STEP_TASKS_PER_NODE": "4,3",
           "SLURM_CLUSTER_NAME": "jz"}
    job = detect(env)
    assert job is not None
    assert (job.job_id, job.launcher, job.rank, job.local_rank, job.world_size, job.local_world_size, job.node_rank,
            job.step) == ("slurm:jz:1234", "slurm", 6, 2, 7, 3, 1, "0")
    assert slurm_tasks_on_node("4(x2),3", 2) == 3 and slurm_tasks_on_node("4(x2),3", 1) == 4
    assert slurm_tasks_on_node("garbage", 0) is None


def test_torchrun_under_slurm_groups_by_the_slurm_job_and_ranks_by_torch() -> None:
    env = {"SLURM_JOB_ID": "99", "SLURM_PROCID": "1", "RANK": "9", "LOCAL_RANK": "1", "WORLD_SIZE": "16",
           "TORCHELASTIC_RUN_ID": "none"}
    job = detect(env)
    assert job is not None and job.job_id == "slurm:99" and job.rank == 9 and job.launcher == "torchrun+slurm"


@pytest.mark.parametrize("env, job_id, rank", [
    ({"PMIX_NAMESPACE": "prterun-node1-1234@1", "PMIX_RANK": "3", "OMPI_COMM_WORLD_RANK": "3",
      "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1"}, "pmix:prterun-node1-1234@1", 3),
    ({"OMPI_MCA_ess_base_jobid": "3985506305", "OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"},
     "openmpi:3985506305", 2),
])
def test_mpi_variables(env: dict[str, str], job_id: str, rank: int) -> None:
    job = detect(env)
    assert job is not None and job.job_id == job_id and job.rank == rank


def test_ranks_without_a_job_id_are_grouped_by_parent_and_say_so() -> None:
    job = detect({"PMI_RANK": "1", "PMI_SIZE": "2"})  # MPICH/Hydra
    assert job is not None and job.job_id == f"pmi:{os.getppid()}" and job.note and "MLFOOTPRINT_JOB" in job.note


def test_override_and_off() -> None:
    assert detect({}) is None
    assert detect({"RANK": "0", "WORLD_SIZE": "1"}) is None  # a lone process that merely has RANK set
    assert detect({"SLURM_JOB_ID": "5", "SLURM_PROCID": "0"}, override="off") is None
    job = detect({"SLURM_JOB_ID": "5", "SLURM_PROCID": "3"}, override="my-sweep")
    assert job is not None and job.job_id == "my-sweep" and job.rank == 3 and job.launcher == "slurm"


def test_torchrun_without_rdzv_id_and_without_its_store_falls_back_to_the_endpoint_and_says_so() -> None:
    job = detect({"RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": "10.0.0.1",
                  "MASTER_PORT": "29500"})
    assert job is not None and job.job_id == "torchrun:10.0.0.1:29500"
    assert job.note and "--rdzv-id" in job.note


def test_torchrun_without_rdzv_id_agrees_on_an_id_through_the_rendezvous_store() -> None:
    from datetime import timedelta

    from torch.distributed import TCPStore

    master = TCPStore("127.0.0.1", 0, is_master=True, timeout=timedelta(seconds=5), wait_for_workers=False)
    env = {"RANK": "0", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(master.port), "TORCHELASTIC_USE_AGENT_STORE": "True"}
    first, second = detect(env), detect(dict(env, RANK="1"))
    assert first is not None and second is not None
    assert first.job_id == second.job_id and first.job_id.startswith("torchrun:") and first.note is None
    assert first.job_id != "torchrun:127.0.0.1:" + str(master.port)


# -- ownership ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("visible, local_rank, local_world, expected", [
    (8, 3, 8, [3]),  # one GPU per rank
    (8, 1, 4, [1, 5]),  # fewer ranks than GPUs: the idle ones are charged too, each once
    (1, 2, 4, [0]),  # CUDA_VISIBLE_DEVICES narrowed per rank
    (4, None, None, [0, 1, 2, 3]),  # a rank that does not know its place tries all (the locks decide)
    (2, 3, 4, []),  # more ranks than GPUs: rank 3 drives none
    (0, 0, 1, []),
])
def test_preferred_gpus(visible: int, local_rank: int | None, local_world: int | None, expected: list[int]) -> None:
    assert preferred_gpus(visible, local_rank, local_world) == expected


def test_two_launches_on_one_host_count_each_gpu_and_the_host_once() -> None:
    """Two 'nodes' of a job started on the same machine (as in tests) see the same four GPUs."""
    job_id = f"test:{uuid.uuid4().hex}"
    gpu_ids = [(i, f"GPU-{i}") for i in range(4)]
    claims = [claim(_job(node * 2 + lr, lr, 4, 2, job_id, node), gpu_ids) for node in (0, 1) for lr in (0, 1)]
    try:
        owned = [i for c in claims for i in c.gpu_indices or []]
        assert sorted(owned) == [0, 1, 2, 3]  # every GPU exactly once
        assert [c.host for c in claims] == [True, False, False, False]
        assert any("measured by another run of this job" in n for n in claims[2].notes)
    finally:
        for c in claims:
            c.release()
    again = claim(_job(2, 0, 4, 2, job_id, 1), gpu_ids)  # released: the next attempt of the job can take them
    assert again.host and again.gpu_indices == [0, 2]
    again.release()


def test_a_dead_ranks_locks_are_released_by_the_kernel() -> None:
    job_id = f"test:{uuid.uuid4().hex}"
    code = ("import sys, time; from mlfootprint.ownership import claim; from mlfootprint.jobenv import JobContext;"
            f"c = claim(JobContext({job_id!r}, 'x', 'x', 0, 0, 1, 1), []); print(c.host, flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "True"
    held = claim(_job(0, 0, 1, 1, job_id), [])
    assert not held.host
    child.kill()
    child.wait()
    taken = claim(_job(0, 0, 1, 1, job_id), [])
    assert taken.host
    taken.release()


def test_eight_ranks_on_eight_gpus_add_up_to_one_machine_scope_meter(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    """The sum over ranks equals what a single machine-scope meter of the node reads, GPU by GPU."""
    gpus = [FakeGpu("NVIDIA H100 80GB HBM3", f"GPU-{i:04d}", 100.0 + 37.0 * i) for i in range(8)]
    nvml = FakeNvml(gpus).install(monkeypatch)
    job_id = f"test:{uuid.uuid4().hex}"
    ranks = [measured_sensors(_job(r, r, 8, 8, job_id), env={}) for r in range(8)]
    machine_sensors, _, _ = measured_sensors(None, env={})
    try:
        meters = [Meter(sensors, clock=clock) for sensors, _, _ in ranks]
        machine = Meter(machine_sensors, clock=clock)
        for m in [*meters, machine]:
            m.start(background=False)
        for step in range(5):
            clock.advance(1.0 + step)
            nvml.advance(1.0 + step)
            for m in [*meters, machine]:
                m.sample()
        per_rank = [m.totals_j() for m in meters]
        gpu_keys = [k for totals in per_rank for k in totals if k.startswith("gpu:")]
        assert sorted(gpu_keys) == [f"gpu:{i}" for i in range(8)]  # each GPU read by exactly one rank
        assert [k for k in per_rank[3]] == ["gpu:3"]  # rank 3: its own GPU and nothing of the host
        assert {k.split(":")[0] for k in per_rank[0]} == {"gpu", "cpu", "ram"}  # local rank 0: also the host
        machine_gpu = {k: v for k, v in machine.totals_j().items() if k.startswith("gpu:")}
        ranks_gpu = {k: v for totals in per_rank for k, v in totals.items() if k.startswith("gpu:")}
        assert ranks_gpu == pytest.approx(machine_gpu, rel=1e-12)
        assert sum(ranks_gpu.values()) == pytest.approx(sum(100.0 + 37.0 * i for i in range(8)) * 15.0)
    finally:
        for _, _, c in ranks:
            c.release()


def test_with_the_real_cpu_sensors_the_host_is_counted_by_one_rank(tmp_path: Path) -> None:
    """Two local ranks and a machine-scope meter read the same /proc counters at the same moments."""
    job_id = f"test:{uuid.uuid4().hex}"
    r0, r1 = (measured_sensors(_job(r, r, 2, 2, job_id), env={}, gpu=False) for r in (0, 1))
    machine_sensors, _, _ = measured_sensors(None, env={}, gpu=False)
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        meters = [Meter(r0[0]), Meter(r1[0]), Meter(machine_sensors)]
        for m in meters:
            m.start(background=False)
        for _ in range(10):
            time.sleep(0.2)
            for m in meters:
                m.sample()
        busy.wait()
        rank0, rank1, machine = (sum(m.totals_j().values()) for m in meters)
        assert r1[0] == [] and rank1 == 0.0  # local rank 1 reads nothing of the host
        assert machine > 0 and rank0 == pytest.approx(machine, rel=0.05)
    finally:
        busy.kill()
        r0[2].release()
        r1[2].release()


def test_process_scope_lets_every_rank_charge_its_own_share() -> None:
    job_id = f"test:{uuid.uuid4().hex}"
    c0, c1 = (claim(_job(r, r, 2, 2, job_id), [], own_share_of_host=True) for r in (0, 1))
    assert c0.host and c1.host  # process-tree shares do not overlap: nothing to lock
    c0.release()
    c1.release()


# -- AMD SMI -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_amdsmi_energy_counter_both_field_names(monkeypatch, clock, legacy: bool) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.sensors.amdsmi import AmdSmiSensor

    smi = FakeAmdSmi([FakeAmdGpu("AMD Instinct MI300X", "a1", 700.0), FakeAmdGpu("AMD Instinct MI300X", "a2", 350.0)],
                     legacy_field=legacy).install(monkeypatch)
    sensor, warnings = AmdSmiSensor.discover(env={})
    assert sensor is not None and warnings == []
    assert [(c.key, c.name, c.method, c.source) for c in sensor.channels()] == [
        ("gpu:0", "AMD Instinct MI300X", "measured", "amdsmi-energy-count"),
        ("gpu:1", "AMD Instinct MI300X", "measured", "amdsmi-energy-count")]
    meter = Meter([sensor], clock=clock)
    meter.start(background=False)
    clock.advance(10.0)
    smi.advance(10.0)
    meter.sample()
    assert meter.totals_j() == pytest.approx({"gpu:0": 7000.0, "gpu:1": 3500.0}, rel=1e-5)


def test_amdsmi_visible_devices_power_fallback_and_job_ownership(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.sensors.amdsmi import AmdSmiSensor

    gpus = [FakeAmdGpu("AMD Instinct MI250X", f"u{i}", 300.0, has_counter=i != 2) for i in range(4)]
    smi = FakeAmdSmi(gpus).install(monkeypatch)
    sensor, warnings = AmdSmiSensor.discover(env={"ROCR_VISIBLE_DEVICES": "1,2"})
    assert sensor is not None and [c.key for c in sensor.channels()] == ["gpu:1", "gpu:2"]
    assert sensor.channels()[1].source == "amdsmi-power" and "socket power" in warnings[0]
    meter = Meter([sensor], clock=clock)
    meter.start(background=False)
    clock.advance(2.0)
    smi.advance(2.0)
    meter.sample()
    assert meter.totals_j() == pytest.approx({"gpu:1": 600.0, "gpu:2": 600.0}, rel=1e-5)
    # through discovery, as a rank of a 4-rank job: local rank 2 measures AMD GPU 2 only
    job = _job(2, 2, 4, 4)
    sensors, _, claims = measured_sensors(job, env={})
    try:
        assert [c.key for s in sensors for c in s.channels()] == ["gpu:2"]
    finally:
        claims.release()


def test_amdsmi_absent_or_without_driver_is_quiet(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.sensors.amdsmi import AmdSmiSensor

    FakeAmdSmi([], init_error=50).install(monkeypatch)
    assert AmdSmiSensor.discover(env={}) == (None, [])


# -- the job view ----------------------------------------------------------------------------------------
def _rank_env(monkeypatch: pytest.MonkeyPatch, rank: int, local_rank: int, node: int, world: int = 4) -> None:
    for k, v in {"RANK": rank, "LOCAL_RANK": local_rank, "WORLD_SIZE": world, "LOCAL_WORLD_SIZE": 2,
                 "GROUP_RANK": node}.items():
        monkeypatch.setenv(k, str(v))


def _run_rank(monkeypatch: pytest.MonkeyPatch, job_id: str, rank: int, *, forward_s: float = 0.01,
              stop: str = "completed", samples: int = 10) -> None:
    from mlfootprint import track
    from mlfootprint.sensors import ScriptedSensor

    _rank_env(monkeypatch, rank, rank % 2, rank // 2)
    sensors = [ScriptedSensor([(0.0, 100.0), (1.0, 100.0)], time.monotonic, signal="energy-counter")] if rank == 0 else []
    t = track(project="ddp", job=job_id, sensors=sensors, interval_s=0.01)
    run = t.start()
    with run.phase("forward"):
        time.sleep(forward_s)
    run.count(samples=samples)
    if rank == 0:
        run.log_metrics(accuracy=0.9)
    t.stop(stop)
    assert run.wait_stored(10)


def test_job_view_adds_ranks_once_merges_phases_and_flags_stragglers(monkeypatch, isolated_env) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.jobs import summarize
    from mlfootprint.store import open_store

    job_id = f"test:{uuid.uuid4().hex[:8]}"
    for rank in range(4):
        _run_rank(monkeypatch, job_id, rank, forward_s=0.8 if rank == 3 else 0.2)
    db = open_store()
    assert db.find_job(job_id[:10]) == job_id
    job = summarize(job_id, db.job_records(job_id))
    assert job.status == "completed" and job.ranks == 4 and job.world_size == 4
    assert job.counts["samples"] == 40  # each rank's own, added once
    assert job.metrics == {"accuracy": 0.9}
    assert [n.ranks for n in job.nodes] == [[0, 1], [2, 3]]
    assert job.energy_j == pytest.approx(sum(r.energy_j for r in job.rank_runs))
    forward = next(p for p in job.phases if p.phase == "forward")
    assert forward.ranks == 4 and forward.slowest_rank == 3 and forward.wall_s >= 0.8
    assert forward.energy_j == pytest.approx(sum(p.energy_j for r in db.job_records(job_id)
                                                    for p in r.phases if p.phase == "forward"))
    assert [s.phase for s in job.stragglers] == ["forward"] and job.stragglers[0].rank == 3
    impact = job.impact  # ranks that measured nothing add nothing: the source names one rank
    assert impact.co2e_operational_kg.value == pytest.approx(job.co2e_kg, rel=1e-9)
    assert impact.co2e_operational_kg.source.startswith("sum over 1 rank(s)")
    assert impact.energy_j.basis == "simulated"


def test_a_dead_rank_makes_the_job_partial_with_its_flushed_energy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlfootprint.jobs import summarize
    from mlfootprint.store import open_store

    job_id = f"test:{uuid.uuid4().hex[:8]}"
    _run_rank(monkeypatch, job_id, 0, stop="interrupted")
    _run_rank(monkeypatch, job_id, 1)
    job = summarize(job_id, open_store().job_records(job_id))
    assert job.status == "partial" and job.missing_ranks == [2, 3]
    assert job.rank_runs[0].status == "interrupted" and job.rank_runs[0].energy_j > 0
    assert job.energy_j == job.rank_runs[0].energy_j


def test_jobs_show_export_and_merge_from_the_cli(monkeypatch, isolated_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from mlfootprint.cli import app

    job_id = f"sweep:{uuid.uuid4().hex[:8]}"
    for rank in (0, 1):
        _run_rank(monkeypatch, job_id, rank)
    cli = CliRunner()
    listed = cli.invoke(app, ["jobs", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["job_id"], r["ranks"], r["world_size"], r["status"]) for r in rows] == [(job_id, 2, 4, "partial")]
    shown = cli.invoke(app, ["show", job_id, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["id"] == job_id
    table = cli.invoke(app, ["show", job_id], env={"COLUMNS": "100"})
    assert "energy by node" in table.output and "ranks never reported: 2-3" in table.output
    csv_out = cli.invoke(app, ["export", "--format", "csv"])
    header, *lines = csv_out.output.strip().splitlines()
    assert "job_id" in header.split(",") and all(job_id in line for line in lines)
    # merge: a second node's file into a fresh store, twice (idempotent)
    target = tmp_path / "merged.db"
    for _ in range(2):
        merged = cli.invoke(app, ["merge", str(isolated_env), "--store", str(target)])
        assert merged.exit_code == 0, merged.output
    again = cli.invoke(app, ["jobs", "--json", "--store", str(target)])
    assert json.loads(again.output)[0]["ranks"] == 2
    from mlfootprint.store import open_store

    src, dst = open_store(str(isolated_env)), open_store(str(target))
    for rec in src.job_records(job_id):
        assert len(dst.samples(rec.id)) == len(src.samples(rec.id))
    bad = subprocess.run([sys.executable, "-m", "mlfootprint", "merge", str(target), "--store", str(target)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "target store itself" in bad.stderr


# -- where the store is ---------------------------------------------------------------------------------
def test_sqlite_on_a_network_filesystem_or_across_nodes_is_warned_about(tmp_path: Path) -> None:
    from mlfootprint.store.placement import check_store_for_job, filesystem_type

    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\nfiler:/home /home nfs4 rw 0 0\n"
                      "lustre@o2ib:/scratch /scratch lustre rw 0 0\n")
    assert filesystem_type(Path("/home/me/runs.db"), mounts) == "nfs4"
    assert filesystem_type(Path("/homework/runs.db"), mounts) == "ext4"  # a prefix of the name is not a mount
    one_node = _job(0, 0, 2, 2)
    assert "network filesystem (lustre)" in (check_store_for_job("sqlite:////scratch/r.db", one_node, mounts) or "")
    assert check_store_for_job("sqlite:////tmp/r.db", one_node, mounts) is None
    assert "mlfootprint merge" in (check_store_for_job("sqlite:////tmp/r.db", _job(2, 0, 4, 2, node_rank=1), mounts)
                                   or "")
    assert check_store_for_job("postgresql+psycopg://u@h/db", _job(2, 0, 4, 2, node_rank=1), mounts) is None
    assert check_store_for_job("sqlite:////scratch/r.db", None, mounts) is None


# -- bounded samples -------------------------------------------------------------------------------------
def test_rollup_keeps_energy_and_bounds_a_week_of_samples() -> None:
    from mlfootprint.store.rollup import plan

    week_s = 7 * 86400
    samples = [{"id": i, "key": "gpu:0", "t_s": float(t), "energy_j": 300.0 + (t % 7), "power_w": 300.0 + (t % 7),
                "span_s": None} for i, t in enumerate(range(1, week_s + 1, 10))]
    merges = plan(samples, float(week_s), 10.0)
    removed = {i for m in merges for i in m.ids}
    kept = [s for s in samples if s["id"] not in removed] + [m.row for m in merges]
    assert sum(s["energy_j"] for s in kept) == pytest.approx(sum(s["energy_j"] for s in samples), rel=1e-12)
    assert len(kept) <= 360 + 1380 + 576 + 2  # 60,480 samples at 10 s: the last hour, then 23 h by minute, 6 days by 15 min
    recent = [s for s in kept if s["t_s"] > week_s - 3600]
    assert len(recent) == 360 and all(s.get("span_s") is None for s in recent)  # the last hour as measured
    # rolling up again changes nothing
    again = plan([dict(s, id=i) for i, s in enumerate(kept)], float(week_s), 10.0)
    assert again == []


# -- integrations ------------------------------------------------------------------------------------------
def test_huggingface_counts_this_ranks_samples_not_the_world_s() -> None:
    pytest.importorskip("transformers")
    from mlfootprint.integrations.huggingface import MlfootprintCallback

    counted: list[float] = []
    run = SimpleNamespace(count=lambda samples: counted.append(samples), clock=lambda: 0.0,
                          phase_exit=lambda name=None: None, current_phase=lambda: None)
    callback = MlfootprintCallback(run)
    args = SimpleNamespace(per_device_train_batch_size=8, gradient_accumulation_steps=2, world_size=4)
    callback.on_step_end(args, None, None)
    assert counted == [16]  # 4 ranks each count 16: the job's 64 per step, once
