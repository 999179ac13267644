"""One trial: a strategy applied to the user's training, measured as its own mlfootprint run.

Every trial is a run with phases `train`, `evaluation` and `inference`; training energy excludes the
evaluations made to find when the target quality was reached. `TrialRunner.track_arguments` is the one
place where a trial's run is configured: the experiment's settings (store, place, scope), the project
the user chose (trials never get a project of their own), and what the trial is (experiment id,
strategy, round) in the run's settings, so `show` says which trial a run was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .design import Design
from .interference import LoadWatch
from .setup import Setup
from .strategies import Strategy, StrategyUnavailable
from .trial import Trial

log = logging.getLogger("mlfootprint")

TrainFn = Callable[[Setup], Iterator[Any]]
EvalFn = Callable[[Any], dict[str, float]]
PredictFn = Callable[[Any], int]


@dataclass
class _Measured:
    """What a trial has measured so far (filled in while it runs, frozen into a Trial at the end)."""

    run_id: str | None = None
    epochs: int = 0
    energy_to_target_j: float | None = None
    epochs_to_target: int | None = None
    quality: dict[str, float] = field(default_factory=dict)
    quality_before_change: dict[str, float] = field(default_factory=dict)
    inference_j_per_1000: float | None = None
    predictions: int = 0


@dataclass(frozen=True)
class TrialRunner:
    train_fn: TrainFn
    eval_fn: EvalFn
    predict_fn: PredictFn | None
    design: Design
    experiment_id: str
    track_settings: dict[str, Any]  # track()'s keyword arguments shared by every trial
    watch: LoadWatch
    device: str = "cpu"
    epochs: int | None = None
    inference_s: float = 1.0

    def track_arguments(self, strategy: Strategy, round_: int) -> dict[str, Any]:
        """track()'s arguments for one trial. The trial is named in the run's settings (`extra`): the
        experiment it belongs to, the strategy, the round (from 1); and the run is a trial of the
        experiment's entry in the store (listed under it, charged its own devices)."""
        return {**self.track_settings, "trial_of": self.experiment_id,
                "extra": {"reduce_experiment": self.experiment_id, "reduce_strategy": strategy.name,
                          "reduce_round": round_ + 1}}

    def run(self, strategy: Strategy, round_: int, *, measure_inference: bool) -> Trial:
        """Train under the strategy, judge quality after each epoch, then (if asked) measure inference."""
        from ..tracker import track

        setup = Setup(device=self.device, seed=round_, epochs=self.epochs)
        got = _Measured()
        try:
            strategy.configure(setup)
            with strategy.context(), track(**self.track_arguments(strategy, round_)) as run:
                got.run_id = run.id
                self.watch.start()
                self._train_and_judge(strategy, setup, run, got, measure_inference)
                load = self.watch.stop()
                energy_j, duration_s = run.phase_totals("train")
                record = run.record
                co2e_kg = record.co2e_kg * energy_j / record.energy_j if record.energy_j else 0.0
                methods = tuple(sorted({c.method for c in record.components}))
                pue = run.settings.site.pue
            # the trial's record is written by a thread of this process: let it finish, or its work
            # would be charged (in process scope) to whichever trial runs next
            run.wait_stored(30)
        except StrategyUnavailable as exc:
            return Trial(strategy.name, strategy.kind, round_, "skipped", str(exc), got.run_id)
        except Exception as exc:  # a strategy that breaks the user's code is a finding, not a crash
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("mlfootprint: trial %s (round %d) failed: %s", strategy.name, round_ + 1, reason)
            return Trial(strategy.name, strategy.kind, round_, "failed", reason, got.run_id)
        return Trial(strategy.name, strategy.kind, round_, "ok", None, got.run_id, energy_j, duration_s, co2e_kg,
                     methods, got.energy_to_target_j, got.epochs_to_target, got.epochs, got.quality,
                     got.quality_before_change, got.inference_j_per_1000, got.predictions, load.other_cores,
                     load.foreign_gpu_pids, pue, dict(setup.chosen))

    def _train_and_judge(self, strategy: Strategy, setup: Setup, run: Any, got: _Measured,
                         measure_inference: bool) -> None:
        model = None
        quality: dict[str, float] = {}
        generator = self.train_fn(setup)
        while True:
            with run.phase("train"):
                try:
                    model = next(generator)
                except StopIteration:
                    break
            run.sample_now()  # close the interval on the epoch boundary: phase energy is exact here
            got.epochs += 1
            with run.phase("evaluation"):
                quality = self.eval_fn(model)
            if got.energy_to_target_j is None and self._reached(quality):
                got.energy_to_target_j = run.phase_totals("train")[0]
                got.epochs_to_target = got.epochs
        if model is None:
            raise ValueError("the training function yielded no model: it must `yield model` after each epoch")
        got.quality_before_change = dict(quality)
        model = strategy.after_training(model)
        with run.phase("evaluation"):
            got.quality = dict(self.eval_fn(model))
        if self.predict_fn is not None and measure_inference:
            self._measure_inference(model, run, got)
        run.sample_now()

    def _measure_inference(self, model: Any, run: Any, got: _Measured) -> None:
        assert self.predict_fn is not None
        run.sample_now()
        n = 0
        deadline = time.monotonic() + self.inference_s
        with run.phase("inference"):
            while time.monotonic() < deadline:  # bounded by time alone: predict() may return 0
                made = self.predict_fn(model)
                if isinstance(made, bool) or not isinstance(made, int) or made < 0:
                    raise ValueError(f"predict(model) returned {made!r}: it must return how many predictions "
                                     "it made (an int >= 0)")
                n += made
        run.sample_now()
        if n == 0:
            raise ValueError(f"predict(model) returned 0 predictions in {self.inference_s:g} s: nothing to "
                             "measure energy per prediction on")
        got.predictions = n
        got.inference_j_per_1000 = run.phase_totals("inference")[0] / n * 1000

    def _reached(self, quality: dict[str, float]) -> bool:
        target = self.design.target
        return bool(target) and all(quality.get(k, float("-inf")) >= v for k, v in target.items())


__all__ = ["EvalFn", "PredictFn", "TrainFn", "TrialRunner"]
