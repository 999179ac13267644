"""Strategies and the setup they configure: knobs, learning rates, the GPU power limit, model changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlfootprint.reduce import TYPICAL_LR, Setup, Strategy, StrategyUnavailable, strategies as s  # noqa: E402
from tests.fakes.amdsmi_fake import FakeAmdGpu, FakeAmdSmi  # noqa: E402
from tests.fakes.pynvml_fake import FakeGpu, FakeNvml  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
import digits  # noqa: E402


def test_strategy_arguments_are_validated() -> None:
    for bad in (lambda: s.batch_size(0), lambda: s.optimizer("lion"), lambda: s.mixed_precision("fp8"),
                lambda: s.prune(1.5), lambda: s.power_limit(2.0), lambda: s.data_fraction(0),
                lambda: s.quantize_dynamic("int4"), lambda: s.lr_schedule("warp"),
                lambda: s.optimizer("sgd", lr={"sgd": -1.0}), lambda: s.optimizer("sgd", lr={"lion": 0.1})):
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


def lr_of(setup: Setup, **kwargs: object) -> float:
    opt = setup.make_optimizer([torch.nn.Parameter(torch.zeros(2))], default="adam", lr=1e-3, **kwargs)  # type: ignore[arg-type]
    return float(opt.param_groups[0]["lr"])


def test_each_optimizer_runs_at_a_rate_that_suits_it() -> None:
    """The script's 1e-3 is its Adam's rate: SGD gets its own, from the strategy, the script, or the
    documented typical value, and the setup records which (the verdict names it)."""
    assert lr_of(Setup()) == 1e-3, "the script's own optimizer keeps the script's rate"
    typical = Setup(optimizer="sgd")
    assert lr_of(typical) == TYPICAL_LR["sgd"] == 0.1
    assert typical.chosen == {"optimizer": "sgd", "lr": "0.1 (typical for sgd; set yours with lr_by_optimizer)"}
    scripts = Setup(optimizer="sgd")
    assert lr_of(scripts, lr_by_optimizer={"sgd": 0.05}) == 0.05 and "lr_by_optimizer" in scripts.chosen["lr"]
    [strategy] = s.optimizer("sgd", lr={"sgd": 0.3})
    setup = Setup()
    strategy.configure(setup)
    assert lr_of(setup, lr_by_optimizer={"sgd": 0.05}) == 0.3 and setup.chosen["lr"] == "0.3 (set by the strategy)"


def test_power_limit_sets_and_restores_with_fake_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml([FakeGpu("H100", "GPU-1", 500.0), FakeGpu("H100", "GPU-2", 500.0, min_limit_mw=600_000)])
    nvml.install(monkeypatch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with s.power_limit(0.7)[0].context():
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
    nvml = FakeNvml([FakeGpu("H100", "GPU-1", 500.0), FakeGpu("H100", "GPU-2", 500.0, can_set_limit=False)])
    nvml.install(monkeypatch)
    with pytest.raises(StrategyUnavailable, match="needs root"):
        with s.power_limit(0.7)[0].context():
            pass
    assert [g.limit_mw for g in nvml.gpus] == [700_000, 700_000], "the GPU capped before the refusal is put back"


def test_power_limit_on_amd_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlfootprint.sensors.nvidia_driver_present", lambda env=None: False)
    amd = FakeAmdSmi([FakeAmdGpu("AMD Instinct MI250X", "uuid-a", 300.0)]).install(monkeypatch)
    with s.power_limit(0.7)[0].context():
        assert amd.gpus[0].cap_uw == 385_000_000
    assert amd.gpus[0].cap_uw == 550_000_000


def test_power_limit_without_a_gpu_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlfootprint.sensors.nvidia_driver_present", lambda env=None: False)
    monkeypatch.setattr("mlfootprint.sensors.amd_driver_present", lambda: False)
    with pytest.raises(StrategyUnavailable, match="no GPU visible to this process"):
        with s.power_limit(0.7)[0].context():
            pass


def test_quantize_and_prune_change_the_model() -> None:
    model, _, _ = digits.train(1)
    pruned = s.prune(0.5)[0].after_training(model)
    weights = torch.cat([m.weight.flatten() for m in pruned.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))])
    assert (weights == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    quantized = s.quantize_dynamic().after_training(model)
    assert "quantized" in type(quantized[-1]).__module__


def test_which_strategies_measure_inference_every_round() -> None:
    assert s.prune(0.5)[0].measures_inference() and s.threads(1)[0].measures_inference()
    assert not s.batch_size(64)[0].measures_inference()
    smaller = Strategy()
    smaller.affects_inference = True  # a user strategy that changes the architecture says so
    assert smaller.measures_inference()
    assert s.combine(s.batch_size(64)[0], s.quantize_dynamic()).measures_inference()


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


def test_a_region_is_read_by_the_grids_one_place_parser() -> None:
    from mlfootprint.grid import split_places

    assert split_places("FR:SE:gcp:europe-north1") == ["FR", "SE", "gcp:europe-north1"]
    assert split_places("FR, gcp:europe-north1,SWE") == ["FR", "gcp:europe-north1", "SWE"]
    places = s.region(*split_places("SE:gcp:europe-north1"))
    assert [p.name for p in places] == ["run in SE", "run in gcp:europe-north1"]
    with pytest.raises(ValueError, match="unknown country 'XX'"):
        s.region("XX")
