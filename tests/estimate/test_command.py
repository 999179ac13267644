"""The `estimate` and `hardware` commands, end to end: options, JSON, ranges with their level, plots, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlfootprint.hardware import get as get_accelerator


def run(*args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlfootprint", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": str(columns)})


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run("estimate", *args)


def test_json_keeps_every_figure_and_assumption_and_adds_the_range() -> None:
    result = cli("--params", "70e9", "--tokens", "2e12", "--hardware", "a100-80gb", "--count", "2048",
                 "--country", "US", "--mfu", "0.4", "--pue", "1.1", "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    for key in ("accelerator_hours", "accelerator_hours_range", "energy_j", "co2e_kg", "co2e_embodied_kg", "water_l",
                "assumptions", "impact", "serving", "wall_time_s", "range"):
        assert key in r
    assert r["accelerator_hours"] == pytest.approx(6 * 70e9 * 2e12 / (312e12 * 0.4) / 3600)
    assert {a["name"] for a in r["assumptions"]} >= {"flops", "peak_flops_per_s", "mfu", "power_w_per_accelerator"}
    assert all(a["source"] for a in r["assumptions"])
    assert "Ember" in r["impact"]["co2e_operational_kg"]["source"]
    assert r["range"]["level"] is None  # an MFU given: no calibrated level


def test_accelerator_hours_and_its_old_name() -> None:
    args = ("--hardware", "a100-80gb", "--power-w", "400", "--pue", "1.1", "--intensity", "385", "--json")
    new = json.loads(cli("--accelerator-hours", "1720320", *args).stdout)
    old = json.loads(cli("--gpu-hours", "1720320", *args).stdout)
    assert new["co2e_kg"] / 1000 == pytest.approx(291.42, rel=1e-3) == old["co2e_kg"] / 1000  # Llama 2 70B, Table 2
    shown = cli("--help").stdout
    assert "--accelerator-hours" in shown and "--gpu-hours" not in shown  # the old name still works, unlisted
    both = cli("--accelerator-hours", "10", "--gpu-hours", "20", *args)
    assert both.returncode == 2 and "old name of --accelerator-hours" in both.stderr


def test_the_default_estimate_prints_its_range_level_and_what_widened_it() -> None:
    shown = cli("--params", "1e9", "--tokens", "20x", "--hardware", "b200", "--count", "64", "--country", "FR")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "90% range" in text and "ranges: nominal 90%" in text
    assert "widened by: blackwell hardware: no published run" in text and "outside the fitted" in text
    r = json.loads(cli("--params", "1e9", "--tokens", "20x", "--hardware", "b200", "--json").stdout)
    assert r["range"]["level"] == 0.9 and len(r["range"]["widened_by"]) == 2


def test_numbers_are_printed_to_three_figures_and_exact_ranges_once() -> None:
    shown = cli("--params", "70e9", "--tokens", "2e12", "--hardware", "a100-80gb", "--count", "2048",
                "--pue", "1.1", "--intensity", "385")
    assert shown.returncode == 0, shown.stderr
    assert not any(f".{d}{d}{d} kg" in shown.stdout for d in "0123456789")
    assert " t – " in shown.stdout or " t " in shown.stdout
    # with a given PUE and intensity the operational CO2e range is the hours' range only, printed once per end
    line = next(ln for ln in shown.stdout.splitlines() if "CO2e embodied" in ln)
    assert line.count(" – ") <= 1


def test_model_catalogue_uses_published_hours() -> None:
    r = json.loads(cli("--model", "llama-2-70b", "--country", "US", "--json").stdout)
    assert r["label"] == "Llama 2 70B" and r["accelerator_hours"] == 1720320
    assert "Touvron" in r["model_source"] and r["published"]["from_params_and_tokens"]["range_note"]["level"] == 0.9
    shown = cli("--model", "llama-3.1-405b")
    flat = " ".join(shown.stdout.split())
    assert shown.returncode == 0 and "published: 30,840,000 accelerator-hours" in flat
    assert "from parameters and tokens alone" in flat and "90% range" in flat
    assert "no PUE or grid intensity" in flat and "CO2e embodied" in flat


def test_inference_with_mfu_keeps_the_flops_model() -> None:
    r = json.loads(cli("--params", "7e9", "--inference", "--tokens-per-request", "500", "--requests", "1e6",
                       "--hardware", "h100-sxm", "--mfu", "0.4", "--json").stdout)
    assert r["workload"] == "inference" and r["flops"] == pytest.approx(2 * 7e9 * 500 * 1e6)
    assert r["accelerator_hours"] == pytest.approx(r["flops"] / (989.4e12 * 0.40) / 3600)


def test_inference_uses_the_decode_roofline() -> None:
    from mlfootprint.estimate import inference

    result = cli("--model", "llama-3.1-70b", "--inference", "--tokens-per-request", "700", "--prompt-tokens", "200",
                 "--requests", "1000", "--batch", "128", "--hardware", "h100-sxm", "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    serving = r["serving"]
    assert serving["accelerators"] == 4 and serving["batch"] == 128 and not serving["batch_capped"]
    assert r["energy_j"] == pytest.approx(700 * 1000 * serving["energy_j_per_token"])
    lo, hi = serving["energy_j_per_token_range"]
    assert lo < serving["energy_j_per_token"] < hi and r["range"]["level"] == 0.9
    step = inference.step(inference.Model(70.6e9, None, 80, 8192, 1024), get_accelerator("h100-sxm"),
                          inference.Serving(128, 200, 700), inference.calibration())
    assert serving["energy_j_per_token"] == pytest.approx(step.energy_j_per_token)
    flops_only = 700 * 2 * 70.6e9 / (989.4e12 * 0.4)  # TDP-seconds per token at training MFU
    assert serving["energy_j_per_token"] > 2 * flops_only
    capped = json.loads(cli("--model", "llama-3.1-70b", "--inference", "--tokens-per-request", "4000",
                            "--prompt-tokens", "4000", "--requests", "10", "--batch", "5000", "--json").stdout)
    assert capped["serving"]["batch_capped"] and capped["serving"]["batch"] < 5000
    assert "does not fit" in capped["serving"]["notes"][0]


def test_a_mixture_of_experts_deployment_is_an_input() -> None:
    base = ("--params", "30.5e9", "--active-params", "3.3e9", "--layers", "48", "--d-model", "2048", "--kv-dim", "512",
            "--expert-share", "0.0625", "--experts", "128", "--attention-width", "4096", "--hardware", "h100-sxm",
            "--count", "8", "--inference", "--tokens-per-request", "500", "--requests", "100", "--batch", "8", "--json")
    even = json.loads(cli(*base).stdout)
    spread = json.loads(cli(*base, "--expert-parallel").stdout)
    fp8 = json.loads(cli(*base, "--expert-precision", "fp8").stdout)
    assert spread["serving"]["energy_j_per_token"] > even["serving"]["energy_j_per_token"]  # the busiest GPU's experts
    assert fp8["serving"]["energy_j_per_token"] < even["serving"]["energy_j_per_token"]  # half the expert bytes
    assert any("mixture of experts" in w for w in even["range"]["widened_by"])


def test_a_known_model_served_ignores_its_training_run() -> None:
    gpt3 = json.loads(cli("--model", "gpt-3-175b", "--inference", "--tokens-per-request", "300", "--requests", "10",
                          "--json").stdout)
    assert gpt3["serving"]["accelerators"] == 16 and gpt3["hardware"] == "v100-sxm2"
    tpu = json.loads(cli("--params", "8e9", "--layers", "32", "--d-model", "4096", "--hardware", "tpu-v5e", "--power-w",
                         "200", "--inference", "--tokens-per-request", "500", "--requests", "10", "--json").stdout)
    n = tpu["serving"]["accelerators"]
    assert tpu["serving"]["power_w"] == pytest.approx(200.0 * n) and "power given" in tpu["serving"]["source"]


@pytest.mark.parametrize("args, message", [
    (("--params", "7e9", "--hardware", "h100-sxm"), "needs the model's shape"),
    (("--params", "400e9", "--layers", "80", "--d-model", "8192", "--hardware", "l4", "--count", "2"),
     "do not fit in 2 x l4"),
    (("--params", "7e9", "--layers", "32", "--d-model", "4096", "--hardware", "tpu-v4"),
     "no published TDP in the catalogue, which a serving estimate needs; give --power-w"),
    (("--params", "7e9", "--layers", "32", "--d-model", "4096", "--hardware", "b100"), "no published memory bandwidth"),
    (("--params", "7e9", "--layers", "32", "--d-model", "4096", "--hardware", "a10g"), "no published memory bandwidth"),
    (("--model", "mixtral-8x7b", "--expert-share", "0.5"), "expert-share 0.5 exceeds active-params / params (0.276)"),
    (("--model", "llama-3.1-8b", "--expert-share", "0.1"), "give --active-params too"),
    (("--model", "mixtral-8x7b", "--expert-share", "nan"), "expert-share must be between 0 and 1"),
    (("--model", "llama-3.1-8b", "--kv-dim", "0"), "kv-dim must be a positive integer, got 0"),
    (("--model", "llama-3.1-8b", "--layers", "0"), "layers must be a positive integer, got 0"),
    (("--model", "llama-3.1-8b", "--prompt-tokens", "1e12"), "does not fit beside the weights in 1 x h100-sxm"),
    (("--model", "llama-3.1-8b", "--prompt-tokens", "1e308"), "no number of accelerators holds it"),
])
def test_inference_refuses_what_it_cannot_model(args: tuple[str, ...], message: str) -> None:
    result = cli(*args, "--inference", "--tokens-per-request", "500", "--requests", "10")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_serving_options_need_inference() -> None:
    result = cli("--params", "7e9", "--tokens", "1e9", "--hardware", "h100-sxm", "--batch", "8")
    assert result.returncode == 2 and "add --inference" in result.stderr


def test_a_sweep_writes_a_plot_and_prints_its_range(tmp_path: Path) -> None:
    plot = tmp_path / "sweep.png"
    result = cli("--params", "1e8:1e11", "--tokens", "20x", "--hardware", "h100-sxm", "--points", "4", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1e+08" in result.stdout and "1e+11" in result.stdout and "90% range" in result.stdout
    data = json.loads(cli("--params", "1e8:1e11", "--tokens", "20x", "--hardware", "h100-sxm", "--points", "4",
                          "--plot", str(plot), "--json").stdout)
    energies = [r["energy_j"] for r in data["sweep"]]
    from mlfootprint.estimate.utilization import effective_utilization

    # FLOPs grow as N^2 (20 tokens per parameter); the fitted utilization grows with N too
    u_small, u_large = (effective_utilization("hopper", n).value for n in (1e8, 1e11))
    assert energies == sorted(energies)
    assert energies[-1] / energies[0] == pytest.approx(1e6 * u_small / u_large, rel=1e-6)
    assert all(r["range"]["level"] == 0.9 for r in data["sweep"])


def test_a_sweep_plot_into_a_folder_lands_in_it(tmp_path: Path) -> None:
    result = cli("--params", "1e8:1e9", "--tokens", "20x", "--hardware", "h100-sxm", "--points", "2",
                 "--plot", str(tmp_path))
    assert result.returncode == 0, result.stderr
    target = tmp_path / "estimate_sweep.png"
    assert target.read_bytes()[:4] == b"\x89PNG" and str(target) in result.stdout.replace("\n", "")


@pytest.mark.parametrize("args,message", [
    (("--model", "llama-9"), "unknown model 'llama-9': known models are gpt-3-175b"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "q9"), "unknown hardware 'q9'"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--mfu", "1.5"), "MFU must be in"),
    (("--params", "lots", "--tokens", "1e12", "--hardware", "a100-80gb"), "--params 'lots' is not a number"),
    (("--params", "1e12:1e8", "--tokens", "20x", "--hardware", "a100-80gb"), "from small to large"),
    (("--params", "1e8:1e9", "--tokens", "20x", "--hardware", "a100-80gb", "--points", "1000000"),
     "--points must be from 2 to 1000, got 1000000"),
    (("--params", "1e8:1e9", "--tokens", "20x", "--hardware", "a100-80gb", "--points", "1"), "--points must be from 2"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--country", "XX"), "unknown country 'XX'"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--pue", "0.5"), "invalid pue=0.5"),
    (("--params", "7e9", "--tokens", "1e12", "--hardware", "a100-80gb", "--intensity", "9000"),
     "--intensity must be between 0 and 5000 gCO2e/kWh, got 9000"),
    (("--params", "7e9", "--inference", "--hardware", "a100-80gb"), "--tokens-per-request and --requests"),
])
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_the_hardware_table_fits_80_columns() -> None:
    result = run("hardware", columns=80)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("Sources:")[0]
    assert max(len(line) for line in table.splitlines()) <= 80
    for key in ("a10g", "l40s", "rtx-6000-ada", "rtx-4090", "rtx-3090", "mi210"):
        assert f"│{key} " in table or f"│ {key} " in table
