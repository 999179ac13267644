from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlfootprint.reduce import Experiment, Setup, Strategy, StrategyUnavailable, Trial, strategies as s  # noqa: E402
from mlfootprint.reduce.result import Result  # noqa: E402
from tests.fakes.pynvml_fake import FakeGpu, FakeNvml  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import digits  # noqa: E402


# -- verdicts on synthetic trials: deterministic ------------------------------------------------------
def synthetic(energies: dict[str, list[float]], accuracy: dict[str, float], kinds: dict[str, str] | None = None,
              target: dict[str, float] | None = None) -> Result:
    exp = Experiment(lambda setup: iter(()), lambda m: {}, target=target or {"accuracy": 0.9},
                     tolerance={"accuracy": 0.01})
    strategies = []
    trials = []
    for name, values in energies.items():
        strat = s.baseline() if name == "baseline" else Strategy()
        strat.name, strat.kind = name, (kinds or {}).get(name, "training")
        strategies.append(strat)
        for i, e in enumerate(values):
            trials.append(Trial(name, strat.kind, i, energy_j=e, energy_to_target_j=e * 0.8, epochs_to_target=4,
                                epochs=5, duration_s=1.0,
                                co2e_kg=e * 1e-7, methods=["measured"], quality={"accuracy": accuracy[name]}))
    return Result(exp, strategies, trials, [])


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_round_orders_put_each_strategy_after_each_other_equally_often(n: int) -> None:
    from collections import Counter

    from mlfootprint.reduce.experiment import balanced_orders

    orders = balanced_orders(n)
    assert all(sorted(o) == list(range(n)) for o in orders)
    follows = Counter((a, b) for o in orders for a, b in zip(o, o[1:]))
    assert len(follows) == n * (n - 1) and len(set(follows.values())) == 1, follows


def test_a_clear_saving_with_quality_kept_is_recommended() -> None:
    r = synthetic({"baseline": [100, 102, 98], "batch 128": [70, 71, 69]}, {"baseline": 0.96, "batch 128": 0.958})
    ok, why = r.verdict("batch 128")
    assert ok and why.startswith("-30% energy to reach accuracy ≥ 0.9") and "-0.2 pt accuracy" in why
    assert "3 of 3 repeats" in why and "only if training stops there" in why
    assert "batch 128" in r.recommendation()


def test_a_saving_within_noise_is_refused() -> None:
    r = synthetic({"baseline": [100, 120, 80], "x": [95, 125, 78]}, {"baseline": 0.96, "x": 0.96})
    ok, why = r.verdict("x")
    assert not ok and "within measurement noise" in why


def test_pairing_by_round_cancels_a_drifting_machine() -> None:
    """The machine's speed drifts between rounds (100, 150, 70): unpaired, a 10 % saving drowns in it;
    each repeat against its own round's baseline, it is 10 % every time."""
    r = synthetic({"baseline": [100, 150, 70], "x": [90, 135, 63]}, {"baseline": 0.96, "x": 0.96})
    ok, why = r.verdict("x")
    assert ok and why.startswith("-10%")
    unpaired = synthetic({"baseline": [100, 150], "x": [90, 135]}, {"baseline": 0.96, "x": 0.96})
    assert not unpaired.verdict("x")[0], "two repeats: Welch's test on the groups, and the drift hides the saving"


def test_a_saving_that_costs_too_much_quality_is_refused() -> None:
    r = synthetic({"baseline": [100, 101, 99], "prune": [50, 51, 49], "sgd": [99, 120, 80]},
                  {"baseline": 0.96, "prune": 0.90, "sgd": 0.10})
    ok, why = r.verdict("prune")
    assert not ok and "-6.0 pt accuracy" in why and "tolerance" in why
    assert "tolerance" in r.verdict("sgd")[1]  # the quality loss is the reason, not the noise
    assert r.recommendation().startswith("No change is recommended")


def test_a_costlier_strategy_is_not_a_saving() -> None:
    r = synthetic({"baseline": [100, 101, 99], "bf16": [700, 710, 690]}, {"baseline": 0.96, "bf16": 0.96})
    assert r.verdict("bf16") == (False, "+600% energy to reach accuracy ≥ 0.9, +0.0 pt accuracy; cheaper in 0 of 3 "
                                        "repeats — not a saving here: costlier beyond the noise")


def test_single_repeats_use_the_noise_floor_and_say_so() -> None:
    r = synthetic({"baseline": [100], "a": [99], "b": [80]}, {"baseline": 0.96, "a": 0.96, "b": 0.96})
    ok_a, why_a = r.verdict("a")
    assert not ok_a and "one repeat: noise unknown" in why_a
    assert r.verdict("b")[0]


def test_two_good_strategies_that_change_different_knobs_are_suggested_together() -> None:
    exp = Experiment(lambda setup: iter(()), lambda m: {}, target={"accuracy": 0.9})
    batch, bf16, fp16 = s.batch_size(128)[0], *s.mixed_precision("bf16", "fp16")
    energies = {"baseline": [100, 101, 99], "batch 128": [70, 71, 69], "bf16": [80, 81, 79], "fp16": [75, 76, 74]}
    chosen = [s.baseline(), batch, bf16, fp16]
    trials = [Trial(n, "training", i, energy_j=e, epochs=5, duration_s=1.0, methods=["simulated"],
                    quality={"accuracy": 0.96}) for n, values in energies.items() for i, e in enumerate(values)]
    combo = Result(exp, chosen, trials, []).best_combination()
    # the best (batch 128) with the best that changes something else: fp16 beats bf16, both set the precision
    assert combo is not None and combo.name == "batch 128 + fp16"
    assert "combine(batch 128, fp16)" in Result(exp, chosen, trials, []).recommendation()
    same_knob = Result(exp, [s.baseline(), bf16, fp16], [t for t in trials if t.strategy in ("baseline", "bf16", "fp16")],
                       [])
    assert same_knob.best_combination() is None, "bf16 and fp16 both set the precision: never paired"
    batch = s.batch_size(128)[0]
    with pytest.raises(ValueError, match="change the same thing"):
        s.combine(bf16, fp16)
    assert s.combine(bf16, batch).knobs() == {"precision", "batch_size"}


def test_the_suggested_combination_pairs_different_knobs() -> None:
    exp = Experiment(lambda setup: iter(()), lambda m: {}, target={"accuracy": 0.9})
    bf16, fp16 = s.mixed_precision("bf16", "fp16")
    batch = s.batch_size(2048)[0]
    strategies, trials = [s.baseline(), bf16, fp16, batch], []
    for strat, e in ((strategies[0], 100), (bf16, 45), (fp16, 49), (batch, 90)):
        for i in range(3):
            trials.append(Trial(strat.name, strat.kind, i, energy_j=e + i, quality={"accuracy": 0.96}))
    r = Result(exp, strategies, trials, [])
    assert r.best_combination().name == "bf16 + batch 2048"
    assert "combine(bf16, batch 2048)" in r.recommendation()


def test_pareto_plot_is_written(tmp_path: Path) -> None:
    r = synthetic({"baseline": [100, 101, 99], "a": [70, 71, 69], "b": [120, 121, 119]},
                  {"baseline": 0.96, "a": 0.95, "b": 0.97})
    path = r.pareto_plot(str(tmp_path / "p.png"))
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- strategies ---------------------------------------------------------------------------------
def test_strategy_arguments_are_validated() -> None:
    for bad in (lambda: s.batch_size(0), lambda: s.optimizer("lion"), lambda: s.mixed_precision("fp8"),
                lambda: s.prune(1.5), lambda: s.power_limit(2.0), lambda: s.data_fraction(0),
                lambda: s.quantize_dynamic("int4"), lambda: s.lr_schedule("warp")):
        with pytest.raises(ValueError):
            bad()


def test_setup_knobs() -> None:
    setup = Setup(optimizer="momentum", lr_schedule="cosine", data_fraction=0.5, deduplicate=True)
    params = [torch.nn.Parameter(torch.zeros(2))]
    opt = setup.make_optimizer(params)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    assert isinstance(setup.make_scheduler(opt, 10), torch.optim.lr_scheduler.CosineAnnealingLR)
    x = torch.tensor([[1.0], [2.0], [1.0], [3.0], [2.0], [4.0]])
    xr, yr = setup.reduce_data(x, torch.arange(6))
    assert len(xr) == 2 and set(xr.flatten().tolist()) <= {1.0, 2.0, 3.0, 4.0}
    assert Setup(deduplicate=True).reduce_data(x, torch.arange(6))[1].tolist() == [0, 1, 3, 5]
    with Setup(precision="bf16").autocast():
        assert torch.nn.Linear(2, 2)(torch.zeros(1, 2)).dtype == torch.bfloat16


def test_power_limit_sets_and_restores_with_fake_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml([FakeGpu("H100", "GPU-1", 500.0), FakeGpu("H100", "GPU-2", 500.0, min_limit_mw=600_000)])
    nvml.install(monkeypatch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    strategy = s.power_limit(0.7)[0]
    with strategy.context():
        assert [g.limit_mw for g in nvml.gpus] == [490_000, 600_000]  # 70 % of 700 W; clamped to the minimum
    assert [g.limit_mw for g in nvml.gpus] == [700_000, 700_000]


def test_power_limit_caps_only_the_gpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml([FakeGpu("H100", "GPU-aaa", 500.0), FakeGpu("H100", "GPU-bbb", 500.0)])
    nvml.install(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbb")
    with s.power_limit(0.7)[0].context():
        assert [g.limit_mw for g in nvml.gpus] == [700_000, 490_000], "another user's GPU 0 is left alone"
    assert nvml.shutdowns == 0, "NVML stays up for the meter sharing it"


def test_power_limit_without_privileges_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml([FakeGpu("H100", "GPU-1", 500.0, can_set_limit=False)])
    nvml.install(monkeypatch)
    with pytest.raises(StrategyUnavailable, match="needs root"):
        with s.power_limit(0.7)[0].context():
            pass


def test_quantize_and_prune_change_the_model() -> None:
    model, _, _ = digits.train(1)
    pruned = s.prune(0.5)[0].after_training(model)
    weights = torch.cat([m.weight.flatten() for m in pruned.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))])
    assert (weights == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    quantized = s.quantize_dynamic().after_training(model)
    assert "quantized" in type(quantized[-1]).__module__


# -- end to end on the digits workload ---------------------------------------------------------------
class FreezeFirstConv(Strategy):
    """The README's example of a user-defined strategy: train without updating the first layer."""

    name = "freeze first conv"
    kind = "training"

    def configure(self, setup: Setup) -> None:
        setup.extras["freeze"] = "0"


def test_the_user_strategy_changes_what_is_trained() -> None:
    setup = Setup(epochs=1)
    FreezeFirstConv().configure(setup)
    model = next(digits.train_trial(setup))
    torch.manual_seed(0)
    assert torch.equal(model[0].weight, digits.build_model()[0].weight)  # first conv untouched
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad


def test_experiment_on_digits_end_to_end(isolated_env: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    exp = Experiment(digits.train_trial, digits.evaluate, predict_fn=digits.predict, target={"accuracy": 0.9},
                     repeats=2, epochs=2, inference_s=0.2, budget_s=300, country="FR")
    result = exp.run([s.batch_size(128), s.quantize_dynamic(), s.threads(1), s.data_fraction(0.5),
                      FreezeFirstConv(), s.power_limit(0.7), s.region("SE")])
    by_name = {r["strategy"]: r for r in result.records()}
    assert set(by_name) == {"baseline", "batch 128", "dynamic int8", "1 thread", "data 50%", "freeze first conv",
                            "GPU power limit 70%", "run in SE"}
    assert by_name["GPU power limit 70%"]["energy_j"] is None and "skipped" in by_name["GPU power limit 70%"]["verdict"]
    base = by_name["baseline"]
    assert base["repeats"] == 2 and base["energy_j"] > 0 and 0.8 < base["quality"]["accuracy"] <= 1.0
    assert base["inference_j_per_1000"] > 0
    assert by_name["run in SE"]["energy_j"] == base["energy_j"] and by_name["run in SE"]["co2e_kg"] < base["co2e_kg"]
    assert "Sweden" in by_name["run in SE"]["verdict"]
    compared = {n: r for n, r in by_name.items() if r["change"] is not None}
    assert "batch 128" in compared and "baseline" not in compared
    assert all(r["verdict"].startswith(f"{r['change']:+.0%}") for r in compared.values()), "the change the verdict states"
    assert result.change("batch 128") == by_name["batch 128"]["change"]
    trials = [t for t in result.trials if t.status == "ok"]
    assert all(t.epochs == 2 and t.run_id for t in trials)
    result.table()
    out = capsys.readouterr().out
    assert "baseline" in out and "dynamic int8" in out and "J/1k pred" in out
    assert Path(result.pareto_plot(str(tmp_path / "pareto.png"))).exists()
    recommended = [n for n in result.summaries if result.verdict(n)[0]]
    text = result.recommendation()
    assert all(f"  {n}: " in text for n in recommended), "every recommendable strategy is in the recommendation"
    assert text.startswith("Recommended on this workload" if recommended else "No change is recommended")


def test_reduce_cli(isolated_env: Path, tmp_path: Path) -> None:
    script = tmp_path / "tiny.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
                      "import digits\ndigits.REDUCE_EPOCHS = 1\n"
                      "from digits import train_trial, evaluate\n")
    env = dict(os.environ, COLUMNS="120")
    run = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(script), "--strategies", "batch,region:SE",
                          "--target", "accuracy=0.5", "--repeats", "1", "--json-file", str(tmp_path / "r.json"),
                          "--plot", str(tmp_path / "p.png")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "batch 512" in run.stdout and "run in SE" in run.stdout
    records = json.loads((tmp_path / "r.json").read_text())
    assert {r["strategy"] for r in records} >= {"baseline", "batch 32", "batch 128", "batch 512", "run in SE"}
    for args, message in ((["--strategies", "warp-drive"], "unknown strategy 'warp-drive'"),
                          (["--target", "accuracy"], "invalid target 'accuracy'")):
        bad = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(script), *args],
                             capture_output=True, text=True, env=env, timeout=60)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "empty.py").write_text("x = 1\n")
    bad = subprocess.run([sys.executable, "-m", "mlfootprint", "reduce", str(tmp_path / "empty.py")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "defines no train_trial()" in bad.stderr
