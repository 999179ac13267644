"""Run strategies as measured trials on the user's own workload, round after round until the verdicts are clear.

Trials run one after another (parallel trials on one machine would spoil each other's
measurements), in rounds: each round runs the baseline and every strategy whose verdict is still
open, in an order from a balanced crossover design, so drift and carry-over effects spread evenly.
After each round the verdicts are worked out again from every trial so far (result.py); a strategy
whose interval has settled (a saving, a cost, no change, or a clear quality loss) runs no more
rounds, and the experiment ends when none is open, after `max_repeats` rounds, or when the time
budget is spent. The error rate this keeps, and why, is in stats.py.

A shared machine: trials are measured in process scope (the experiment's own process tree, not
the neighbours), and each trial is watched for other processes' load (interference.py). A round
whose trials saw load that came and went does not count for the strategies it spoiled: the next
round takes its place (up to `reruns` extra rounds), after a pause that grows each time, since a
neighbour's job may end.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .design import DEFAULT_MAX_REPEATS, DEFAULT_MIN_REPEATS, DEFAULT_MIN_SAVING, Design
from .interference import DEFAULT_MAX_OTHER_CORES, LoadWatch, comparable, floor_of
from .result import Result
from .summary import summarize
from .setup import Setup
from .stats import DEFAULT_ERROR_RATE
from .strategies import Region, Strategy, baseline
from .trial import Trial
from .trials import EvalFn, PredictFn, TrainFn, TrialRunner

log = logging.getLogger("mlfootprint")

MAX_PAUSE_S = 5.0  # the longest wait for other processes' load to pass before the next round


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
    `repeats` is the most rounds a strategy runs (`min_repeats` the first round it may stop after);
    `error_rate` the chance, per strategy, that its verdict's interval misses the true change;
    changes within ±`min_saving` count as none. `project`: the project the trials are stored under
    (default: yours, from the settings); the trials of one experiment share an id in their settings.
    """

    def __init__(self, train_fn: TrainFn, eval_fn: EvalFn, *, target: dict[str, float] | None = None,
                 tolerance: dict[str, float] | None = None, predict_fn: PredictFn | None = None,
                 budget_s: float = 600.0, repeats: int = DEFAULT_MAX_REPEATS, min_repeats: int = DEFAULT_MIN_REPEATS,
                 error_rate: float = DEFAULT_ERROR_RATE, inference_s: float = 1.0,
                 min_saving: float = DEFAULT_MIN_SAVING, project: str | None = None, country: str | None = None,
                 region: str | None = None, store: str | None = None, interval_s: float = 0.25,
                 device: str = "cpu", epochs: int | None = None, sensors: Any = None, scope: str = "process",
                 max_other_cores: float = DEFAULT_MAX_OTHER_CORES, reruns: int = 2) -> None:
        if budget_s <= 0:
            raise ValueError(f"budget_s must be positive, got {budget_s}")
        goal = dict(target or {})
        self.design = Design(goal, dict(tolerance or {k: 0.01 for k in goal}), min_saving, error_rate, min_repeats,
                             repeats, reruns, interval_s, max_other_cores, predict_fn is not None)
        self.train_fn, self.eval_fn, self.predict_fn = train_fn, eval_fn, predict_fn
        self.budget_s, self.inference_s, self.device, self.epochs = budget_s, inference_s, device, epochs
        self.track_settings: dict[str, Any] = dict(project=project, country=country, region=region, store=store,
                                                   interval_s=interval_s, sensors=sensors, scope=scope)
        self.id = os.urandom(6).hex()  # the experiment's id (its entry's in the store once run), in every trial's settings
        self._sensors = sensors

    # -- the public surface kept from before the sequential design -----------------------------
    @property
    def target(self) -> dict[str, float]:
        return self.design.target

    @property
    def repeats(self) -> int:
        return self.design.max_repeats

    def run(self, strategies: Iterable[Strategy | Iterable[Strategy]], *, combine_best: bool = False,
            progress: Callable[[Trial], None] | None = None) -> Result:
        chosen = _flatten(strategies)
        if not any(s.name == "baseline" for s in chosen):
            chosen.insert(0, baseline())
        chosen.sort(key=lambda s: s.name != "baseline")  # the baseline first: every round needs it
        names = [s.name for s in chosen]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"strategy names must be unique, repeated: {', '.join(sorted(duplicates))}")
        from ..tracker import track

        # one entry in the store for the experiment: its trials are grouped under it (`runs` lists the
        # experiment, `show ID` its trials); it measures nothing itself, so no joule is counted twice
        settings = {k: v for k, v in self.track_settings.items() if k != "sensors"}
        with track(**settings, sensors=[], kind="experiment",
                   extra={"reduce_strategies": ", ".join(names)}) as entry:
            self.id = entry.id
            measured = [s for s in chosen if not isinstance(s, Region)]
            started = time.monotonic()
            runner = self.trial_runner()
            ambient = self._warm_up(runner.watch)
            trials: list[Trial] = []
            notes = self._rounds(runner, measured, trials, started, ambient, progress)
            result = summarize(self.design, chosen, trials, ambient_cores=ambient, notes=notes)
            if combine_best:
                extra = result.best_combination()
                if extra is not None and time.monotonic() - started <= self.budget_s:
                    notes += self._rounds(runner, [measured[0], extra], trials, started, ambient, progress)
                    result = summarize(self.design, chosen + [extra], trials, ambient_cores=ambient, notes=notes)
        return result

    # -- scheduling --------------------------------------------------------------------------------
    def _rounds(self, runner: TrialRunner, strategies: Sequence[Strategy], trials: list[Trial], started: float,
                ambient: float | None, progress: Callable[[Trial], None] | None) -> list[str]:
        """Rounds of the baseline and the open strategies until none is open; notes on why it stopped
        with verdicts open, if it did."""
        d = self.design
        others = list(strategies[1:])
        first = max((t.repeat for t in trials), default=-1) + 1  # round numbers pair trials: never reused
        pause = 0.5
        for n in range(d.max_repeats + d.reruns):
            so_far = summarize(d, strategies, trials, ambient_cores=ambient, last_round=False)
            active = [s for s in others if self._open(s, so_far, trials)] if n else others
            if n and not active and (others or n >= d.first_look):  # a lone baseline: rounds enough for its spread
                break
            ran, finished = self._round(runner, strategies[0], active, first + n, n, started, progress)
            trials += ran
            if not finished:
                open_ = [s.name for s in active]
                return [f"the budget of {self.budget_s:g} s ended the experiment in round {first + n + 1}"
                        + (f" with {len(open_)} verdict(s) open: {', '.join(open_)}" if open_ else "")]
            if not self._comparable_round(ran, ambient, trials):
                log.info("mlfootprint: other processes' load came and went in round %d; pausing %.1f s", first + n + 1,
                         pause)
                time.sleep(pause)  # a neighbour's job may end: give it a moment before the next round
                pause = min(MAX_PAUSE_S, pause * 2)
        so_far = summarize(d, strategies, trials, ambient_cores=ambient)
        still = [s.name for s in others if so_far.report(s.name).decision == "undecided"]
        return [f"{len(still)} verdict(s) left open: {', '.join(still)} (each says how many rounds at the noise "
                f"seen would settle it; at most {d.max_repeats} rounds were planned, and one that would need more than "
                "twice the rounds left stopped early)"] if still else []

    def _comparable_round(self, ran: list[Trial], ambient: float | None, trials: list[Trial]) -> bool:
        """Did every trial of the round see the load its baseline trial saw (interference.comparable)?"""
        base = next((t for t in ran if t.strategy == "baseline" and t.ran), None)
        if base is None:
            return True
        floor = floor_of([ambient, *(t.other_load_cores for t in trials if t.ran)])
        return all(comparable(t.other_load_cores, t.foreign_gpu_pids, base.other_load_cores, base.foreign_gpu_pids,
                              floor, self.design.max_other_cores) for t in ran if t.ran)

    def _round(self, runner: TrialRunner, base: Strategy, active: list[Strategy], round_: int, n: int,
               started: float, progress: Callable[[Trial], None] | None) -> tuple[list[Trial], bool]:
        """One trial of the baseline and of each open strategy, in the round's crossover order, and
        whether the round finished (the budget may end it: the trials left are reported as skipped)."""
        lineup = [base, *active]
        orders = balanced_orders(len(lineup))
        order = [lineup[k] for k in orders[n % len(orders)]]
        inference_each_round = any(s.measures_inference() for s in active)  # the baseline pairs with them
        ran: list[Trial] = []
        for i, strategy in enumerate(order):
            if time.monotonic() - started > self.budget_s:
                for left in order[i:]:
                    if progress:
                        progress(Trial(left.name, left.kind, round_, "skipped",
                                       f"experiment budget of {self.budget_s:g} s spent"))
                return ran, False
            measure = self.predict_fn is not None and (
                n == 0 or strategy.measures_inference() or (strategy is base and inference_each_round))
            trial = runner.run(strategy, round_, measure_inference=measure)
            ran.append(trial)
            if progress:
                progress(trial)
        return ran, True

    def _open(self, s: Strategy, so_far: Result, trials: list[Trial]) -> bool:
        """Does `s` need another round: its verdict is open, it never failed, it has rounds left, and
        they could settle it. A verdict that would need more than twice the rounds left, at the noise
        seen, stops (futility): stopping without a verdict can make no verdict wrong, and the rounds go
        to the strategies that can still be settled; its verdict says how many rounds would do."""
        report = so_far.report(s.name)
        if report.decision != "undecided":
            return False
        if any(t.strategy == s.name and not t.ran for t in trials):
            return False  # skipped (cannot run here) or failed: another round would do the same
        d = self.design
        if report.rounds >= d.max_repeats:
            return False
        if report.rounds >= d.first_look and report.change_range is not None:
            left = d.max_repeats - report.rounds
            return report.rounds_needed is not None and report.rounds_needed - report.rounds <= 2 * left
        return True

    # -- set-up ------------------------------------------------------------------------------------
    def trial_runner(self) -> TrialRunner:
        """What runs each trial (trials.py). A subclass may return another object with the same `run`
        and `watch`, e.g. scripted trials that test the schedule without measuring anything."""
        return TrialRunner(self.train_fn, self.eval_fn, self.predict_fn, self.design, self.id, self.track_settings,
                           LoadWatch(gpu_sensors=self._gpu_sensors()), self.device, self.epochs, self.inference_s)

    def _gpu_sensors(self) -> list[Any]:
        """The sensors whose GPUs are checked for other processes: those given, else NVML's, if any."""
        if self._sensors is not None:
            return list(self._sensors)
        from ..sensors import NvmlSensor, nvidia_driver_present

        if not nvidia_driver_present():
            return []
        sensor, _ = NvmlSensor.discover()
        return [sensor] if sensor is not None else []

    def _warm_up(self, watch: LoadWatch) -> float | None:
        """One unmeasured epoch, evaluation and prediction: lazy imports and first-call costs (the
        first Adam() in a torch 2.13 process takes ~1.8 s) must not land on whichever trial runs first.
        The store is opened here too, for the same reason (the database layer loads once). Others' load
        during it is the first reading of the machine's floor (interference.py)."""
        try:
            from ..store import open_store

            open_store(self.track_settings.get("store"), write=True)
        except Exception as exc:  # trials will report the store's problem
            log.warning("mlfootprint: could not open the store before the trials (%s)", exc)
        watch.start()
        try:
            model = next(iter(self.train_fn(Setup(device=self.device, epochs=1))))
            self.eval_fn(model)
            if self.predict_fn is not None:
                self.predict_fn(model)
        except Exception as exc:
            log.warning("mlfootprint: warm-up epoch failed (%s); trials will show why", exc)
        load = watch.stop()
        return load.other_cores if load.wall_s >= 0.2 else None  # too short a window says nothing


__all__ = ["Experiment", "balanced_orders"]
