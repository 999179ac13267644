"""Estimates before the run: FLOPs, accelerator-hours, energy and impact; validation against published
footprints; the `estimate` command and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlfootprint.constants import J_PER_KWH
from mlfootprint.estimate import Workload, estimate, inference_flops, training_flops
from mlfootprint.estimate.validation import compare, mape, published_place, table
from mlfootprint.errors import ConfigError
from mlfootprint.hardware import get as get_accelerator

PUBLISHED = Path(__file__).parent / "data" / "published_training_footprints.csv"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlfootprint", "estimate", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})


def test_flop_counts() -> None:
    assert training_flops(7e9, 1e12) == pytest.approx(6 * 7e9 * 1e12)
    # attention term: 12 x layers x d_model x seq_len per token
    assert training_flops(7e9, 1e12, layers=32, d_model=4096, seq_len=4096) == pytest.approx(
        (6 * 7e9 + 12 * 32 * 4096 * 4096) * 1e12)
    assert training_flops(46.7e9, 1e12, active_params=12.9e9) == pytest.approx(6 * 12.9e9 * 1e12)
    assert inference_flops(7e9, 500) == pytest.approx(2 * 7e9 * 500)


def test_peak_utilization_uses_the_family_mfu_and_the_datasheet_peak() -> None:
    est = estimate(Workload(hardware="a100-80gb", params=70e9, tokens=2e12, count=2048, utilization="peak"),
                   published_place(1.1, 0.385))
    hours = 6 * 70e9 * 2e12 / (312e12 * 0.421) / 3600
    assert est["accelerator_hours"] == pytest.approx(hours)
    lo, hi = est["accelerator_hours_range"]
    assert lo == pytest.approx(hours * 0.421 / 0.542) and hi == pytest.approx(hours * 0.421 / 0.302)
    assert est["energy_j"] == pytest.approx(hours * 400 * 3600)
    assert est["co2e_kg"] == pytest.approx(est["energy_j"] * 1.1 / J_PER_KWH * 0.385)
    assert est["wall_time_s"] == pytest.approx(hours / 2048 * 3600)
    names = {a["name"]: a for a in est["assumptions"]}
    assert "Korthikanti" in names["mfu"]["source"] and "datasheet" in names["peak_flops_per_s"]["source"]
    assert est["co2e_embodied_kg"] > 0 and est["water_l"] > 0


def test_validation_against_published_training_footprints(capsys: pytest.CaptureFixture[str]) -> None:
    results = compare(PUBLISHED)
    with capsys.disabled():
        print("\n" + table(results))
    assert mape(results, "hours") <= 0.10  # goal: <= 10 % where accelerator-hours are known
    assert mape(results, "flops") <= 0.30  # goal: <= 30 % from parameters and tokens alone
    # where the publication charged the datasheet TDP, the hours path must reproduce its CO2e exactly
    for r in results:
        if r["method"] == "hours" and r["model"].startswith(("BLOOM", "LLaMA", "Llama 2 7B", "Llama 2 70B")):
            assert abs(r["co2e_error"]) < 0.01, r


@pytest.mark.parametrize("workload,message", [
    (Workload(hardware="a100-80gb", params=7e9, tokens=1e12, mfu=1.2), r"MFU must be in \(0, 1\]"),
    (Workload(hardware="a100-80gb", params=7e9, tokens=-1), "tokens must be a positive number"),
    (Workload(hardware="tpu-v5e", params=7e9, tokens=1e12, utilization="peak"), "no cited MFU for the tpu-v5e family"),
    (Workload(hardware="a100-80gb", params=7e9, tokens=1e12, utilization="best"), "unknown utilization 'best'"),
    (Workload(hardware="tpu-v4", params=7e9, tokens=1e12), "no published TDP for tpu-v4"),
    (Workload(hardware="v100-sxm2", params=7e9, tokens=1e12, precision="fp8"), "no published dense fp8 peak"),
    (Workload(hardware="zz-9"), "unknown hardware 'zz-9'.*a100-80gb"),
    (Workload(hardware="a100-80gb"), "give --params and --tokens"),
])
def test_impossible_or_incomplete_workloads_are_refused(workload: Workload, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        estimate(workload, published_place(1.1, 0.4))


def test_cli_estimate_json_has_every_figure_and_assumption() -> None:
    result = cli("--params", "70e9", "--tokens", "2e12", "--hardware", "a100-80gb", "--count", "2048",
                 "--country", "US", "--mfu", "0.4", "--pue", "1.1", "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    for key in ("accelerator_hours", "energy_j", "co2e_kg", "co2e_embodied_kg", "water_l", "assumptions"):
        assert key in r
    assert r["accelerator_hours"] == pytest.approx(6 * 70e9 * 2e12 / (312e12 * 0.4) / 3600)
    assert {a["name"] for a in r["assumptions"]} >= {"flops", "peak_flops_per_s", "mfu", "power_w_per_accelerator"}
    assert all(a["source"] for a in r["assumptions"])
    assert "Ember" in r["impact"]["co2e_operational_kg"]["source"]


def test_cli_gpu_hours_path_reproduces_llama_2_70b() -> None:
    r = json.loads(cli("--hardware", "a100-80gb", "--gpu-hours", "1720320", "--power-w", "400", "--pue", "1.1",
                       "--intensity", "385", "--json").stdout)
    assert r["co2e_kg"] / 1000 == pytest.approx(291.42, rel=1e-3)  # Touvron et al. 2023, Table 2


def test_cli_model_catalogue_uses_published_hours() -> None:
    r = json.loads(cli("--model", "llama-2-70b", "--country", "US", "--json").stdout)
    assert r["label"] == "Llama 2 70B" and r["accelerator_hours"] == 1720320
    assert "Touvron" in r["model_source"]
    shown = cli("--model", "llama-2-70b")
    assert shown.returncode == 0 and "accelerator-hours" in shown.stdout and "CO2e embodied" in shown.stdout


def test_cli_inference_with_mfu_keeps_the_flops_model() -> None:
    r = json.loads(cli("--params", "7e9", "--inference", "--tokens-per-request", "500", "--requests", "1e6",
                       "--hardware", "h100-sxm", "--mfu", "0.4", "--json").stdout)
    assert r["workload"] == "inference" and r["flops"] == pytest.approx(2 * 7e9 * 500 * 1e6)
    assert r["accelerator_hours"] == pytest.approx(r["flops"] / (989.4e12 * 0.40) / 3600)


def test_cli_inference_uses_the_decode_roofline() -> None:
    from mlfootprint.estimate import inference

    result = cli("--model", "llama-3.1-70b", "--inference", "--tokens-per-request", "700", "--prompt-tokens", "200",
                 "--requests", "1000", "--batch", "128", "--hardware", "h100-sxm", "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    serving = r["serving"]
    assert serving["accelerators"] == 4 and serving["batch"] == 128 and not serving["batch_capped"]
    assert r["energy_j"] == pytest.approx(700 * 1000 * serving["energy_j_per_token"])
    lo, hi = serving["energy_j_per_token_range"]
    assert lo < serving["energy_j_per_token"] < hi
    # the same figure as the library's, and not the training-style FLOPs figure far below it
    step = inference.step(inference.Model(70.6e9, None, 80, 8192, 1024), get_accelerator("h100-sxm"),
                          inference.Serving(128, 200, 700), inference.calibration())
    assert serving["energy_j_per_token"] == pytest.approx(step.energy_j_per_token)
    flops_only = 700 * 2 * 70.6e9 / (989.4e12 * 0.4)  # TDP-seconds per token at training MFU
    assert serving["energy_j_per_token"] > 2 * flops_only
    # a batch larger than memory holds is capped, and the output says so
    capped = json.loads(cli("--model", "llama-3.1-70b", "--inference", "--tokens-per-request", "4000",
                            "--prompt-tokens", "4000", "--requests", "10", "--batch", "5000", "--json").stdout)
    assert capped["serving"]["batch_capped"] and capped["serving"]["batch"] < 5000
    assert "does not fit" in capped["serving"]["notes"][0]


def test_cli_inference_with_a_known_model_ignores_its_training_run() -> None:
    # no training tokens published (Mixtral) is no obstacle to serving; GPT-3's 10,000 training GPUs are not the server
    mixtral = json.loads(cli("--model", "mixtral-8x7b", "--inference", "--hardware", "h100-sxm", "--tokens-per-request",
                             "300", "--requests", "10", "--json").stdout)
    assert mixtral["serving"]["accelerators"] == 2  # 93 GB of weights in 70 % of 80 GB cards
    gpt3 = json.loads(cli("--model", "gpt-3-175b", "--inference", "--tokens-per-request", "300", "--requests", "10",
                          "--json").stdout)
    assert gpt3["serving"]["accelerators"] == 16 and gpt3["hardware"] == "v100-sxm2"
    # no published TDP (TPU): the user's watts stand in for the fitted share of it, and the source says so
    tpu = json.loads(cli("--params", "8e9", "--layers", "32", "--d-model", "4096", "--hardware", "tpu-v5e", "--power-w",
                         "200", "--inference", "--tokens-per-request", "500", "--requests", "10", "--json").stdout)
    n = tpu["serving"]["accelerators"]
    assert tpu["serving"]["power_w"] == pytest.approx(200.0 * n) and "power given" in tpu["serving"]["source"]
    assert tpu["serving"]["energy_j_per_token"] == pytest.approx(200.0 * n / tpu["serving"]["tokens_per_s"], rel=0.05)


@pytest.mark.parametrize("args, message", [
    (("--params", "7e9", "--hardware", "h100-sxm"), "needs the model's shape"),
    (("--params", "400e9", "--layers", "80", "--d-model", "8192", "--hardware", "l4", "--count", "2"),
     "do not fit in 2 x l4"),
    (("--params", "7e9", "--layers", "32", "--d-model", "4096", "--hardware", "tpu-v4"),
     "no published TDP in the catalogue, which a serving estimate needs; give --power-w"),
    (("--params", "7e9", "--layers", "32", "--d-model", "4096", "--hardware", "b100"), "no published memory bandwidth"),
    (("--model", "mixtral-8x7b", "--expert-share", "0.5"), "expert-share 0.5 exceeds active-params / params (0.276)"),
    (("--model", "llama-3.1-8b", "--expert-share", "0.1"), "give --active-params too"),
    (("--model", "mixtral-8x7b", "--expert-share", "nan"), "expert-share must be between 0 and 1"),
    (("--model", "llama-3.1-8b", "--kv-dim", "0"), "kv-dim must be a positive integer, got 0"),
    (("--model", "llama-3.1-8b", "--layers", "0"), "layers must be a positive integer, got 0"),
    (("--model", "llama-3.1-8b", "--prompt-tokens", "1e12"), "does not fit beside the weights in 1 x h100-sxm"),
    (("--model", "llama-3.1-8b", "--prompt-tokens", "1e308"), "no number of accelerators holds it"),
])
def test_cli_inference_refuses_what_it_cannot_model(args: tuple[str, ...], message: str) -> None:
    result = cli(*args, "--inference", "--tokens-per-request", "500", "--requests", "10")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_serving_options_need_inference() -> None:
    result = cli("--params", "7e9", "--tokens", "1e9", "--hardware", "h100-sxm", "--batch", "8")
    assert result.returncode == 2 and "add --inference" in result.stderr


def test_cli_sweep_writes_a_plot(tmp_path: Path) -> None:
    plot = tmp_path / "sweep.png"
    result = cli("--params", "1e8:1e11", "--tokens", "20x", "--hardware", "h100-sxm", "--points", "4",
                 "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1e+08" in result.stdout and "1e+11" in result.stdout
    data = json.loads(cli("--params", "1e8:1e11", "--tokens", "20x", "--hardware", "h100-sxm", "--points", "4",
                          "--plot", str(plot), "--json").stdout)
    energies = [r["energy_j"] for r in data["sweep"]]
    from mlfootprint.estimate.utilization import effective_utilization

    # FLOPs grow as N^2 (20 tokens per parameter); the fitted utilization grows with N too
    u_small, u_large = (effective_utilization("hopper", n).value for n in (1e8, 1e11))
    assert energies == sorted(energies)
    assert energies[-1] / energies[0] == pytest.approx(1e6 * u_small / u_large, rel=1e-6)


@pytest.mark.parametrize("args,message", [
    (("--model", "llama-9"), "unknown model 'llama-9': known models are gpt-3-175b"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "q9"), "unknown hardware 'q9'"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--mfu", "1.5"), "MFU must be in"),
    (("--params", "lots", "--tokens", "1e12", "--hardware", "a100-80gb"), "--params 'lots' is not a number"),
    (("--params", "1e12:1e8", "--tokens", "20x", "--hardware", "a100-80gb"), "from small to large"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--country", "XX"), "unknown country 'XX'"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--pue", "0.5"), "invalid pue=0.5"),
    (("--params", "7e9", "--inference", "--hardware", "a100-80gb"), "--tokens-per-request and --requests"),
])
def test_cli_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_the_utilization_fit_recovers_a_known_answer() -> None:
    """Synthetic runs whose utilization follows log u = a[family] + b log10(N / 1e9) exactly."""
    import math

    from mlfootprint.estimate.utilization import PublishedRun, fit, loo_residuals, validate

    truth = {"ampere": math.log(0.40), "hopper": math.log(0.20)}
    slope = 0.15
    runs = [PublishedRun(f"m{i}", fam, "a100-80gb" if fam == "ampere" else "h100-sxm", n, 1e12,
                         hours=0.0, utilization=math.exp(truth[fam] + slope * (math.log10(n) - 9)), source="synthetic")
            for i, (fam, n) in enumerate([(f, n) for f in truth for n in (1e9, 7e9, 3e10, 7e10, 4e11)])]
    peak = {"ampere": 312e12, "hopper": 989.4e12}
    runs = [PublishedRun(r.model, r.family, r.hardware, r.active_params, r.tokens,
                         6 * r.active_params * r.tokens / (peak[r.family] * r.utilization) / 3600, r.utilization,
                         r.source) for r in runs]
    f = fit(runs)
    assert f.slope == pytest.approx(slope) and f.intercepts == pytest.approx(truth)
    assert max(abs(x) for x in loo_residuals(runs)) < 1e-9
    assert all(abs(c.error) < 1e-9 for c in validate(runs))
    # a family without runs gets the pooled line, and says so
    log_u, known = f.log_u("blackwell", 1e10)
    assert not known and math.isfinite(log_u)


def test_effective_utilization_is_validated_out_of_sample() -> None:
    from mlfootprint.estimate.utilization import published_runs, validate

    checks = validate()
    assert len(checks) == len(published_runs()) >= 10
    # each prediction comes from a fit without that run: removing a run changes its own prediction
    assert all(c.low_hours < c.predicted_hours < c.high_hours for c in checks)


def test_every_published_run_is_a_model_with_its_place_and_figures() -> None:
    from mlfootprint.estimate.models import catalogue
    from mlfootprint.estimate.utilization import DATA
    from mlfootprint.data import rows

    names = {spec.name for spec in catalogue().values()}
    assert {r["model"] for r in rows(DATA)} <= names
    # T5 ran on TPU v3 (no datasheet TDP): the published power and place are used, the published CO2e shown
    r = json.loads(cli("--model", "t5-11b", "--json").stdout)
    assert r["accelerator_hours"] == 245760
    assert r["published"]["co2e_kg"] == 46700 and abs(r["published"]["co2e_difference"]) < 0.01
    # with the hours and size published, the estimate from parameters and tokens is printed beside them
    shown = cli("--model", "llama-3.1-405b")
    assert "published: 30,840,000 accelerator-hours" in shown.stdout.replace("\n", " ")
    assert "from parameters and tokens alone" in shown.stdout.replace("\n", " ")
    assert "no PUE or grid intensity" in shown.stdout.replace("\n", " ")
    # a place you give wins over the published one
    us = json.loads(cli("--model", "llama-2-70b", "--country", "FR", "--json").stdout)
    assert us["published"]["co2e_difference"] < -0.5  # France's grid, not Meta's 385 g/kWh


@pytest.mark.parametrize("key, device_name, bf16_tflops, tdp_w", [
    ("h800", "NVIDIA H800", 989.4, 700), ("a800", "NVIDIA A800-SXM4-80GB", 312, 400), ("h20", "NVIDIA H20", 148, 400),
    ("gh200", "NVIDIA GH200 480GB", 989.4, None), ("b100", "NVIDIA B100", 1750, 700), ("gb200", "NVIDIA GB200", 2500, None),
    ("mi325x", "AMD Instinct MI325X", 1307.4, 1000), ("gaudi2", "Intel Gaudi 2", 432, 600),
    ("gaudi3", "Intel Gaudi 3", 1835, 900), ("tpu-v6e", "TPU v6e", 918, None),
])
def test_the_hardware_the_field_uses_is_catalogued(key: str, device_name: str, bf16_tflops: float,
                                                   tdp_w: float | None) -> None:
    from mlfootprint.hardware import get, match_device

    acc = get(key)
    assert acc.peak_flops("bf16") == pytest.approx(bf16_tflops * 1e12) and acc.tdp_w == tdp_w
    assert match_device(device_name) is acc  # a measured run on it gets its embodied figure and name
    w = Workload(hardware=key, params=7e9, tokens=1e12)
    if tdp_w is None:  # module power includes a CPU, or is not published: asked, never guessed
        with pytest.raises(ConfigError, match="give --power-w"):
            estimate(w, published_place(1.1, 0.4))
        w = Workload(hardware=key, params=7e9, tokens=1e12, power_w=800)
    assert estimate(w, published_place(1.1, 0.4))["accelerator_hours"] > 0
