"""Verdicts on synthetic trials: deterministic figures in, the verdict and its numbers out."""

from __future__ import annotations

import json
import math
import random

import pytest

from mlfootprint.reduce import Design, Strategy, Trial, strategies as s, summarize
from mlfootprint.reduce.result import Result
from mlfootprint.reduce.verdict import pct
from mlfootprint.shapes import to_json

TARGET = {"accuracy": 0.9}


def named(name: str, kind: str = "training") -> Strategy:
    strategy = s.baseline() if name == "baseline" else Strategy()
    strategy.name, strategy.kind = name, kind
    return strategy


def synthetic(energies: dict[str, list[float]], accuracy: dict[str, float | list[float]],
              kinds: dict[str, str] | None = None, design: Design | None = None, **trial_fields: object) -> Result:
    """A result from per-round energies (round i of every strategy pairs with round i of the baseline)."""
    strategies, trials = [], []
    for name, values in energies.items():
        strategy = named(name, (kinds or {}).get(name, "training"))
        strategies.append(strategy)
        quality = accuracy[name]
        for i, e in enumerate(values):
            q = quality[i] if isinstance(quality, list) else quality
            trials.append(Trial(name, strategy.kind, i, energy_j=e, energy_to_target_j=e * 0.8, epochs_to_target=4,
                                epochs=5, duration_s=1.0, co2e_kg=e * 1e-7, methods=("simulated",),
                                quality={"accuracy": q}, pue=1.2, **trial_fields))  # type: ignore[arg-type]
    return summarize(design or Design(TARGET, {"accuracy": 0.01}), strategies, trials)


def drifting(n: int, factor: float, noise: float, seed: int = 0) -> tuple[list[float], list[float]]:
    """Baseline and strategy energies over n rounds on a machine whose speed drifts ±30 % between rounds,
    the strategy `factor` times the baseline with `noise` (relative) on each trial."""
    rng = random.Random(seed)
    base, mine = [], []
    for _ in range(n):
        speed = rng.uniform(0.7, 1.3)
        base.append(100 * speed * (1 + rng.gauss(0, noise)))
        mine.append(100 * speed * factor * (1 + rng.gauss(0, noise)))
    return base, mine


def test_a_strategy_that_saves_30_percent_with_little_noise_is_recommended() -> None:
    base, mine = drifting(3, 0.7, 0.01)
    r = synthetic({"baseline": base, "batch 128": mine}, {"baseline": 0.96, "batch 128": 0.958})
    report = r.report("batch 128")
    assert report.decision == "saves" and report.recommended
    assert report.change == pytest.approx(-0.30, abs=0.02)
    assert report.change_range is not None and report.change_range.high < -0.02, "the interval clears the band"
    assert report.verdict.startswith("-30% energy to reach accuracy ≥ 0.9 (interval ")
    assert "3 rounds" in report.verdict and "-0.2 pt accuracy" in report.verdict
    assert "only if training stops there" in report.verdict
    assert "batch 128" in r.recommendation()


def test_a_strategy_that_changes_nothing_is_said_to_change_nothing() -> None:
    base, mine = drifting(6, 1.0, 0.002)
    r = synthetic({"baseline": base, "same": mine}, {"baseline": 0.96, "same": 0.96})
    report = r.report("same")
    assert report.decision == "no change" and not report.recommended
    assert report.change_range is not None and -0.02 <= report.change_range.low <= report.change_range.high <= 0.02
    assert "no change beyond ±2%" in report.verdict
    assert r.recommendation().startswith("No change is recommended")


def test_an_open_question_says_what_would_settle_it() -> None:
    base, mine = drifting(4, 0.95, 0.04, seed=3)
    r = synthetic({"baseline": base, "x": mine}, {"baseline": 0.96, "x": 0.96})
    report = r.report("x")
    assert report.decision == "undecided" and not report.recommended
    assert report.rounds_needed is not None and report.rounds_needed > 4
    assert f"about {report.rounds_needed} rounds in all ({report.rounds_needed - 4} more)" in report.verdict
    assert "% per round" in report.verdict
    low, high = report.change_range.low, report.change_range.high  # type: ignore[union-attr]
    assert low < -0.02 < high or low < 0.02 < high, "undecided: the interval crosses a band edge"


@pytest.mark.parametrize("energies,decision", [([100, 120, 80], "no change"), ([95, 125, 78], "undecided")])
def test_the_words_never_contradict_the_interval(energies: list[float], decision: str) -> None:
    """"cheaper in 3 of 3 repeats" beside "within noise" was the old wording: now the verdict states the
    interval its decision rests on, and the decision follows from it (identical rounds: no change; rounds
    that scatter over ±20 %: an interval 70 points wide, which settles nothing)."""
    r = synthetic({"baseline": [100, 120, 80], "x": energies}, {"baseline": 0.96, "x": 0.96})
    report = r.report("x")
    assert "cheaper in" not in report.verdict and "of 3 repeats" not in report.verdict
    c = report.change_range
    assert c is not None and f"(interval {pct(c.low)} to {pct(c.high)}, 3 rounds)" in report.verdict
    assert report.decision == decision
    if decision == "undecided":
        assert "would be needed" in report.verdict and c.high - c.low > 0.5


def test_pairing_by_round_cancels_a_drifting_machine() -> None:
    """The machine's speed drifts between rounds (100, 150, 70): each repeat against its own round's
    baseline, a 10 % saving is 10 % every time, and the interval is narrow."""
    r = synthetic({"baseline": [100, 150, 70], "x": [90, 135, 63.0]}, {"baseline": 0.96, "x": 0.96})
    report = r.report("x")
    assert report.decision == "saves" and report.change == pytest.approx(-0.10)


def test_a_saving_that_costs_too_much_quality_is_refused() -> None:
    r = synthetic({"baseline": [100, 101, 99], "prune": [50, 51, 49], "sgd": [99, 120, 80]},
                  {"baseline": 0.96, "prune": 0.90, "sgd": 0.10})
    prune = r.report("prune")
    assert prune.decision == "quality loss" and not prune.recommended
    assert "-6.0 pt accuracy" in prune.verdict and "tolerance" in prune.verdict
    assert r.report("sgd").decision == "quality loss", "the quality loss is the reason, not the noise"
    assert r.recommendation().startswith("No change is recommended")


def test_a_costlier_strategy_is_not_a_saving() -> None:
    r = synthetic({"baseline": [100, 101, 99], "bf16": [700, 710, 690]}, {"baseline": 0.96, "bf16": 0.96})
    report = r.report("bf16")
    assert report.decision == "costs more" and report.verdict.startswith("+600% energy to reach accuracy ≥ 0.9")
    assert report.verdict.endswith("costlier beyond ±2%")


def test_fewer_rounds_than_an_interval_needs_decide_nothing() -> None:
    r = synthetic({"baseline": [100], "a": [50]}, {"baseline": 0.96, "a": 0.96})
    report = r.report("a")
    assert report.decision == "undecided" and not report.recommended and report.change_range is None
    assert "1 round: an interval needs 3 or more" in report.verdict and report.change == pytest.approx(-0.5)


def test_the_quality_judged_is_the_paired_change() -> None:
    """Quality per round, paired like the energy: a strategy 2 points worse in every round is a
    quality loss even when the rounds' own accuracies spread over 10 points."""
    r = synthetic({"baseline": [100, 100, 100], "x": [60, 60, 60.0]},
                  {"baseline": [0.90, 0.95, 0.99], "x": [0.88, 0.93, 0.97]})
    assert r.report("x").quality_change == pytest.approx(-0.02)
    assert r.report("x").decision == "quality loss"


def test_a_round_whose_trials_saw_different_load_is_left_out_and_said_so() -> None:
    """In round 1 a neighbour started after the baseline's trial (1.2 cores against the 0.05 of the rest):
    that pair is left out, and the verdict rests on the other rounds. In round 2 the neighbour ran through
    both trials: they compare like with like, and the round counts."""
    strategies = [named("baseline"), named("x")]
    trials = []
    for i, (b, x, load_b, load_x) in enumerate([(100, 70, 0.05, 0.05), (100, 130, 0.05, 1.2), (110, 77, 1.1, 1.2),
                                                 (100, 70, 0.06, 0.05)]):
        trials.append(Trial("baseline", "training", i, energy_j=b, quality={"accuracy": 0.96}, other_load_cores=load_b))
        trials.append(Trial("x", "training", i, energy_j=x, quality={"accuracy": 0.96}, other_load_cores=load_x))
    r = summarize(Design(TARGET), strategies, trials)
    report = r.report("x")
    assert report.rounds == 3 and report.change == pytest.approx(-0.3) and report.contaminated == 0
    assert "less certain" not in report.verdict
    assert report.energy_j == 70, "the figures are the clean trials' (round 2's neighbour ran beside it)"
    assert any("3 trial(s) ran beside more of other processes' load than the floor" in n
               and "1 round(s) did not and were left out" in n for n in r.notes), r.notes


def test_too_few_comparable_rounds_fall_back_to_all_and_say_so() -> None:
    strategies = [named("baseline"), named("x")]
    trials = []
    for i, (load_b, load_x) in enumerate([(0.05, 1.2), (1.3, 0.05), (0.05, 0.05)]):
        trials.append(Trial("baseline", "training", i, energy_j=100, quality={"accuracy": 0.96}, other_load_cores=load_b))
        trials.append(Trial("x", "training", i, energy_j=70, quality={"accuracy": 0.96}, other_load_cores=load_x))
    report = summarize(Design(TARGET), strategies, trials).report("x")
    assert report.rounds == 3 and report.contaminated == 2 and report.verdict.endswith("less certain)")
    assert report.decision == "saves"
    still_running = summarize(Design(TARGET), strategies, trials, last_round=False).report("x")
    assert still_running.rounds == 1 and still_running.decision == "undecided", "more rounds may bring comparable ones"


def test_a_steady_neighbour_spoils_nothing() -> None:
    """A foreign job that keeps one core busy through the whole experiment is the floor: every pair ran
    beside the same load, so every round counts, and the notes say how busy the machine was."""
    r = synthetic({"baseline": [100, 100, 100], "x": [70, 70, 70.0]}, {"baseline": 0.96, "x": 0.96},
                  other_load_cores=1.0)
    assert r.report("x").rounds == 3 and r.report("x").decision == "saves"
    assert r.floor_cores == 1.0 and any("kept 1.00 cores busy throughout" in n for n in r.notes)


def test_an_optimizer_verdict_names_the_learning_rate_it_ran_at() -> None:
    strategies = [named("baseline"), named("sgd")]
    trials = [Trial("baseline", "training", i, energy_j=100, quality={"accuracy": 0.96},
                    settings={"optimizer": "adam", "lr": "0.001 (the script's)"}) for i in range(3)]
    trials += [Trial("sgd", "training", i, energy_j=100, quality={"accuracy": 0.80},
                     settings={"optimizer": "sgd", "lr": "0.1 (typical for sgd; set yours with lr_by_optimizer)"})
               for i in range(3)]
    report = summarize(Design(TARGET), strategies, trials).report("sgd")
    assert "[ran with optimizer sgd, lr 0.1 (typical for sgd" in report.verdict
    assert report.settings == {"optimizer": "sgd", "lr": "0.1 (typical for sgd; set yours with lr_by_optimizer)"}


def test_a_placement_is_the_baselines_energy_at_another_grid() -> None:
    strategies = [named("baseline"), *s.region("SE", "gcp:europe-north1")]
    trials = [Trial("baseline", "training", i, energy_j=3.6e6, co2e_kg=0.3, quality={"accuracy": 0.96}, pue=1.2)
              for i in range(3)]
    r = summarize(Design(TARGET), strategies, trials)
    sweden = r.report("run in SE")
    assert sweden.energy_j == 3.6e6 and sweden.co2e_kg == pytest.approx(1.2 * strategies[1].location.intensity_g_per_kwh
                                                                        / 1000)  # type: ignore[attr-defined]
    assert sweden.decision == "saves" and "Sweden" in sweden.verdict
    assert any("different bases" in n for n in r.notes)


def test_two_good_strategies_that_change_different_knobs_are_suggested_together() -> None:
    batch, bf16, fp16 = s.batch_size(128)[0], *s.mixed_precision("bf16", "fp16")
    energies = {"baseline": [100, 101, 99], "batch 128": [70, 71, 69], "bf16": [80, 81, 79], "fp16": [75, 76, 74]}
    chosen = [s.baseline(), batch, bf16, fp16]
    trials = [Trial(n, "training", i, energy_j=e, epochs=5, duration_s=1.0, quality={"accuracy": 0.96})
              for n, values in energies.items() for i, e in enumerate(values)]
    r = summarize(Design(TARGET), chosen, trials)
    combo = r.best_combination()
    # the best (batch 128) with the best that changes something else: fp16 beats bf16, both set the precision
    assert combo is not None and combo.name == "batch 128 + fp16"
    assert "combine(batch 128, fp16)" in r.recommendation()
    same_knob = summarize(Design(TARGET), [s.baseline(), bf16, fp16],
                          [t for t in trials if t.strategy in ("baseline", "bf16", "fp16")])
    assert same_knob.best_combination() is None, "bf16 and fp16 both set the precision: never paired"
    with pytest.raises(ValueError, match="change the same thing"):
        s.combine(bf16, fp16)
    assert s.combine(bf16, batch).knobs() == {"precision", "batch_size"}


# the keys `reduce --json` printed before the sequential design: every one is still there
OLD_KEYS = {"strategy", "kind", "repeats", "energy_j", "energy_sd_j", "energy_to_target_j", "reached_target",
            "epochs_to_target", "epochs", "duration_s", "co2e_kg", "quality", "inference_j_per_1000", "inference_sd",
            "methods", "reason", "intensity_note", "contaminated", "change", "recommended", "verdict"}


def test_the_json_keeps_its_keys_and_states_the_interval() -> None:
    r = synthetic({"baseline": [100, 102, 98], "x": [70, 71, 69]}, {"baseline": 0.96, "x": 0.958})
    rows = json.loads(json.dumps(r.records()))
    assert all(OLD_KEYS <= set(row) for row in rows)
    x = next(row for row in rows if row["strategy"] == "x")
    assert x["decision"] == "saves" and x["rounds"] == 3 and x["basis"].startswith("energy to reach")
    assert set(x["change_range"]) == {"value", "low", "high"} and x["change_range"]["value"] == x["change"]
    assert rows == [to_json(rep) for rep in sorted(r.reports, key=lambda rep: rep.energy_j or 0)]


def test_the_change_is_the_geometric_mean_of_the_round_ratios() -> None:
    r = synthetic({"baseline": [100, 100, 100], "x": [50, 100, 200.0]}, {"baseline": 0.96, "x": 0.96})
    assert r.report("x").change == pytest.approx(0.0, abs=1e-12)  # x0.5, x1, x2: no change on average
    assert math.isclose(r.change("x") or 0.0, r.report("x").change or 0.0)
