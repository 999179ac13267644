"""`mlfootprint reduce` on a GPU workload, measured by NVML: precision and batch size.

    python benchmarks/reduce_gpu.py [--repeats 2]

A 6-layer 2048-wide MLP learns a synthetic 10-class task (labels from a fixed random linear
teacher, so there is a real accuracy to keep) on CUDA. Strategies: fp32 (baseline, TF32 off),
bf16 and fp16 autocast, batch 256 / 2048 / 8192 (baseline 1024). The GPU power limit strategy is
left out on purpose: it changes the accelerator's settings.
"""

from __future__ import annotations

import argparse
import functools

import torch
from torch import nn

from mlfootprint.reduce import Experiment, strategies as s
from mlfootprint.report.reduce_view import print_result

DIM, CLASSES, TRAIN, TEST = 512, 10, 131072, 16384


@functools.lru_cache(maxsize=1)
def data() -> tuple[torch.Tensor, ...]:
    g = torch.Generator(device="cuda").manual_seed(0)
    teacher = torch.randn(DIM, CLASSES, device="cuda", generator=g)
    x = torch.randn(TRAIN + TEST, DIM, device="cuda", generator=g)
    y = (x @ teacher).argmax(1)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def train_trial(setup):  # type: ignore[no-untyped-def]
    torch.backends.cuda.matmul.allow_tf32 = False  # an honest fp32 baseline
    torch.manual_seed(setup.seed)
    x, y, _, _ = data()
    layers: list[nn.Module] = [nn.Linear(DIM, 2048), nn.GELU()]
    for _ in range(4):
        layers += [nn.Linear(2048, 2048), nn.GELU()]
    model = nn.Sequential(*layers, nn.Linear(2048, CLASSES)).cuda()
    opt = setup.make_optimizer(model.parameters(), default="adam", lr=3e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=setup.precision == "fp16")
    bs = setup.batch_size or 1024
    for _ in range(setup.epochs or 6):
        perm = torch.randperm(TRAIN, device="cuda")
        for i in range(0, TRAIN, bs):
            idx = perm[i:i + bs]
            with setup.autocast():
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        torch.cuda.synchronize()
        yield model


@torch.no_grad()
def evaluate(model: nn.Module) -> dict[str, float]:
    _, _, xt, yt = data()
    return {"accuracy": (model(xt).argmax(1) == yt).float().mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    exp = Experiment(train_trial, evaluate, target={"accuracy": 0.90}, tolerance={"accuracy": 0.01},
                     repeats=args.repeats, budget_s=480, device="cuda", interval_s=0.2, country="US")
    result = exp.run([s.mixed_precision("bf16", "fp16"), s.batch_size(256, 2048, 8192)])
    print_result(result)
    print(result.recommendation())


if __name__ == "__main__":
    main()
