"""estimate(): the three request types, their arithmetic, their refusals, and the typed result's JSON."""

from __future__ import annotations

import json

import pytest

from mlfootprint.constants import J_PER_KWH
from mlfootprint.errors import ConfigError
from mlfootprint.estimate import (Estimate, HoursWorkload, Model, Request, ServingWorkload, TrainingWorkload, estimate,
                                  workload)
from mlfootprint.estimate.utilization import effective_utilization, fp8_gain
from mlfootprint.estimate.validation import published_place
from mlfootprint.shapes import to_json

PLACE = published_place(1.1, 0.385)
# the JSON keys `estimate --json` printed before the typed Estimate, which it must keep
KEYS = {"label", "workload", "hardware", "accelerators", "params", "tokens", "flops", "accelerator_hours",
        "accelerator_hours_range", "wall_time_s", "serving", "energy_j", "energy_kwh", "facility_energy_j", "co2e_kg",
        "co2e_embodied_kg", "co2e_total_kg", "water_l", "electricity_cost", "assumptions", "impact"}


def test_peak_utilization_uses_the_family_mfu_and_the_datasheet_peak() -> None:
    est = estimate(TrainingWorkload("a100-80gb", 70e9, 2e12, count=2048, utilization="peak"), PLACE)
    hours = 6 * 70e9 * 2e12 / (312e12 * 0.421) / 3600
    assert est.accelerator_hours == pytest.approx(hours)
    lo, hi = est.accelerator_hours_range
    assert lo == pytest.approx(hours * 0.421 / 0.542) and hi == pytest.approx(hours * 0.421 / 0.302)
    assert est.energy_j == pytest.approx(hours * 400 * 3600)
    assert est.co2e_kg == pytest.approx(est.energy_j * 1.1 / J_PER_KWH * 0.385)
    assert est.wall_time_s == pytest.approx(hours / 2048 * 3600)
    names = {a.name: a for a in est.assumptions}
    assert "Korthikanti" in names["mfu"].source and "datasheet" in names["peak_flops_per_s"].source
    assert est.co2e_embodied_kg > 0 and est.water_l > 0
    assert est.range.level is None  # the papers' spread claims no coverage


def test_the_fitted_utilization_gives_hours_with_a_range_at_its_level() -> None:
    est = estimate(TrainingWorkload("h100-sxm", 70e9, 2e12), PLACE)
    u = effective_utilization("hopper", 70e9)
    flops = 6 * 70e9 * 2e12
    assert est.accelerator_hours == pytest.approx(flops / (989.4e12 * u.value) / 3600)
    assert est.accelerator_hours_range == pytest.approx((flops / (989.4e12 * u.high) / 3600,
                                                         flops / (989.4e12 * u.low) / 3600))
    assert est.range.level == pytest.approx(0.9) and est.range.widened_by == ()
    # a mixture of experts and FP8 training are wider, and say why
    moe = estimate(TrainingWorkload("h100-sxm", 671e9, 2e12, active_params=37e9, precision="fp8"), PLACE)
    assert {"mixture of experts", "FP8 training"} <= {w.split(":")[0] for w in moe.range.widened_by}
    width = lambda e: e.accelerator_hours_range[1] / e.accelerator_hours_range[0]  # noqa: E731
    assert width(moe) > width(estimate(TrainingWorkload("h100-sxm", 37e9, 2e12), PLACE))
    # FP8: the same BF16-peak utilization, divided by the measured gain
    bf16 = estimate(TrainingWorkload("h100-sxm", 671e9, 2e12, active_params=37e9), PLACE)
    assert moe.accelerator_hours == pytest.approx(bf16.accelerator_hours / fp8_gain()[0])


def test_known_hours_are_exact_and_say_so() -> None:
    est = estimate(HoursWorkload(1720320, "a100-80gb", power_w=400), PLACE)
    assert est.accelerator_hours_range == (1720320, 1720320) and est.energy_j == pytest.approx(1720320 * 400 * 3600)
    assert est.co2e_kg / 1000 == pytest.approx(291.42, rel=1e-3)  # Llama 2 70B, Touvron et al. 2023, Table 2
    assert est.range.level is None


def test_the_typed_result_keeps_the_json_shape_and_adds_the_range() -> None:
    est = estimate(TrainingWorkload("a100-80gb", 7e9, 1e12, count=64), PLACE)
    assert isinstance(est, Estimate)
    data = json.loads(json.dumps(to_json(est)))
    assert set(data) == KEYS | {"range"}
    assert set(data["range"]) == {"level", "source", "widened_by"} and data["range"]["level"] == 0.9
    assert {a["name"] for a in data["assumptions"]} >= {"flops", "peak_flops_per_s", "utilization",
                                                       "power_w_per_accelerator"}
    assert data["accelerator_hours_range"][0] < data["accelerator_hours"] < data["accelerator_hours_range"][1]


def test_serving_returns_decode_figures_and_a_class_range() -> None:
    dense = estimate(ServingWorkload("h100-sxm", Model(8e9, None, 32, 4096, 1024), tokens=1e6, tokens_per_request=500),
                     PLACE)
    assert dense.serving is not None and dense.workload == "inference" and dense.accelerators == 1
    assert dense.energy_j == pytest.approx(1e6 * dense.serving.energy_j_per_token)
    assert dense.range.level == pytest.approx(0.9) and dense.range.widened_by == ()
    moe = estimate(ServingWorkload("h100-sxm", Model(30.5e9, 3.3e9, 48, 2048, 512, 0.0625, 128, 4096), tokens=1e6),
                   PLACE)
    assert moe.range.widened_by and "mixture of experts" in moe.range.widened_by[0]


@pytest.mark.parametrize("w,message", [
    (TrainingWorkload("a100-80gb", 7e9, 1e12, mfu=1.2), r"MFU must be in \(0, 1\]"),
    (TrainingWorkload("a100-80gb", 7e9, -1), "tokens must be a positive number"),
    (TrainingWorkload("tpu-v5e", 7e9, 1e12, utilization="peak"), "no cited MFU for the tpu-v5e family"),
    (TrainingWorkload("a100-80gb", 7e9, 1e12, utilization="best"), "unknown utilization 'best'"),  # type: ignore[arg-type]
    (TrainingWorkload("tpu-v4", 7e9, 1e12), "no published TDP for tpu-v4"),
    (TrainingWorkload("v100-sxm2", 7e9, 1e12, precision="fp8"), "no published dense fp8 peak for v100-sxm2"),
    (TrainingWorkload("rtx-6000-ada", 7e9, 1e12), "no published dense bf16 peak for rtx-6000-ada"),
    (TrainingWorkload("zz-9", 7e9, 1e12), "unknown hardware 'zz-9'.*a100-80gb"),
    (TrainingWorkload("a100-80gb", 7e9, 1e12, inference=True), "effective utilization is fitted to training runs"),
    (HoursWorkload(-5, "a100-80gb"), "accelerator-hours must be a positive number"),
    (HoursWorkload(10), "no --hardware: give --power-w"),
    (ServingWorkload("h100-sxm", Model(8e9, None, 32, 4096), 1e6, expert_precision="int3"), "unknown expert-precision"),
    (ServingWorkload("h100-sxm", Model(8e9, 9e9, 32, 4096), 1e6), r"active-params \(9e\+09\) cannot exceed"),
])
def test_impossible_or_incomplete_workloads_are_refused(w: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        estimate(w, published_place(1.1, 0.4))  # type: ignore[arg-type]


def test_a_request_becomes_the_type_it_asks_for() -> None:
    assert isinstance(workload(Request(params=7e9, tokens=1e12, hardware="a100")), TrainingWorkload)
    assert isinstance(workload(Request(accelerator_hours=10, hardware="a100")), HoursWorkload)
    served = workload(Request(params=8e9, layers=32, d_model=4096, hardware="h100", inference=True,
                              tokens_per_request=500, requests=1000, experts=None))
    assert isinstance(served, ServingWorkload) and served.tokens == 500_000
    flops_only = workload(Request(params=8e9, tokens=1e6, hardware="h100", inference=True, mfu=0.4))
    assert isinstance(flops_only, TrainingWorkload) and flops_only.inference
    assert workload(Request(params=1e9, tokens_per_param=20, hardware="h100")).tokens == 20e9  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="--batch, --expert-parallel describe serving: add --inference"):
        workload(Request(params=7e9, tokens=1e9, hardware="h100", batch=8, expert_parallel=True))
    with pytest.raises(ConfigError, match="give --params and --tokens"):
        workload(Request(hardware="h100"))
