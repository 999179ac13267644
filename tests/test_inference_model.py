"""The serving model (estimate/inference.py): roofline arithmetic with known answers, the fit recovering
known constants from synthetic measurements, memory limits and mixtures of experts."""

from __future__ import annotations

import math

import pytest

from mlfootprint.errors import ConfigError
from mlfootprint.estimate import inference as inf
from mlfootprint.hardware import get

H100 = get("h100-sxm")
IDEAL = inf.Calibration(efficiency=1.0, p0=1.0, p1=0.0, n_points=0)


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


def test_larger_batches_amortize_the_weights() -> None:
    model = inf.Model(8e9, None, 32, 4096, 1024)
    energies = [inf.step(model, H100, inf.Serving(b, 200, 700), inf.calibration()).energy_j_per_token
                for b in (1, 8, 64, 512)]
    assert energies == sorted(energies, reverse=True) and energies[0] / energies[-1] > 10


def test_fit_recovers_known_constants_from_synthetic_measurements() -> None:
    truth = inf.Calibration(efficiency=0.4, p0=0.6, p1=0.3, n_points=0, moe_efficiency=0.7)
    points = []
    for params, active, layers, d_model, n in ((8e9, None, 32, 4096, 1), (70e9, None, 80, 8192, 4),
                                               (200e9, 20e9, 60, 4096, 8)):
        model = inf.Model(params, active, layers, d_model, 1024)
        for batch in (8, 64, 256):
            s = inf.Serving(batch, 200, 600, n)
            st = inf.step(model, H100, s, truth)
            points.append(inf.Measured("fit", model, "h100-sxm", s, st.energy_j_per_token, st.tokens_per_s,
                                       st.power_w, f"synthetic {params:g}", "test"))
    got = inf.fit(points)
    assert got.efficiency == pytest.approx(0.4, rel=1e-9)
    assert (got.p0, got.p1) == (pytest.approx(0.6, rel=1e-9), pytest.approx(0.3, rel=1e-9))
    assert got.moe_efficiency == pytest.approx(0.7, rel=1e-9)
    assert inf.fit([p for p in points if p.model.active_params is None]).moe_efficiency == 1.0  # nothing to learn from
    # leave-one-model-out on exact data predicts the dense models exactly; left out, the only mixture of
    # experts is predicted as if dense (the fit without it has nothing to learn its efficiency from)
    for m, predicted in inf.leave_one_model_out(points):
        if m.model.active_params is None:
            assert predicted == pytest.approx(m.energy_j_per_token, rel=1e-9)
        else:
            assert predicted < m.energy_j_per_token


def test_mixture_of_experts_reads_the_experts_a_batch_touches() -> None:
    moe = inf.Model(200e9, 20e9, 40, 4096, 512)
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
    # small batches read less than when every parameter is taken as routed (the fallback without a share)
    assert moe.weights_touched(8) < inf.Model(100e9, 20e9, 40, 4096, 512).weights_touched(8)
    assert inf.Model(8e9).weights_touched(4) == 8e9  # dense: everything, every step


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


def test_shipped_calibration_holds_on_rows_it_never_saw() -> None:
    """Not a frozen number: the held-out rows are ML.ENERGY's B200, older-vLLM and leaderboard measurements
    of models the fit never reads; most must be within 2x for the model to mean anything."""
    held = [m for m in inf.measurements() if m.set != "fit"]
    cal = inf.calibration()
    ratios = [inf.predict(m, cal).energy_j_per_token / m.energy_j_per_token for m in held]
    assert len(held) >= 40
    assert sum(0.5 <= r <= 2 for r in ratios) / len(ratios) >= 0.9
    assert math.exp(cal.log_error_low) < 1 < math.exp(cal.log_error_high)
