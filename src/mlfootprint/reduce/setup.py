"""The knobs a strategy turns, handed to the user's training function for each trial.

A training function reads what it needs and ignores the rest:

    def train_trial(setup):
        x, y = setup.reduce_data(x_train, y_train)
        opt = setup.make_optimizer(model.parameters(), default="adam", lr=1e-3)
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

    def autocast(self) -> AbstractContextManager[object]:
        """Mixed precision as the strategy asked (fp32: no autocast)."""
        if self.precision == "fp32":
            return nullcontext()
        import torch

        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.split(":")[0], dtype=dtype)

    def make_optimizer(self, params: Any, default: str = "adam", lr: float = 1e-3) -> Any:
        import torch

        name = self.optimizer or default
        lr = self.lr or lr
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr)
        if name == "momentum":
            return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
        if name == "adam":
            return torch.optim.Adam(params, lr=lr)
        if name == "adamw":
            return torch.optim.AdamW(params, lr=lr)
        raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")

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
