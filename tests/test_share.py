"""Sharing: the HTML report and the dashboard in a real headless browser (Debian's chromium through
chromedriver), the Prometheus endpoint scraped by a real Prometheus server, MLflow and W&B outputs,
CodeCarbon's CSV, the paper statement, doctor and --version. Screenshots go to out/screenshots/."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import mlfootprint
from mlfootprint.outputs.metrics import IT_ENERGY, PHASE_ENERGY
from mlfootprint.sensors import ScriptedSensor
from tests.browser import chromium
from tests.net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "out" / "screenshots"
MLFOOTPRINT = [sys.executable, "-m", "mlfootprint"]
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def _run(project: str, *, watts: float = 50.0, metrics: bool = True, **kwargs: object) -> mlfootprint.Run:
    sensor = ScriptedSensor([(0.0, watts), (1.0, watts * 2), (1e6, watts * 2)], time.monotonic, signal="energy-counter")
    with mlfootprint.track(project=project, sensors=[sensor], interval_s=0.05, flush_interval_s=0.1, **kwargs) as run:
        for step in range(4):
            with run.phase("forward"):
                time.sleep(0.15)
            with run.phase("backward"):
                time.sleep(0.1)
            run.progress(step + 1, 4)
        run.count(samples=300)
        if metrics:
            run.log_metrics(accuracy=0.93, train_accuracy=0.97)
    assert run.wait_stored(10) and run.wait_outputs(30)
    return run


# -- the browser ---------------------------------------------------------------------------------------------
def _errors(browser) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    b = chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield b
    b.quit()


def test_the_html_report_renders_offline_with_its_plots(browser, isolated_env: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    run = _run(HOSTILE)
    page = tmp_path / "report.html"
    done = subprocess.run([*MLFOOTPRINT, "report", run.id, "-o", str(page)], capture_output=True, text=True,
                          env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "http://" not in html.split("<svg", 1)[0] and "<script" not in html.lower().replace("&lt;script", "")
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "title").text.startswith(HOSTILE)  # shown as text, not run as markup
    for plot in ("power-plot", "component-plot", "phase-plot"):
        assert browser.find_element(By.ID, plot).find_elements(By.TAG_NAME, "svg"), plot
    phases = browser.find_element(By.ID, "phases").text
    assert "forward" in phases and "backward" in phases
    assert "accuracy" in browser.find_element(By.ID, "quality").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#impact tr")) >= 5
    assert browser.find_element(By.ID, "forecast")
    assert _errors(browser) == []
    browser.save_screenshot(str(SHOTS / "report.png"))


def test_the_dashboard_lists_filters_reports_and_compares(browser, isolated_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    a = _run("vision", watts=40.0)
    b = _run("vision", watts=80.0)
    _run(HOSTILE, metrics=False)
    for rank in (0, 1):  # a small distributed job
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        _run("ddp", job="test:dash")
    port = free_port()
    server = subprocess.Popen([*MLFOOTPRINT, "dashboard", "--port", str(port), "--store", str(isolated_env)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/")
        browser.get(base + "/")
        rows = browser.find_elements(By.CSS_SELECTOR, "#runs tr")
        assert len(rows) == 1 + 5 and HOSTILE in browser.find_element(By.ID, "runs").text
        browser.save_screenshot(str(SHOTS / "dashboard-runs.png"))
        browser.get(base + "/?project=vision")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tr")) == 1 + 2
        browser.get(base + "/projects")
        assert browser.find_element(By.ID, "projects-plot").find_elements(By.TAG_NAME, "svg")
        assert "vision" in browser.find_element(By.ID, "projects").text
        browser.save_screenshot(str(SHOTS / "dashboard-projects.png"))
        browser.get(base + "/jobs")
        assert "test:dash" in browser.find_element(By.ID, "jobs").text
        browser.get(base + "/job/" + urllib.parse.quote("test:dash"))
        assert browser.find_element(By.ID, "title").text == "job test:dash"
        browser.save_screenshot(str(SHOTS / "dashboard-job.png"))
        browser.get(f"{base}/run/{a.id}")
        assert browser.find_element(By.ID, "power-plot").find_elements(By.TAG_NAME, "svg")
        browser.get(f"{base}/compare?a={a.id}&b={b.id}")
        table = browser.find_element(By.ID, "comparison").text
        assert "energy" in table and "accuracy" in table
        browser.save_screenshot(str(SHOTS / "dashboard-compare.png"))
        browser.get(f"{base}/run/nosuchrun")
        assert "no run" in browser.find_element(By.ID, "error").text
        errors = _errors(browser)  # the log is read once: reading empties it
        assert errors and all("404" in e["message"] for e in errors)  # the missing run's 404, nothing else
        # read-only: the dashboard never writes the store
        before = isolated_env.stat().st_mtime_ns
        for path in ("/", "/jobs", "/projects", f"/run/{a.id}"):
            urllib.request.urlopen(base + path, timeout=10).read()
        assert isolated_env.stat().st_mtime_ns == before
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_dashboard_binds_to_this_machine_by_default(isolated_env: Path) -> None:
    """The socket the dashboard listens on is the loopback address's, not every interface's (the review
    found the old test read the help text only)."""
    import psutil

    _run("listed").wait_stored(30)  # a store that exists: the dashboard starts
    proc = subprocess.Popen([*MLFOOTPRINT, "dashboard", "--port", "0", "--store", str(isolated_env)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the socket listens
        assert "dashboard on http://127.0.0.1:" in line, line
        listening = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
        assert f":{listening[0].port}/" in line, "the port printed is the one listened on"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- Prometheus, scraped by a real server ------------------------------------------------------------------
def test_a_real_prometheus_scrapes_a_live_run(tmp_path: Path, isolated_env: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not installed (.ci/run installs Debian's prometheus)")
    target, web = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mlfootprint\n"
                      f"    static_configs:\n      - targets: ['127.0.0.1:{target}']\n")
    server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{web}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{web}/-/ready")
        run = subprocess.Popen([*MLFOOTPRINT, "track", "--quiet", "--project", "scraped", "--prometheus",
                                f":{target}", "--", sys.executable, "-c",
                                "import time\nt=time.time()\nwhile time.time()-t<90: pass"],
                               env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
        found: list[dict] = []  # type: ignore[type-arg]
        deadline = time.monotonic() + 80  # a busy machine starts the run slowly; found ends the wait at once
        while time.monotonic() < deadline and not found:
            time.sleep(1)
            query = urllib.parse.quote('mlfootprint_energy_joules_total{project="scraped"}')
            answer = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?query={query}",
                                                       timeout=5).read())
            found = [r for r in answer["data"]["result"] if float(r["value"][1]) > 0]
        run.terminate()  # passed on to the busy loop; the run ends as stopped, its record stored
        run.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert found, "Prometheus never stored a positive mlfootprint_energy_joules_total"
    assert {r["metric"]["kind"] for r in found} >= {"cpu"}


def test_the_exposition_follows_prometheus_conventions(isolated_env: Path, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    prom = tmp_path / "node.prom"
    run = _run("textfile", outputs=[f"textfile:{prom}"])
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    assert families["mlfootprint_energy_joules"].type == "counter"
    assert families["mlfootprint_power_watts"].type == "gauge"
    energy = sum(s.value for s in families["mlfootprint_energy_joules"].samples if s.name.endswith("_total"))
    assert energy == pytest.approx(run.energy_j)
    phases = {s.labels["phase"] for s in families["mlfootprint_phase_energy_joules"].samples}
    assert {"forward", "backward"} <= phases


# -- experiment trackers -----------------------------------------------------------------------------------
def test_mlflow_gets_metrics_at_flushes_and_the_record_at_the_end(isolated_env: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())  # a local file store
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it, in maintenance mode
    run = _run("tracked", outputs=["mlflow"])
    client = mlflow.tracking.MlflowClient()
    found = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert len(found) == 1 and found[0].data.tags["mlfootprint.run_id"] == run.id
    history = client.get_metric_history(found[0].info.run_id, IT_ENERGY.tracker)
    assert len(history) >= 2  # flushes, then the total
    assert history[-1].value == pytest.approx(run.energy_j)
    assert f"{PHASE_ENERGY.tracker}/forward" in found[0].data.metrics
    local = client.download_artifacts(found[0].info.run_id, "mlfootprint/record.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["id"] == run.id


def test_wandb_offline_gets_the_same(isolated_env: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = _run("wandb-tracked", outputs=["wandb"])
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    # W&B's offline log (protobuf records: keys and JSON-encoded values) is written by its own service
    # process, which can still be writing when finish() returns on a loaded machine: wait for it
    deadline = time.monotonic() + 30
    while f"mlfootprint-{run.id}".encode() not in (log := runs[0].read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert IT_ENERGY.tracker.encode() in log and f"{PHASE_ENERGY.tracker}/forward".encode() in log
    assert json.dumps(run.energy_j).encode() in log  # the total, as logged at the end
    assert f"mlfootprint-{run.id}".encode() in log  # the record, as an artifact


# -- files, statement, doctor ------------------------------------------------------------------------------
def test_codecarbon_csv_has_its_columns_and_units(isolated_env: Path) -> None:
    from mlfootprint.outputs.files import CODECARBON_COLUMNS

    run = _run("cc", pue=1.5)
    done = subprocess.run([*MLFOOTPRINT, "export", "--format", "codecarbon"], capture_output=True, text=True,
                          env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    reader = csv.DictReader(io.StringIO(done.stdout))
    assert reader.fieldnames == CODECARBON_COLUMNS
    row = next(reader)
    assert row["run_id"] == run.id and row["project_name"] == "cc"
    assert float(row["energy_consumed"]) == pytest.approx(run.energy_j * 1.5 / 3.6e6)  # kWh, PUE included
    assert float(row["emissions"]) == pytest.approx(run.co2e_kg)  # kg
    assert float(row["duration"]) == pytest.approx(run.duration_s)


def test_the_statement_cites_every_figure_and_names_what_is_estimated(isolated_env: Path) -> None:
    run = _run("paper", pue=1.2, country="FR")
    done = subprocess.run([*MLFOOTPRINT, "statement", run.id], capture_output=True, text=True,
                          env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    text = done.stdout
    assert done.returncode == 0 and run.id in text and "(PUE) of 1.2 [1]" in text
    assert "kWh" in text or " J " in text
    assert "Not measured but" in text and "embodied CO2e" in text
    refs = [line for line in text.splitlines() if line.startswith("[")]
    assert len(refs) >= 4 and any("Ember" in r for r in refs)


def test_doctor_and_version() -> None:
    version = subprocess.run([*MLFOOTPRINT, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"mlfootprint {mlfootprint.__version__}"
    doctor = subprocess.run([*MLFOOTPRINT, "doctor"], capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"))
    assert doctor.returncode == 0 and "sensors that a run here would use" in doctor.stdout
    assert "cpu" in doctor.stdout and "store:" in doctor.stdout


@pytest.mark.parametrize("args, message", [
    (["--outputs", "carrier-pigeon"], "unknown output"),
    (["--outputs", "prometheus:99999"], "prometheus port 99999 is not between 1 and 65535"),
    (["--prometheus", "host:port"], "expected [HOST:]PORT"),
])
def test_a_bad_output_is_refused_before_the_run(args: list[str], message: str) -> None:
    done = subprocess.run([*MLFOOTPRINT, "track", *args, "--", "true"], capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_report_pages_for_a_reduce_result_and_an_estimate_sweep(tmp_path: Path) -> None:
    reduce_json = tmp_path / "reduce.json"
    reduce_json.write_text(json.dumps([
        {"strategy": "baseline", "energy_j": 100.0, "quality": {"accuracy": 0.95}, "recommended": False, "verdict": "-"},
        {"strategy": "<b>bf16</b>", "energy_j": 60.0, "quality": {"accuracy": 0.949}, "recommended": True,
         "verdict": "saves 40 %"}]))
    out = tmp_path / "reduce.html"
    done = subprocess.run([*MLFOOTPRINT, "report", str(reduce_json), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert 'id="pareto-plot"' in page and "<svg" in page and "&lt;b&gt;bf16&lt;/b&gt;" in page
    sweep = subprocess.run([*MLFOOTPRINT, "estimate", "--params", "1e8:1e10", "--tokens", "20x", "--hardware",
                            "h100-sxm", "--points", "3", "--json"], capture_output=True, text=True)
    (tmp_path / "sweep.json").write_text(sweep.stdout)
    done = subprocess.run([*MLFOOTPRINT, "report", str(tmp_path / "sweep.json"), "-o", str(tmp_path / "s.html")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and 'id="sweep-plot"' in (tmp_path / "s.html").read_text()
    (tmp_path / "other.json").write_text("{}")
    bad = subprocess.run([*MLFOOTPRINT, "report", str(tmp_path / "other.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a reduce result" in bad.stderr
