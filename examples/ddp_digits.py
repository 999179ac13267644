"""Distributed data-parallel training of the digits CNN, measured as one job.

    torchrun --nproc-per-node 2 examples/ddp_digits.py --epochs 3
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 2 --rdzv-endpoint HOST:29500 examples/ddp_digits.py
    srun -n 4 python examples/ddp_digits.py            # Slurm: ranks from SLURM_PROCID, rendezvous via env

Each rank calls `mlfootprint.track()` as a single-process script would: the job is detected from
the launcher's variables, each rank measures only its own devices (one process per host measures
the CPUs and memory), and `mlfootprint jobs` / `mlfootprint show JOB` add the ranks up. Each rank
counts the samples of its own shard, so the job's sample count is the data set's, once.

Backend: gloo (CPU, the default here) or nccl (`--backend nccl`, one GPU per local rank).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits import accuracy, augment, build_model, load_data  # noqa: E402


def _slurm_to_torch_env() -> None:
    """Under plain `srun python ...` (no torchrun), give torch.distributed the variables it reads."""
    if "RANK" in os.environ or "SLURM_PROCID" not in os.environ:
        return
    os.environ.setdefault("RANK", os.environ["SLURM_PROCID"])
    os.environ.setdefault("WORLD_SIZE", os.environ.get("SLURM_STEP_NUM_TASKS", os.environ.get("SLURM_NTASKS", "1")))
    os.environ.setdefault("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0"))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + int(os.environ.get("SLURM_JOB_ID", "0")) % 1000))


def main() -> None:
    import mlfootprint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--backend", default="gloo", choices=("gloo", "nccl"))
    parser.add_argument("--project", default="ddp-digits")
    args = parser.parse_args()

    _slurm_to_torch_env()
    torch.set_num_threads(1)  # several ranks share this machine's cores
    with mlfootprint.track(project=args.project) as run:
        with run.phase("setup"):
            dist.init_process_group(args.backend)
            rank, world = dist.get_rank(), dist.get_world_size()
            device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if args.backend == "nccl" else "cpu")
            torch.manual_seed(0)
            x_tr, y_tr, x_te, y_te = load_data(0)
            model = DistributedDataParallel(build_model().to(device))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            loss_fn = nn.CrossEntropyLoss()
            gen = torch.Generator().manual_seed(rank)
        # each rank takes every world-th sample: the shards cover the data set once
        shard = torch.arange(rank, len(x_tr), world)
        steps = -(-len(torch.arange(0, len(x_tr), world)) // args.batch_size)  # the same on every rank
        for epoch in range(args.epochs):
            order = shard[torch.randperm(len(shard), generator=gen)]
            for step in range(steps):
                with run.phase("data"):
                    idx = order[step * args.batch_size:(step + 1) * args.batch_size]
                    counted = len(idx)
                    if counted == 0:  # a shorter shard ran out: still step, as DDP's all-reduce needs every rank
                        idx = order[:1]
                    xb, yb = augment(x_tr[idx], gen).to(device), y_tr[idx].to(device)
                with run.phase("forward"):
                    loss = loss_fn(model(xb), yb)
                with run.phase("backward"):  # DDP's gradient all-reduce happens here
                    opt.zero_grad()
                    loss.backward()
                with run.phase("optimizer"):
                    opt.step()
                run.count(samples=counted)
            run.progress(epoch + 1, args.epochs)
        with run.phase("evaluation"):
            test_acc = accuracy(model.module, x_te.to(device), y_te.to(device))
        if rank == 0:
            run.log_metrics(accuracy=test_acc)
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        job = run.job.job_id if run.job else "(no job detected)"
        print(f"rank 0: test accuracy {test_acc:.1%}; job {job}: `mlfootprint show {job}`")


if __name__ == "__main__":
    main()
