"""Keras 3 callback (any backend). Keras fuses forward, backward and the update into one
`train_step`, so that is the phase; evaluation and prediction are their own phases.

    model.fit(x, y, validation_split=0.2, callbacks=[MlfootprintCallback(run, batch_size=32)])

Epoch logs become metrics: Keras' training-set figures (`accuracy`, `loss`) are stored as
`train_accuracy`, `train_loss`, and its validation figures as `val_accuracy`, `val_loss`, so the
generalization gap is computed for each.
"""

from __future__ import annotations

from typing import Any

import keras

from ._common import RunHolder, numeric


class MlfootprintCallback(keras.callbacks.Callback):
    def __init__(self, run: Any | None = None, batch_size: int | None = None, **track_kwargs: Any) -> None:
        super().__init__()
        self.holder = RunHolder(run, **track_kwargs)
        self.batch_size = batch_size

    @property
    def run(self) -> Any:
        return self.holder.run

    def on_train_begin(self, logs: Any = None) -> None:
        self.holder.begin()

    def on_train_end(self, logs: Any = None) -> None:
        self.holder.end()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.holder.enter("train_step")

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.holder.exit("train_step")
        if self.batch_size and self.run is not None:
            self.run.count(samples=self.batch_size)

    def on_test_begin(self, logs: Any = None) -> None:
        self.holder.enter("evaluation")

    def on_test_end(self, logs: Any = None) -> None:
        self.holder.exit("evaluation")

    def on_predict_begin(self, logs: Any = None) -> None:
        self.holder.enter("inference")

    def on_predict_end(self, logs: Any = None) -> None:
        self.holder.exit("inference")

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.run is None:
            return
        metrics = {(k if k.startswith("val_") else f"train_{k}"): v for k, v in numeric(logs).items()}
        self.run.log_metrics(**metrics)
