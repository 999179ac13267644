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

from mlfootprint.serving import ServeConfig
from mlfootprint.serving.estimate import estimate_beside

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
    """Each project's record, as its JSON (what `show --json` prints)."""
    from mlfootprint.store import open_store

    db = open_store(str(store))
    return {r.project: db.get_run(r.id).to_json() for r in db.list_runs()}


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
    assert "serving: 120 requests" in stderr and "per request" in stderr  # the summary printed at the end
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
    assert exclusive == pytest.approx(sum(c["energy_j"] for c in inside["components"]), rel=1e-6)
    # the server's own run is nested in serve's: the machine is charged once, to the outer run (F1)
    assert inside["parent_id"] == outside["id"] and inside["energy_j"] == 0.0
    assert all(c["charged_to"] == outside["id"] for c in inside["components"])
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


def test_serve_counts_what_a_launched_server_answered_before_its_first_read(tmp_path: Path) -> None:
    """A server `serve` starts counts from zero: 37 requests answered at once, before any read, are the
    run's (an attached server, above, counts from its first read)."""
    fake = tmp_path / "counters.py"
    fake.write_text(textwrap.dedent("""
        import sys, time
        from prometheus_client import Counter, start_http_server
        requests = Counter("app_requests", "requests")
        requests.inc(37)  # answered before anyone could read the endpoint
        start_http_server(int(sys.argv[1]), addr="127.0.0.1")
        time.sleep(4)  # several reads, then the server ends on its own
    """))
    port = free_port()
    env = dict(os.environ, MLFOOTPRINT_STORE=str(tmp_path / "runs.db"))
    done = subprocess.run([*MLFOOTPRINT, "serve", "--metrics-url", f"http://127.0.0.1:{port}/metrics",
                           "--requests-counter", "app_requests_total", "--window", "1", "--project", "launched",
                           "--", sys.executable, str(fake), str(port)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _records(tmp_path / "runs.db")["launched"]["serving"]["requests"] == 37


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

    config = ServeConfig(model_params=8.03e9, model_layers=32, model_d_model=4096, model_kv_dim=1024,
                         hardware="h100-sxm", tokens_per_request=50, batch=16)
    est = estimate_beside(config, 100.0, None, 1000.0)
    assert est is not None
    step = inference.step(inference.Model(8.03e9, None, 32, 4096, 1024), get("h100-sxm"),
                          inference.Serving(16, 0.0, 50.0), inference.calibration())
    expected_j = 5000 * step.energy_j_per_token
    assert est.tokens == 5000 and est.energy_j == pytest.approx(expected_j) and est.batch == 16
    assert est.energy_j_range[0] < expected_j < est.energy_j_range[1]
    assert est.measured_to_estimate == pytest.approx(1000.0 / expected_j)
    assert est.method is not None and "decode roofline" in est.method
    no_tokens = estimate_beside(ServeConfig(model_params=8e9, hardware="h100-sxm"), 100.0, None, 1000.0)
    assert no_tokens is not None and "no tokens counted" in (no_tokens.error or "")
    no_shape = estimate_beside(ServeConfig(model_params=8e9, hardware="h100-sxm", tokens_per_request=50), 100.0,
                               None, 1000.0)
    assert no_shape is not None and "--model-layers and --model-d-model (and --model-kv-dim" in (no_shape.error or "")
    assert "--layers" not in (no_shape.error or "").replace("--model-layers", ""), "serve's own options, not estimate's"
    assert estimate_beside(ServeConfig(), 100.0, None, 1000.0) is None
    # a mixture of experts: its expert share (from --model's catalogue row) reaches the estimate
    from dataclasses import replace

    moe = replace(config, model_params=46.7e9, model_active_params=12.9e9, batch=4)
    plain, shared = (estimate_beside(c, 100.0, None, 1000.0) for c in (moe, replace(moe, model_expert_share=0.25)))
    assert plain is not None and shared is not None and plain.energy_j and shared.energy_j
    assert shared.energy_j < plain.energy_j, "a known share reads fewer weights at small batch"


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
