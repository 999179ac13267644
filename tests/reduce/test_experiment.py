"""The schedule: rounds until every verdict is clear, on scripted trials (fast, deterministic)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from mlfootprint.reduce import Experiment, Strategy, Trial, strategies as s
from mlfootprint.reduce.experiment import balanced_orders
from mlfootprint.reduce.interference import Load


class QuietWatch:
    """A load watch on a quiet machine (the scripted trials measure nothing)."""

    def start(self) -> None:
        pass

    def stop(self) -> Load:
        return Load(0.02, (), 1.0)


class ScriptedRunner:
    """Trials whose energy is the script's: each round's machine speed drifts ±20 %, each strategy is
    `factor` times the baseline, with `noise` (relative sd) on every trial."""

    def __init__(self, factors: dict[str, float], noise: float, quality: dict[str, float] | None = None,
                 seconds_per_trial: float = 0.0, seed: int = 0) -> None:
        self.factors, self.noise, self.quality = factors, noise, quality or {}
        self.rng = random.Random(seed)
        self.speeds: dict[int, float] = {}
        self.watch = QuietWatch()
        self.calls: list[tuple[str, int, bool]] = []
        self.seconds_per_trial = seconds_per_trial
        self.clock = 0.0

    def run(self, strategy: Strategy, round_: int, *, measure_inference: bool) -> Trial:
        self.calls.append((strategy.name, round_, measure_inference))
        self.clock += self.seconds_per_trial
        speed = self.speeds.setdefault(round_, self.rng.uniform(0.8, 1.2))
        energy = 100 * speed * self.factors.get(strategy.name, 1.0) * (1 + self.rng.gauss(0, self.noise))
        return Trial(strategy.name, strategy.kind, round_, energy_j=energy, duration_s=3.0, epochs=3,
                     quality={"accuracy": self.quality.get(strategy.name, 0.96)}, other_load_cores=0.02, pue=1.2)


class Scripted(Experiment):
    def __init__(self, runner: ScriptedRunner, **kwargs: Any) -> None:
        super().__init__(lambda setup: iter([{}]), lambda model: {"accuracy": 0.96}, target={"accuracy": 0.9},
                         **kwargs)
        self.runner = runner

    def trial_runner(self) -> Any:
        return self.runner


def knob(name: str) -> Strategy:
    strategy = Strategy()
    strategy.name = name
    return strategy


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_round_orders_put_each_strategy_after_each_other_equally_often(n: int) -> None:
    orders = balanced_orders(n)
    assert all(sorted(o) == list(range(n)) for o in orders)
    follows = Counter((a, b) for o in orders for a, b in zip(o, o[1:]))
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1, follows


def test_a_clear_answer_stops_early_and_an_open_one_runs_on() -> None:
    """A 30 % saving with 1 % noise and a 30 % cost are settled at the first look (round 3); a strategy
    whose 4 % change sits in 6 % noise keeps running, and when the rounds run out its verdict says
    how many more would settle it."""
    runner = ScriptedRunner({"saves": 0.7, "costs": 1.3, "unclear": 0.96}, noise=0.01)
    runner.noise = 0.01
    result = Scripted(runner, repeats=8).run([knob("saves"), knob("costs"), knob("unclear")])
    rounds = Counter(name for name, _, _ in runner.calls)
    assert rounds["saves"] == 3 and rounds["costs"] == 3
    assert result.report("saves").decision == "saves" and result.report("saves").recommended
    assert result.report("costs").decision == "costs more"
    assert rounds["baseline"] == rounds["unclear"] >= 3, "the baseline runs every round an open strategy does"


def test_a_strategy_that_changes_nothing_is_said_so_once_the_interval_fits_the_band() -> None:
    runner = ScriptedRunner({"same": 1.0}, noise=0.002)
    result = Scripted(runner, repeats=10).run([knob("same")])
    report = result.report("same")
    assert report.decision == "no change" and "no change beyond ±2%" in report.verdict
    assert report.rounds < 10, "settled before the last round"
    assert result.recommendation().startswith("No change is recommended")


def test_noise_too_large_for_the_rounds_left_ends_open_with_what_would_settle_it() -> None:
    runner = ScriptedRunner({"unclear": 0.95}, noise=0.08, seed=4)
    result = Scripted(runner, repeats=5).run([knob("unclear")])
    report = result.report("unclear")
    assert report.decision == "undecided" and 3 <= report.rounds <= 5
    assert report.rounds_needed is not None and report.rounds_needed > 5
    assert f"about {report.rounds_needed} rounds in all" in report.verdict
    assert any("1 verdict(s) left open: unclear" in n for n in result.notes)
    assert "1 undecided: unclear" in result.recommendation()


def test_a_verdict_no_round_left_could_settle_stops_early() -> None:
    """A 1 % change in 5 % noise would need hundreds of rounds: after the first look the strategy stops
    (futility), the rounds go to the one that can still be settled, and its verdict says what would do."""
    runner = ScriptedRunner({"hopeless": 0.99, "saves": 0.85}, noise=0.05, seed=5)
    result = Scripted(runner, repeats=10).run([knob("hopeless"), knob("saves")])
    rounds = Counter(name for name, _, _ in runner.calls)
    hopeless = result.report("hopeless")
    assert rounds["hopeless"] == 3 and hopeless.decision == "undecided"
    assert rounds["saves"] > 3 and result.report("saves").decision == "saves"
    assert "rounds" in hopeless.verdict and ("would be needed" in hopeless.verdict or "in all" in hopeless.verdict)


def test_a_clear_quality_loss_stops_at_the_first_look() -> None:
    runner = ScriptedRunner({"batch 512": 0.6}, noise=0.05, quality={"batch 512": 0.80})
    result = Scripted(runner, repeats=10).run([knob("batch 512")])
    assert result.report("batch 512").decision == "quality loss" and result.report("batch 512").rounds == 3


def test_the_budget_ends_the_experiment_and_says_which_verdicts_stay_open() -> None:
    runner = ScriptedRunner({"unclear": 0.97}, noise=0.05)
    experiment = Scripted(runner, repeats=50, budget_s=1e-9)
    skipped: list[Trial] = []
    result = experiment.run([knob("unclear")], progress=lambda t: skipped.append(t) if t.status == "skipped" else None)
    assert skipped and all("budget" in (t.reason or "") for t in skipped)
    assert any("the budget of 1e-09 s ended the experiment in round 1" in n for n in result.notes)


def test_inference_is_measured_every_round_only_where_it_can_differ() -> None:
    """Training strategies leave the model the script builds: their inference is measured in round 1,
    for the table. An inference strategy (and the baseline it pairs with) is measured every round."""
    runner = ScriptedRunner({"prune 50%": 1.0, "batch 128": 0.7}, noise=0.2, seed=2)
    experiment = Scripted(runner, repeats=4)
    experiment.predict_fn = lambda model: 1
    experiment.run([s.prune(0.5), s.batch_size(128)])
    measured = {(name, r): m for name, r, m in runner.calls}
    assert measured[("batch 128", 0)] and not any(m for (name, r), m in measured.items() if name == "batch 128" and r)
    assert all(m for (name, r), m in measured.items() if name == "prune 50%")
    prune_rounds = {r for (name, r) in measured if name == "prune 50%"}
    assert len(prune_rounds) >= 3 and all(measured[("baseline", r)] for r in prune_rounds), "its pairs measure both"


def test_a_strategy_that_cannot_run_here_is_tried_once() -> None:
    class Unavailable(ScriptedRunner):
        def run(self, strategy: Strategy, round_: int, *, measure_inference: bool) -> Trial:
            if strategy.name.startswith("GPU"):
                self.calls.append((strategy.name, round_, measure_inference))
                return Trial(strategy.name, strategy.kind, round_, "skipped", "no GPU visible to this process")
            return super().run(strategy, round_, measure_inference=measure_inference)

    runner = Unavailable({"saves": 0.7}, noise=0.01)
    result = Scripted(runner, repeats=6).run([s.power_limit(0.7), knob("saves")])
    assert [c for c in runner.calls if c[0].startswith("GPU")] == [("GPU power limit 70%", 0, False)]
    assert result.report("GPU power limit 70%").decision == "skipped"
    assert "no GPU visible" in result.report("GPU power limit 70%").verdict


def test_trials_run_before_the_budget_ran_out_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scripted trial takes 1 s of a scripted clock; a 4.5 s budget ends the third round after its
    baseline trial: the five trials that ran stay in the result, the sixth is reported as skipped."""
    import types

    from mlfootprint.reduce import experiment as module

    runner = ScriptedRunner({"unclear": 0.97}, noise=0.05, seconds_per_trial=1.0)
    monkeypatch.setattr(module, "time", types.SimpleNamespace(monotonic=lambda: runner.clock, sleep=lambda s: None))
    seen: list[Trial] = []
    result = Scripted(runner, repeats=10, budget_s=4.5).run([knob("unclear")], progress=seen.append)
    assert len(result.trials) == 5 and [t.status for t in seen].count("skipped") == 1
    assert any("ended the experiment in round 3 with 1 verdict(s) open: unclear" in n for n in result.notes)
