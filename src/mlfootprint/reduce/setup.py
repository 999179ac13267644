"""The knobs a strategy turns, handed to the user's training function for each trial.

A training function reads what it needs and ignores the rest:

    def train_trial(setup):
        x, y = setup.reduce_data(x_train, y_train)
        opt = setup.make_optimizer(model.parameters(), default="adam", lr=1e-3,
                                   lr_by_optimizer={"sgd": 0.05})   # optional: your rates for the others
        sched = setup.make_scheduler(opt, total_steps)
        for epoch in range(setup.epochs or 10):
            for xb, yb in batches(x, y, setup.batch_size or 64):
                with setup.autocast():
                    loss = loss_fn(model(xb), yb)
                ...
            yield model          # after each epoch: quality is measured, energy-to-target found
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

PRECISIONS = ("fp32", "bf16", "fp16")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle", "step")

# The learning rate an optimizer strategy runs at when neither the strategy nor the script gives one.
# A script's own `lr` is tuned for its own optimizer (Adam's 1e-3 is far too small for SGD), so
# another optimizer gets the value its sources document as typical:
#   sgd, momentum: 0.1 - PyTorch's torch.optim.SGD documentation example (lr=0.1, momentum=0.9), and the
#                  rate ResNet was trained with (He et al. 2016, SGD with momentum 0.9);
#   adam: 1e-3     - Kingma & Ba 2015 (step size 0.001) and PyTorch's default;
#   adamw: 1e-3    - PyTorch's default for AdamW (Loshchilov & Hutter 2019).
# A typical value is not a tuned one: the verdict names the rate it ran at, and
# `make_optimizer(lr_by_optimizer=...)` or `strategies.optimizer(..., lr=...)` sets yours.
TYPICAL_LR = {"sgd": 0.1, "momentum": 0.1, "adam": 1e-3, "adamw": 1e-3}


@dataclass
class Setup:
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    lr_schedule: str | None = None
    precision: str = "fp32"
    data_fraction: float = 1.0
    deduplicate: bool = False
    epochs: int | None = None
    device: str = "cpu"
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)  # for user-defined strategies
    chosen: dict[str, str] = field(default_factory=dict)  # what make_optimizer picked (and why), for the verdict

    def autocast(self) -> AbstractContextManager[object]:
        """Mixed precision as the strategy asked (fp32: no autocast)."""
        if self.precision == "fp32":
            return nullcontext()
        import torch

        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.split(":")[0], dtype=dtype)

    def make_optimizer(self, params: Any, default: str = "adam", lr: float = 1e-3,
                       lr_by_optimizer: dict[str, float] | None = None) -> Any:
        """The optimizer the strategy asks for (else `default`), at a learning rate that suits it.

        `lr` is the rate for your `default` optimizer. Another optimizer runs at the rate a strategy
        set, else yours from `lr_by_optimizer` ({"sgd": 0.05, ...}), else its typical value
        (TYPICAL_LR, with its sources); the rate and where it came from are recorded in `chosen`."""
        import torch

        name = self.optimizer or default
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
        if self.lr:
            rate, source = self.lr, "set by the strategy"
        elif name == default:
            rate, source = lr, "the script's"
        elif lr_by_optimizer and name in lr_by_optimizer:
            rate, source = lr_by_optimizer[name], "the script's lr_by_optimizer"
        else:
            rate, source = TYPICAL_LR[name], f"typical for {name}; set yours with lr_by_optimizer"
        self.chosen.update(optimizer=name, lr=f"{rate:g} ({source})")
        if name == "sgd":
            return torch.optim.SGD(params, lr=rate)
        if name == "momentum":
            return torch.optim.SGD(params, lr=rate, momentum=0.9, nesterov=True)
        if name == "adam":
            return torch.optim.Adam(params, lr=rate)
        return torch.optim.AdamW(params, lr=rate)

    def make_scheduler(self, optimizer: Any, total_steps: int) -> Any | None:
        """A learning-rate scheduler stepped once per batch, or None for a constant rate."""
        import torch

        name = self.lr_schedule or "constant"
        if name == "constant":
            return None
        if name == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
        if name == "onecycle":
            max_lr = max(group["lr"] for group in optimizer.param_groups) * 10
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(1, total_steps))
        if name == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.3)
        raise ValueError(f"unknown lr schedule {name!r}: expected one of {', '.join(SCHEDULES)}")

    def reduce_data(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Training data after deduplication (exact duplicate rows) and subsampling, as asked."""
        import torch

        if self.deduplicate:
            flat = x.reshape(len(x), -1)
            _, inverse = torch.unique(flat, dim=0, return_inverse=True)
            first = torch.full((int(inverse.max()) + 1,), len(x), dtype=torch.long)
            first.scatter_reduce_(0, inverse, torch.arange(len(x)), reduce="amin")
            keep = torch.sort(first).values
            x, y = x[keep], y[keep]
        if self.data_fraction < 1.0:
            g = torch.Generator().manual_seed(self.seed)
            keep = torch.randperm(len(x), generator=g)[: max(1, round(len(x) * self.data_fraction))]
            x, y = x[torch.sort(keep).values], y[torch.sort(keep).values]
        return x, y
