"""Hugging Face Transformers `TrainerCallback`.

    trainer = Trainer(..., callbacks=[MlfootprintCallback(project="bert-ft")])   # owns a run
    trainer = Trainer(..., callbacks=[MlfootprintCallback(run)])                 # or reports into yours

Phases: `forward_backward` (step begin → the optimizer is about to step; the Trainer runs forward and
backward together, gradient-accumulation substeps included), `optimizer` (the step itself) and
`evaluation` (from the first prediction step after training steps to `on_evaluate`). Samples are
counted per process — the per-device batch size × gradient accumulation — so a distributed job's
ranks add up to the global batch once (each rank's run counts its own share); the evaluation metrics
(`eval_accuracy`, …) are logged beside the training loss.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from ._common import RunHolder, numeric


class MlfootprintCallback(TrainerCallback):
    def __init__(self, run: Any | None = None, **track_kwargs: Any) -> None:
        self.holder = RunHolder(run, **track_kwargs)
        self._step_end_t: float | None = None

    @property
    def run(self) -> Any:
        return self.holder.run

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.begin()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.end()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.enter("forward_backward")

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.exit("forward_backward")
        self.holder.enter("optimizer")

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.exit("optimizer")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.holder.exit("forward_backward")  # in case no optimizer step ran (skipped/overflow)
        if self.run is not None:
            # this process's share: the job view sums ranks, so multiplying by world size here would
            # count every sample world_size times
            self.run.count(samples=args.per_device_train_batch_size * args.gradient_accumulation_steps)
            self._step_end_t = self.run.clock()

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # called after each evaluation batch: open the phase at the first one, backdated to the
        # last training step's end so the first batch is inside it
        if self.run is not None and not self.holder.in_phase("evaluation"):
            self.run.phase_enter("evaluation", t=self._step_end_t)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        self.holder.exit("evaluation")
        if self.run is not None:
            self.run.log_metrics(**numeric(metrics))

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self.run is not None and logs and "loss" in logs:
            self.run.log_metrics(train_loss=float(logs["loss"]))
