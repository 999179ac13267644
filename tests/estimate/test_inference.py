"""The serving model (estimate/inference.py): roofline arithmetic with known answers, the fit recovering
known constants from synthetic measurements, memory limits, mixtures of experts and their deployment."""

from __future__ import annotations

import math

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.estimate import inference as inf
from mlfootprint.hardware import get

H100 = get("h100-sxm")
IDEAL = inf.IDEAL


def test_memory_bound_step_is_bytes_over_bandwidth() -> None:
    # 1e9 params in bf16 = 2 GB of weights; KV 2 x 10 layers x 1000 wide x 2 B = 40 kB per token of context
    model = inf.Model(1e9, None, layers=10, d_model=1000, kv_dim=1000)
    st = inf.step(model, H100, inf.Serving(batch=4, prompt_tokens=0, output_tokens=200, accelerators=1), IDEAL)
    context = 100  # half the output on average
    bytes_read = 2e9 + 4 * context * 40_000
    assert st.t_memory_s == pytest.approx(bytes_read / 3.35e12)
    flops = 4 * (2 * 1e9 + 4 * 10 * 1000 * context)
    assert st.t_compute_s == pytest.approx(flops / 989.4e12)
    assert st.tokens_per_s == pytest.approx(4 / (st.t_memory_s + st.t_compute_s))
    assert st.power_w == pytest.approx(700) and st.energy_j_per_token == pytest.approx(700 / st.tokens_per_s)
    # the attention width, not d_model, sets attention's FLOPs per context token (latent attention: far wider)
    wide = inf.step(inf.Model(1e9, None, 10, 1000, 1000, attention_width=8000), H100,
                    inf.Serving(4, 0, 200, accelerators=1), IDEAL)
    assert wide.t_compute_s == pytest.approx(4 * (2 * 1e9 + 4 * 10 * 8000 * context) / 989.4e12)


def test_larger_batches_amortize_the_weights() -> None:
    model = inf.Model(8e9, None, 32, 4096, 1024)
    energies = [inf.step(model, H100, inf.Serving(b, 200, 700), inf.calibration()).energy_j_per_token
                for b in (1, 8, 64, 512)]
    assert energies == sorted(energies, reverse=True) and energies[0] / energies[-1] > 10


def test_the_per_layer_times_are_charged_per_step() -> None:
    cal = inf.Calibration(1.0, 1.0, 0.0, 0, moe_layer_s=1e-4, sync_layer_s=5e-5)
    dense = inf.Model(8e9, None, 32, 4096, 1024)
    one = inf.step(dense, H100, inf.Serving(8, 0, 100, accelerators=1), cal)
    two = inf.step(dense, H100, inf.Serving(8, 0, 100, accelerators=2), cal)
    assert one.t_overhead_s == 0 and two.t_overhead_s == pytest.approx(32 * 5e-5)
    moe = inf.step(inf.Model(30e9, 3e9, 40, 4096, 512, 1 / 16, 64), H100, inf.Serving(8, 0, 100, accelerators=1), cal)
    assert moe.t_overhead_s == pytest.approx(40 * 1e-4)
    assert moe.tokens_per_s == pytest.approx(8 / (moe.t_memory_s + moe.t_compute_s + 40 * 1e-4))


def test_fit_recovers_known_constants_from_synthetic_measurements() -> None:
    truth = inf.Calibration(efficiency=0.4, p0=0.6, p1=0.3, n_points=0, moe_layer_s=1.5e-4, sync_layer_s=4e-5)
    points = []
    for params, active, layers, d_model, n in ((8e9, None, 32, 4096, 1), (70e9, None, 80, 8192, 4),
                                               (200e9, 20e9, 60, 4096, 8), (30e9, 3e9, 48, 2048, 1)):
        model = inf.Model(params, active, layers, d_model, 1024, 1 / 16 if active else None, 64 if active else None)
        for batch in (8, 64, 256):
            s = inf.Serving(batch, 200, 600, n, expert_parallel=bool(active))
            st = inf.step(model, H100, s, truth)
            points.append(inf.Measured("fit", model, "h100-sxm", s, st.energy_j_per_token, st.tokens_per_s,
                                       st.power_w, f"synthetic {params:g}", "test"))
    got = inf.fit(points)
    assert got.efficiency == pytest.approx(0.4, rel=1e-6)
    assert (got.moe_layer_s, got.sync_layer_s) == (pytest.approx(1.5e-4, rel=1e-6), pytest.approx(4e-5, rel=1e-6))
    assert (got.p0, got.p1) == (pytest.approx(0.6, rel=1e-9), pytest.approx(0.3, rel=1e-9))
    assert inf.fit([p for p in points if not p.model.moe]).moe_layer_s == 0.0  # nothing to learn it from
    # leave-one-model-out on exact data predicts every dense model exactly
    for m, predicted in inf.leave_one_model_out(points):
        if not m.model.moe:
            assert predicted == pytest.approx(m.energy_j_per_token, rel=1e-6)


def test_nonnegative_least_squares_drops_a_column_that_would_go_negative() -> None:
    x = [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    assert inf.nonnegative_least_squares(x, [2.0, 4.0, 6.0]) == pytest.approx([2.0, 0.0])
    # falling data: the slope would be negative, so it is 0 and the intercept is the mean
    assert inf.nonnegative_least_squares(x, [1.5, 1.0, 0.5]) == pytest.approx([0.0, 1.0])


def test_mixture_of_experts_reads_the_experts_a_batch_touches() -> None:
    moe = inf.Model(200e9, 20e9, 40, 4096, 512)  # no expert share: every parameter taken as routed
    one = inf.step(moe, H100, inf.Serving(1, 0, 100, accelerators=8), IDEAL)
    many = inf.step(moe, H100, inf.Serving(512, 0, 100, accelerators=8), IDEAL)
    kv = lambda b: b * 50 * 2 * 40 * 512 * 2  # noqa: E731
    assert one.t_memory_s * 8 * 3.35e12 == pytest.approx(20e9 * 2 + kv(1))
    assert many.t_memory_s * 8 * 3.35e12 == pytest.approx(200e9 * 2 * (1 - 0.9 ** 512) + kv(512))


def test_a_known_expert_share_splits_always_read_weights_from_routed_experts() -> None:
    # 100e9 parameters, 20e9 active, 1 of 16 routed experts per token: experts = 80e9 / (15/16) = 85.33e9,
    # always read = 14.67e9; one sequence reads exactly the active parameters
    moe = inf.Model(100e9, 20e9, 40, 4096, 512, expert_share=1 / 16)
    experts = 80e9 / (15 / 16)
    assert moe.weights_touched(1) == pytest.approx(20e9)
    assert moe.weights_touched(16) == pytest.approx(100e9 - experts + experts * (1 - (15 / 16) ** 16))
    assert moe.weights_touched(100_000) == pytest.approx(100e9)
    assert moe.weights_touched(8) < inf.Model(100e9, 20e9, 40, 4096, 512).weights_touched(8)
    assert inf.Model(8e9).weights_touched(4) == 8e9  # dense: everything, every step


def test_expected_maximum_of_binomials() -> None:
    assert inf.expected_max_binomial(1, 0.5, 2) == pytest.approx(0.75)  # max of two coin flips
    assert inf.expected_max_binomial(4, 0.3, 1) == pytest.approx(1.2)
    assert inf.expected_max_binomial(16, 1.0, 8) == pytest.approx(16)  # every expert touched everywhere


def test_expert_parallelism_reads_the_busiest_accelerator() -> None:
    """With whole experts spread over accelerators, a small batch reads more on the busiest one than an even
    slice; a large batch touches every expert and the two deployments read alike."""
    moe = inf.Model(200e9, 20e9, 40, 4096, 512, expert_share=8 / 128, experts=128)
    _, routed = moe.split()
    for batch, more in ((8, True), (4096, False)):
        even, _ = inf.expert_reads(moe, batch, 8, expert_parallel=False)
        busiest, _ = inf.expert_reads(moe, batch, 8, expert_parallel=True)
        assert even == pytest.approx(routed * (1 - (1 - 8 / 128) ** batch) / 8)
        assert (busiest > 1.1 * even) if more else busiest == pytest.approx(even, rel=1e-3)
    assert inf.expert_reads(moe, 8, 1, expert_parallel=True) == inf.expert_reads(moe, 8, 1, expert_parallel=False)


def test_expert_precision_sets_the_experts_bytes() -> None:
    moe = inf.Model(200e9, 20e9, 40, 4096, 512, expert_share=1 / 16, experts=64)
    bf16 = inf.step(moe, H100, inf.Serving(64, 0, 100, accelerators=8), IDEAL)
    fp8_experts = inf.step(moe, H100, inf.Serving(64, 0, 100, accelerators=8, expert_precision="fp8"), IDEAL)
    always, routed = moe.split()
    touched = routed * (1 - (15 / 16) ** 64) / 8
    assert (bf16.t_memory_s - fp8_experts.t_memory_s) * 3.35e12 == pytest.approx(touched)
    assert inf.weight_bytes(moe, inf.Serving(1, 0, 1, expert_precision="fp8")) == pytest.approx(always * 2 + routed)


def test_memory_limits() -> None:
    model = inf.Model(70.6e9, None, 80, 8192, 1024)
    assert inf.default_accelerators(model, H100, "bf16") == 4
    assert inf.default_accelerators(model, H100, "fp8") == 2
    with pytest.raises(ConfigError, match="use --count 2 or more"):
        inf.step(model, H100, inf.Serving(8, 0, 100, accelerators=1), IDEAL)
    # 500k tokens x 328 kB = 164 GB of KV beside 141 GB of weights: 4.2 cards' usable 72 GB
    with pytest.raises(ConfigError, match="KV cache .* does not fit beside the weights in 4 x h100-sxm: use --count 5 or"):
        inf.step(model, H100, inf.Serving(1, 500_000, 100, accelerators=4), IDEAL)
    st = inf.step(model, H100, inf.Serving(10_000, 2000, 2000, accelerators=4), IDEAL)
    free = 0.9 * 4 * 80e9 - 70.6e9 * 2
    assert st.batch_capped and st.batch == int(free // (3000 * 2 * 80 * 1024 * 2))


def test_the_range_comes_from_rows_never_fitted_on_and_widens_for_a_mixture_of_experts() -> None:
    cal = inf.calibration()
    pairs = inf.out_of_sample()
    assert {m.set for m, _ in pairs} == {"fit", *inf.RANGE_SETS} and not any(m.set == "check-leaderboard" for m, _ in pairs)
    dense, moe = cal.error_range(False), cal.error_range(True)
    assert dense[0] < 1 < dense[1] and moe[0] < 1 < moe[1]
    assert cal.log_error == inf.with_ranges(cal, pairs).log_error


def test_shipped_calibration_holds_on_rows_it_never_saw() -> None:
    """Not a frozen number: the held-out rows are ML.ENERGY's B200, older-vLLM and leaderboard measurements
    the fit never reads; most must be within 2x for the model to mean anything, mixtures of experts included."""
    held = [m for m in inf.measurements() if m.set != "fit"]
    cal = inf.calibration()
    ratios = [inf.predict(m, cal).energy_j_per_token / m.energy_j_per_token for m in held]
    assert len(held) >= 300
    assert sum(0.5 <= r <= 2 for r in ratios) / len(ratios) >= 0.9
    moe = [r for m, r in zip(held, ratios) if m.model.moe and m.set == "check-leaderboard"]
    assert sum(0.5 <= r <= 2 for r in moe) / len(moe) >= 0.8
