"""`mlfootprint serve` and the ASGI middleware, on real servers: the FastAPI example under concurrent
load, and a process exposing real Prometheus counters with vLLM's names. Loopback only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from mlfootprint.serving import summarize_windows
from mlfootprint.serving.scrape import Selector, read_counters
from mlfootprint.serving.windows import WindowCounter

from tests.net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
MLFOOTPRINT = [sys.executable, "-m", "mlfootprint"]


def _load(port: int, requests: int, concurrency: int, shutdown: bool = False) -> str:
    args = [sys.executable, str(ROOT / "examples" / "load_digits.py"), "--port", str(port), "--requests",
            str(requests), "--concurrency", str(concurrency)] + (["--shutdown"] if shutdown else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _records(store: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    from mlfootprint.store import open_store

    db = open_store(str(store))
    return {r["project"]: db.get_run(r["id"]) for r in db.list_runs()}


# -- counters, windows, figures --------------------------------------------------------------------------
def test_counters_are_read_from_a_real_exposition() -> None:
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    reg = CollectorRegistry()
    ok = Counter("vllm:request_success", "requests", ["finished_reason"], registry=reg)
    ok.labels("stop").inc(7)
    ok.labels("length").inc(3)
    tokens = Histogram("tgi_request_generated_tokens", "tokens", registry=reg, buckets=(10, 100))
    for n in (5, 50, 500):
        tokens.observe(n)
    text = generate_latest(reg).decode()
    sels = [Selector.parse("vllm:request_success_total"), Selector.parse('vllm:request_success{finished_reason="stop"}'),
            Selector.parse("tgi_request_generated_tokens_sum"), Selector.parse("absent_total")]
    assert read_counters(text, sels) == [10.0, 7.0, 555.0, None]


@pytest.mark.parametrize("bad", ["", "1abc", "name{x=unquoted}", 'name{x="a" y="b"}', "name with space"])
def test_bad_counter_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="counter"):
        Selector.parse(bad)


def test_windows_count_increases_and_survive_a_server_restart() -> None:
    c = WindowCounter()
    assert c.observe(0.0, 0.0, [None, None]) is None  # server not up: no baseline yet
    w1 = c.observe(10.0, 100.0, [50.0, None])  # first seen: its past is not ours
    w2 = c.observe(20.0, 300.0, [80.0, None])
    w3 = c.observe(30.0, 400.0, [5.0, None])  # restarted: counting starts over at the new process's value
    assert [(w["requests"], w["energy_j"]) for w in (w1, w2, w3)] == [(0.0, 100.0), (30.0, 200.0), (5.0, 100.0)]
    assert c.restarts == 1


def test_serving_figures_follow_their_definitions() -> None:
    # 4 windows of 10 s: two busy (100 and 300 requests), two idle at 20 W; a token counter too
    windows = [{"i": 0, "t_s": 10, "duration_s": 10.0, "energy_j": 200.0, "requests": 0.0, "tokens": 0.0},
               {"i": 1, "t_s": 20, "duration_s": 10.0, "energy_j": 1200.0, "requests": 100.0, "tokens": 1000.0},
               {"i": 2, "t_s": 30, "duration_s": 10.0, "energy_j": 2200.0, "requests": 300.0, "tokens": 2000.0},
               {"i": 3, "t_s": 40, "duration_s": 10.0, "energy_j": 200.0, "requests": 0.0, "tokens": 0.0}]
    s = summarize_windows(windows, co2e_kg_per_j=1e-7)
    per = s["energy_per_request_j"]
    assert per["idle_included"] == pytest.approx(3800 / 400)
    assert per["idle_excluded"] == pytest.approx(3400 / 400)
    assert s["idle_power_w"] == pytest.approx(20.0)
    assert per["above_idle"] == pytest.approx((3800 - 20 * 40) / 400)
    assert per["p50"] == pytest.approx((12 + 2200 / 300) / 2)
    assert s["idle_share"] == pytest.approx(400 / 3800)
    assert s["energy_per_token_j"]["idle_included"] == pytest.approx(3800 / 3000)
    assert s["co2e_per_1000_requests_kg"] == pytest.approx(3800 * 1e-7 * 1000 / 400)
    assert s["requests_per_kwh"] == pytest.approx(400 * 3.6e6 / 3800)
    busy_only = summarize_windows(windows[1:3], co2e_kg_per_j=0.0)
    assert busy_only["idle_power_w"] is None and busy_only["energy_per_request_j"]["above_idle"] is None


# -- the FastAPI example under concurrent load -------------------------------------------------------------
@pytest.mark.parametrize("batching", [False, True])
def test_serve_measures_the_fastapi_example_under_concurrent_load(tmp_path: Path, batching: bool) -> None:
    pytest.importorskip("fastapi")
    store, port = tmp_path / "runs.db", free_port()
    env = dict(os.environ, MLFOOTPRINT_STORE=str(store))
    server = subprocess.Popen(
        [*MLFOOTPRINT, "serve", "--project", "outside", "--window", "1", "--metrics-url",
         f"http://127.0.0.1:{port}/metrics", "--requests-counter", "digits_requests_total", "--tokens-counter",
         "digits_images_total", "--", sys.executable, str(ROOT / "examples" / "serve_fastapi.py"), "--port", str(port),
         "--epochs", "1", "--project", "inside", *(["--batching"] if batching else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics")
        time.sleep(1.5)  # an idle window first
        _load(port, 120, 8)
        time.sleep(2.5)  # let a counter read see the last requests
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/shutdown", data=b"{}"), timeout=5)
        _, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, stderr
    assert "serving ·" in stderr and "idle share" in stderr  # the summary printed at the end
    records = _records(store)
    outside, inside = records["outside"], records["inside"]
    serving = outside["serving"]
    assert serving["requests"] == 120 and serving["tokens"] == 120  # one image per request
    assert serving["counters"]["requests_counter"] == "digits_requests_total"
    assert serving["basis"] == "modelled"  # this VM's CPU energy is modelled: so is every J/request
    assert serving["idle_share"] is not None and 0 < serving["idle_share"] < 1
    per = serving["energy_per_request_j"]
    assert per["idle_included"] > per["idle_excluded"] > 0
    assert sum(w["energy_j"] for w in serving["series"]) <= outside["energy_j"] + 1e-9
    # inside the server: every request is a phase with one item, split into the endpoint's phases,
    # and the phases add up to the run's energy
    phases = {p["phase"]: p for p in inside["phases"]}
    assert phases["request"]["items"] == inside["counts"]["requests"] >= 120
    assert {"request/preprocess", "request/inference", "request/postprocess"} <= set(phases)
    exclusive = sum(p["exclusive_energy_j"] for p in inside["phases"])
    assert exclusive == pytest.approx(inside["energy_j"], rel=1e-6)
    exported = subprocess.run([*MLFOOTPRINT, "export", "--format", "csv"], env=env, capture_output=True, text=True)
    import csv
    import io

    rows = {r["project"]: r for r in csv.DictReader(io.StringIO(exported.stdout))}
    assert float(rows["outside"]["serving_requests"]) == 120
    assert float(rows["outside"]["energy_per_request_idle_included_j"]) == pytest.approx(per["idle_included"])


def test_serve_attaches_to_a_running_server_by_pid_and_leaves_it_running(tmp_path: Path) -> None:
    """A process exposing real Prometheus counters under vLLM's names, measured with --preset vllm."""
    port = free_port()
    fake = tmp_path / "counters.py"
    fake.write_text(textwrap.dedent(f"""
        import time
        from prometheus_client import Counter, start_http_server
        requests = Counter("vllm:request_success", "requests", ["finished_reason"])
        tokens = Counter("vllm:generation_tokens", "tokens")
        start_http_server({port}, addr="127.0.0.1")
        while True:
            time.sleep(0.1)
            requests.labels("stop").inc(2)
            tokens.inc(50)
    """))
    server = subprocess.Popen([sys.executable, str(fake)])
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics")
        env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"))
        done = subprocess.run([*MLFOOTPRINT, "serve", "--preset", "vllm", "--metrics-url",
                               f"http://127.0.0.1:{port}/metrics", "--pid", str(server.pid), "--window", "1",
                               "--duration", "3.5", "--project", "attached", "--scope", "process"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert server.poll() is None  # attached: the server is not ours to stop
    finally:
        server.kill()
    record = _records(tmp_path / "runs.db")["attached"]
    serving = record["serving"]
    assert serving["counters"]["requests_counter"] == "vllm:request_success_total"
    assert serving["counters"]["attached_pid"] == server.pid
    assert 30 <= serving["requests"] <= 80  # 20 per second for ~3 s of windows
    assert serving["tokens"] == pytest.approx(serving["requests"] * 25)
    assert record["scope"] == "process"


@pytest.mark.parametrize("args, message", [
    (["--", "true"], "no metrics endpoint"),
    (["--metrics-url", "ftp://x/metrics", "--requests-counter", "r", "--", "true"], "not an http"),
    (["--metrics-url", "http://127.0.0.1:9/metrics", "--requests-counter", "bad name", "--", "true"], "counter"),
    (["--metrics-url", "http://127.0.0.1:9/metrics", "--requests-counter", "r"], "--pid"),
    (["--metrics-url", "http://127.0.0.1:9/metrics", "--requests-counter", "r", "--pid", "1", "--", "true"], "not both"),
    (["--preset", "vllm", "--window", "0", "--", "true"], "--window"),
])
def test_bad_serve_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"))
    done = subprocess.run([*MLFOOTPRINT, "serve", *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert done.stdout == ""


def test_the_inference_estimate_sits_beside_the_measurement() -> None:
    from mlfootprint.estimate import inference
    from mlfootprint.hardware import get

    windows = [{"i": 0, "t_s": 10, "duration_s": 10.0, "energy_j": 1000.0, "requests": 100.0, "tokens": None}]
    config = {"model_params": 8.03e9, "model_layers": 32, "model_d_model": 4096, "model_kv_dim": 1024,
              "hardware": "h100-sxm", "tokens_per_request": 50, "batch": 16}
    est = summarize_windows(windows, 0.0, config)["estimate"]
    step = inference.step(inference.Model(8.03e9, None, 32, 4096, 1024), get("h100-sxm"),
                          inference.Serving(16, 0.0, 50.0), inference.calibration())
    expected_j = 5000 * step.energy_j_per_token
    assert est["tokens"] == 5000 and est["energy_j"] == pytest.approx(expected_j) and est["batch"] == 16
    assert est["energy_j_range"][0] < expected_j < est["energy_j_range"][1]
    assert est["measured_to_estimate"] == pytest.approx(1000.0 / expected_j)
    assert "decode roofline" in est["method"]
    no_tokens = summarize_windows(windows, 0.0, {"model_params": 8e9, "hardware": "h100-sxm"})["estimate"]
    assert "no tokens counted" in no_tokens["error"]
    no_shape = summarize_windows(windows, 0.0, {"model_params": 8e9, "hardware": "h100-sxm",
                                                "tokens_per_request": 50})["estimate"]
    assert "--model-layers and --model-d-model (and --model-kv-dim" in no_shape["error"]
    assert "--layers" not in no_shape["error"].replace("--model-layers", ""), "serve's own options, not estimate's"
    assert summarize_windows(windows, 0.0, {})["estimate"] is None
    # a mixture of experts: its expert share (from --model's catalogue row) reaches the estimate
    moe = dict(config, model_params=46.7e9, model_active_params=12.9e9, batch=4)
    plain, shared = (summarize_windows(windows, 0.0, c)["estimate"] for c in (moe, dict(moe, model_expert_share=0.25)))
    assert shared["energy_j"] < plain["energy_j"], "a known share reads fewer weights at small batch"


@pytest.mark.parametrize("args, message", [
    (["--model-params", "8e9"], "both --model-params (or --model) and --hardware"),
    (["--model", "no-such-model", "--hardware", "h100-sxm"], "unknown model"),
    (["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "0"], "--batch"),
    (["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--prompt-tokens", "inf"], "--prompt-tokens"),
    (["--model-params", "8e9", "--hardware", "no-such-gpu"], "unknown hardware"),
    (["--model-params", "-1", "--hardware", "h100-sxm"], "--model-params"),
])
def test_bad_estimate_options(tmp_path: Path, args: list[str], message: str) -> None:
    env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"))
    done = subprocess.run([*MLFOOTPRINT, "serve", "--preset", "vllm", *args, "--", "true"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
