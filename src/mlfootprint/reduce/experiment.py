"""Run strategies as measured trials on the user's own workload.

Trials run one after another (parallel trials on one machine would spoil each other's
measurements), repeats interleaved in rounds whose orders form a balanced crossover design, so drift
and carry-over effects spread evenly over the strategies.
Every trial is an mlfootprint run with phases `train`, `evaluation` and `inference`; training
energy excludes the evaluations made to find when the target quality was reached.

A shared machine: trials are measured in process scope (the experiment's own process tree, not
the neighbours), each trial is watched for other processes' load (interference.py), and a
contaminated trial is run again after the others, up to `reruns` times, with a pause that grows
each time; verdicts use clean repeats where there are any, and say so where there are none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .interference import DEFAULT_MAX_OTHER_CORES, Load, LoadWatch
from .result import Result
from .setup import Setup
from .strategies import Strategy, StrategyUnavailable, _Region, baseline

log = logging.getLogger("mlfootprint")

TrainFn = Callable[[Setup], Iterator[Any]]
EvalFn = Callable[[Any], dict[str, float]]
PredictFn = Callable[[Any], int]


@dataclass
class Trial:
    strategy: str
    kind: str
    repeat: int
    status: str = "ok"  # ok | contaminated (ran beside other load) | skipped | failed
    reason: str | None = None
    run_id: str | None = None
    energy_j: float = 0.0  # training, evaluations excluded
    duration_s: float = 0.0
    co2e_kg: float = 0.0
    methods: list[str] = field(default_factory=list)  # how the energy was obtained (measured/modelled)
    energy_to_target_j: float | None = None
    epochs_to_target: int | None = None
    epochs: int = 0
    quality: dict[str, float] = field(default_factory=dict)  # final, after any post-training change
    quality_before_change: dict[str, float] = field(default_factory=dict)
    inference_j_per_1000: float | None = None
    predictions: int = 0
    other_load_cores: float | None = None  # others' CPU load during the trial (interference.py)
    attempt: int = 1  # 2, 3, …: a re-run of a contaminated trial


def balanced_orders(n: int) -> list[list[int]]:
    """Trial orders for the rounds: a Williams design, in which each strategy runs right after each
    other one equally often (over n rounds; 2n when n is odd). Rotating one order would put every
    strategy behind the same predecessor each round, so a carry-over effect (a trial after a long one
    runs on a cooler, or a warmer, machine) would become a bias no repeat can average out."""
    if n <= 1:
        return [list(range(n))]
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + r) % n for x in first] for r in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return rows


def _flatten(items: Iterable[Strategy | Iterable[Strategy]]) -> list[Strategy]:
    out: list[Strategy] = []
    for item in items:
        if isinstance(item, Strategy):
            out.append(item)
        else:
            out.extend(_flatten(item))
    return out


class Experiment:
    """Compare strategies on `train_fn` (a generator yielding the model after each epoch) judged by
    `eval_fn` (model → metrics). `target` is the quality to reach, e.g. {"accuracy": 0.95};
    `tolerance` the largest quality loss a recommendation may accept (default 0.01 per target metric).
    """

    def __init__(self, train_fn: TrainFn, eval_fn: EvalFn, *, target: dict[str, float] | None = None,
                 tolerance: dict[str, float] | None = None, predict_fn: PredictFn | None = None,
                 budget_s: float = 600.0, repeats: int = 3, inference_s: float = 1.0, min_saving: float = 0.02,
                 project: str = "reduce", country: str | None = None, region: str | None = None,
                 store: str | None = None, interval_s: float = 0.25, device: str = "cpu",
                 epochs: int | None = None, sensors: Any = None, scope: str = "process",
                 max_other_cores: float = DEFAULT_MAX_OTHER_CORES, reruns: int = 2) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        if budget_s <= 0:
            raise ValueError(f"budget_s must be positive, got {budget_s}")
        self.train_fn, self.eval_fn, self.predict_fn = train_fn, eval_fn, predict_fn
        self.target = dict(target or {})
        self.tolerance = dict(tolerance or {k: 0.01 for k in self.target})
        self.budget_s, self.repeats, self.inference_s, self.min_saving = budget_s, repeats, inference_s, min_saving
        self.device, self.epochs = device, epochs
        self.max_other_cores, self.reruns, self.interval_s = max_other_cores, reruns, interval_s
        self._track_kwargs = dict(project=project, country=country, region=region, store=store,
                                  interval_s=interval_s, sensors=sensors, scope=scope)
        self._watch: LoadWatch | None = None

    def run(self, strategies: Iterable[Strategy | Iterable[Strategy]], *, combine_best: bool = False,
            progress: Callable[[Trial], None] | None = None) -> Result:
        chosen = _flatten(strategies)
        if not any(s.name == "baseline" for s in chosen):
            chosen.insert(0, baseline())
        names = [s.name for s in chosen]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"strategy names must be unique, repeated: {', '.join(sorted(duplicates))}")
        measured = [s for s in chosen if not isinstance(s, _Region)]
        regions = [s for s in chosen if isinstance(s, _Region)]
        started = time.monotonic()
        self._warm_up()
        trials: list[Trial] = []
        orders = balanced_orders(len(measured))
        for repeat in range(self.repeats):
            for strategy in (measured[i] for i in orders[repeat % len(orders)]):
                if time.monotonic() - started > self.budget_s:
                    trial = Trial(strategy.name, strategy.kind, repeat, "skipped",
                                  f"experiment budget of {self.budget_s:.0f} s spent")
                else:
                    trial = self._trial(strategy, repeat)
                trials.append(trial)
                if progress:
                    progress(trial)
        self._rerun_contaminated(measured, trials, started, progress)
        result = Result(self, chosen, trials, regions)
        if combine_best:
            extra = result.best_combination()
            if extra is not None and time.monotonic() - started <= self.budget_s:
                for repeat in range(self.repeats):
                    trial = self._trial(extra, repeat)
                    trials.append(trial)
                    if progress:
                        progress(trial)
                result = Result(self, chosen + [extra], trials, regions)
        return result

    def _rerun_contaminated(self, strategies: list[Strategy], trials: list[Trial], started: float,
                            progress: Callable[[Trial], None] | None) -> None:
        """Run contaminated trials again, after the rest, pausing longer each round (a neighbour's job
        may end); a clean re-run replaces the contaminated one."""
        by_name = {s.name: s for s in strategies}
        for attempt in range(2, self.reruns + 2):
            pending = [i for i, t in enumerate(trials) if t.status == "contaminated"]
            if not pending:
                return
            time.sleep(min(5.0, 0.5 * 2 ** (attempt - 2)))
            for i in pending:
                if time.monotonic() - started > self.budget_s:
                    return
                old = trials[i]
                again = self._trial(by_name[old.strategy], old.repeat)
                again.attempt = attempt
                if again.status in ("ok", "contaminated"):
                    trials[i] = again
                if progress:
                    progress(again)

    def _warm_up(self) -> None:
        """One unmeasured epoch, evaluation and prediction: lazy imports and first-call costs (the
        first Adam() in a torch 2.13 process takes ~1.8 s) must not land on whichever trial runs first.
        The store is opened here too, for the same reason (the database layer loads once)."""
        try:
            from ..store import open_store

            open_store(self._track_kwargs.get("store"), write=True)
        except Exception as exc:  # trials will report the store's problem
            log.warning("mlfootprint: could not open the store before the trials (%s)", exc)
        try:
            model = next(iter(self.train_fn(Setup(device=self.device, epochs=1))))
            self.eval_fn(model)
            if self.predict_fn is not None:
                self.predict_fn(model)
        except Exception as exc:
            log.warning("mlfootprint: warm-up epoch failed (%s); trials will show why", exc)

    def _trial(self, strategy: Strategy, repeat: int) -> Trial:
        from ..tracker import track

        trial = Trial(strategy.name, strategy.kind, repeat)
        setup = Setup(device=self.device, seed=repeat, epochs=self.epochs)
        if self._watch is None:
            self._watch = LoadWatch()
        try:
            strategy.configure(setup)
            with strategy.context(), track(**{**self._track_kwargs,
                                              "project": f"{self._track_kwargs['project']}:{strategy.name}"}) as run:
                trial.run_id = run.id
                self._watch.start()
                self._train_and_judge(strategy, setup, run, trial)
                load = self._watch.stop(list(run.sensors))
                self._judge_load(trial, load)
            # the trial's record is written by a thread of this process: let it finish, or its work
            # would be charged (in process scope) to whichever trial runs next
            run.wait_stored(30)
        except StrategyUnavailable as exc:
            trial.status, trial.reason = "skipped", str(exc)
        except Exception as exc:  # a strategy that breaks the user's code is a finding, not a crash
            trial.status, trial.reason = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("mlfootprint: trial %s (repeat %d) failed: %s", strategy.name, repeat + 1, trial.reason)
        return trial

    def _judge_load(self, trial: Trial, load: Load) -> None:
        trial.other_load_cores = load.other_cores
        if load.contaminated(self.max_other_cores):
            trial.status, trial.reason = "contaminated", load.describe()
            log.info("mlfootprint: trial %s (repeat %d) ran beside other load (%s)", trial.strategy,
                     trial.repeat + 1, trial.reason)

    def _train_and_judge(self, strategy: Strategy, setup: Setup, run: Any, trial: Trial) -> None:
        model = None
        generator = self.train_fn(setup)
        while True:
            with run.phase("train"):
                try:
                    model = next(generator)
                except StopIteration:
                    break
            run.sample_now()  # close the interval on the epoch boundary: phase energy is exact here
            trial.epochs += 1
            with run.phase("evaluation"):
                quality = self.eval_fn(model)
            if trial.energy_to_target_j is None and self._reached(quality):
                trial.energy_to_target_j = run.phase_totals("train")[0]
                trial.epochs_to_target = trial.epochs
        if model is None:
            raise ValueError("the training function yielded no model: it must `yield model` after each epoch")
        trial.quality_before_change = dict(quality)
        changed = strategy.after_training(model)
        if changed is not model:
            model = changed
        with run.phase("evaluation"):
            trial.quality = dict(self.eval_fn(model))
        if self.predict_fn is not None:
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
            trial.predictions = n
            trial.inference_j_per_1000 = run.phase_totals("inference")[0] / n * 1000 if n else None
        run.sample_now()
        trial.energy_j, trial.duration_s = run.phase_totals("train")
        record = run.record
        trial.co2e_kg = record.co2e_kg * (trial.energy_j / record.energy_j) if record.energy_j else 0.0
        trial.methods = sorted({c.method for c in record.components})

    def _reached(self, quality: dict[str, float]) -> bool:
        return bool(self.target) and all(quality.get(k, float("-inf")) >= v for k, v in self.target.items())
