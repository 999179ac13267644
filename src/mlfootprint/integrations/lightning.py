"""Lightning `Callback`: forward, backward and optimizer phases of every training batch, and
validation / test / predict phases.

    trainer = L.Trainer(callbacks=[MlfootprintCallback(run)])   # or MlfootprintCallback(project=...)

Lightning's hook order (automatic optimization) gives the boundaries: batch start → training_step
("forward", zero_grad included) → on_before_backward → "backward" → on_after_backward → … →
on_before_optimizer_step → "optimizer" → batch end. Logged metrics (`trainer.callback_metrics`) are
stored at the end of each validation and of training.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from ._common import RunHolder, numeric


class MlfootprintCallback(pl.Callback):
    def __init__(self, run: Any | None = None, **track_kwargs: Any) -> None:
        self.holder = RunHolder(run, **track_kwargs)

    @property
    def run(self) -> Any:
        return self.holder.run

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.holder.begin()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._log(trainer)
        self.holder.end()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.holder.enter("forward")

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        self.holder.exit("forward")
        self.holder.enter("backward")

    def on_after_backward(self, trainer: Any, pl_module: Any) -> None:
        self.holder.exit("backward")

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        self.holder.enter("optimizer")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.holder.exit("optimizer")
        self.holder.exit("forward")  # manual optimization or a skipped step leaves it open
        if self.run is not None:
            self.run.count(samples=_batch_len(batch))

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self.holder.enter("evaluation")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.holder.exit("evaluation")
        self._log(trainer)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self.holder.begin()
        self.holder.enter("test")

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self.holder.exit("test")
        self._log(trainer)
        self.holder.end()  # only ends a run this callback started

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self.holder.begin()
        self.holder.enter("inference")

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self.holder.exit("inference")
        self.holder.end()

    def _log(self, trainer: Any) -> None:
        if self.run is not None and not trainer.sanity_checking:
            self.run.log_metrics(**numeric(trainer.callback_metrics))


def _batch_len(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else next(iter(batch.values()), None) if isinstance(batch, dict) else batch
    return len(first) if first is not None and hasattr(first, "__len__") else 0
