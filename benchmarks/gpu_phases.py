"""Phases on a GPU: what asynchronous kernels do to phase attribution, and what synchronizing costs.

    python benchmarks/gpu_phases.py [--steps 150] [--rounds 3]

An 8-layer 4096-wide MLP in bf16 autocast, batch 2048, AdamW; each step copies one of a few
pinned host batches to the GPU ("data"), so the GPU, not the host, sets the pace. Arms, alternated: untracked; tracked; instrumented (data / forward /
backward / optimizer markers); instrumented with sync_cuda=True. Prints each arm's median time and
ratio to untracked, and the phase split of the two instrumented arms side by side: without sync,
GPU time is charged to whichever phase the CPU is in when it waits (usually `.item()` or the next
step's data), with sync each phase holds its own kernels.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from mlfootprint.quality import PhaseFigures


def make_model() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(8):
        layers += [nn.Linear(4096, 4096), nn.GELU()]
    model = nn.Sequential(*layers, nn.Linear(4096, 16)).cuda()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)


POOL = [(torch.randn(2048, 4096).pin_memory(), torch.randint(0, 16, (2048,)).pin_memory()) for _ in range(4)]


def loop(model: nn.Module, opt: torch.optim.Optimizer, steps: int, run: object | None) -> float:
    phase = run.phase if run is not None else (lambda _n: nullcontext())  # type: ignore[attr-defined]
    total = torch.zeros((), device="cuda")
    for step in range(steps):
        with phase("data"):
            x_host, y_host = POOL[step % len(POOL)]
            x, y = x_host.cuda(non_blocking=True), y_host.cuda(non_blocking=True)
        with phase("forward"), torch.autocast("cuda", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x), y)
        with phase("backward"):
            loss.backward()
        with phase("optimizer"):
            opt.step()
            opt.zero_grad(set_to_none=True)
        total += loss.detach()
    return float(total.item() / steps)


def main() -> None:
    import mlfootprint

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("mlfootprint").setLevel(logging.ERROR)
    store = str(Path(tempfile.mkdtemp()) / "gpu.db")
    model, opt = make_model()
    loop(model, opt, 20, None)  # warm-up
    torch.cuda.synchronize()

    arms = {"untracked": (None, False), "tracked": (False, False), "instrumented": (False, True),
            "instrumented+sync": (True, True)}
    times: dict[str, list[float]] = {a: [] for a in arms}
    splits: dict[str, list[PhaseFigures]] = {}
    energy: dict[str, float] = {}
    for r in range(args.rounds):
        for name in (list(arms) if r % 2 == 0 else list(reversed(arms))):
            sync, phased = arms[name]
            ctx = nullcontext() if sync is None else mlfootprint.track(project="gpu-phases", country="US", store=store,
                                                                      sync_cuda=sync, interval_s=0.2)
            t0 = time.perf_counter()
            with ctx as run:
                loop(model, opt, args.steps, run if phased else None)
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
            if run is not None:
                record = run.record
                energy[name] = sum(c.energy_j for c in record.components if c.kind == "gpu")
                if phased:
                    splits[name] = record.phases
    base = statistics.median(times["untracked"])
    flops = 6 * sum(p.numel() for p in model.parameters()) * 2048 * args.steps
    print(f"{args.steps} steps of an 8x4096 MLP, batch 2048, bf16; {args.rounds} rounds alternated; "
          f"{flops / base / 1e12:.0f} TFLOP/s untracked")
    for name, ts in times.items():
        e = f", GPU {energy[name]:.0f} J" if name in energy else ""
        print(f"  {name:<18} median {statistics.median(ts):.3f} s  ratio {statistics.median(ts) / base:.4f}{e}")
    print("phase split (share of run energy): without sync | with sync")
    by_name = {n: {p.phase: p.share for p in splits[n]} for n in splits}
    for phase in ("data", "forward", "backward", "optimizer", "(outside phases)"):
        a = by_name["instrumented"].get(phase) or 0
        b = by_name["instrumented+sync"].get(phase) or 0
        print(f"  {phase:<18} {a:6.1%} | {b:6.1%}")
    from mlfootprint.tracker import track

    with track(store=store, sync_cuda=True) as run:
        m = run.phase("x")
        t0 = time.perf_counter_ns()
        for _ in range(10000):
            with m:
                pass
        synced = (time.perf_counter_ns() - t0) / 10000
    print(f"synchronized marker enter+exit on an idle GPU: {synced / 1000:.1f} us")


if __name__ == "__main__":
    main()
