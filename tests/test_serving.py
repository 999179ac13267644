"""The serving example end to end: a real HTTP server on loopback, a bounded load, J per request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.net import free_port

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_serving_example_reports_energy_per_request(isolated_env: Path) -> None:
    port = free_port()
    env = dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env), PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "serve_digits.py"), "--port", str(port), "--epochs", "1",
                               "--country", "FR"], cwd=EXAMPLES, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        load = subprocess.run([sys.executable, str(EXAMPLES / "load_digits.py"), "--port", str(port), "--requests", "40",
                               "--batch", "2", "--shutdown"], cwd=EXAMPLES, env=env, capture_output=True, text=True,
                              timeout=180)
        assert load.returncode == 0, load.stderr
        assert "40 requests" in load.stdout
        out, _ = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0, out
    assert "40 requests:" in out and "per request handled" in out and "CO2e operational per 1,000 requests" in out

    from mlfootprint.store import open_store

    record = open_store(str(isolated_env)).list_runs(project="serve-digits")[0]
    full = open_store(str(isolated_env)).get_run(record.id)
    phases = {p.phase: p for p in full.phases}
    assert phases["serving/inference"].entries == 40 and phases["serving/inference"].items == 80
    assert phases["serving/preprocess"].entries == 40 and phases["serving/postprocess"].entries == 40
    assert full.counts == {"requests": 40.0, "images": 80.0}
    assert phases["serving"].energy_j >= sum(phases[f"serving/{p}"].energy_j for p in ("preprocess", "inference", "postprocess"))
