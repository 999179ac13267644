"""A live scrape: a small exporter process serves DCGM-named counters, a real Prometheus scrapes it four times a
second, and `fleet` reads back the energy the exporter counted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.fleet.prom import Prometheus

WATTS = {"0": 350.0, "1": 90.0}  # GPU 0 held by a pod, GPU 1 idle
EXPORTER = """
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
T0 = time.time()
WATTS = {watts!r}

class Exporter(BaseHTTPRequestHandler):
    def do_GET(self):
        now = time.time()
        lines = ["# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).",
                 "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter"]
        for gpu, watts in WATTS.items():
            pod = ',namespace="team-x",pod="train-0",container="main"' if gpu == "0" else ""
            lines.append(f'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{{gpu="{{gpu}}",UUID="GPU-{{gpu}}",'
                         f'Hostname="live-host",modelName="NVIDIA H100 80GB HBM3"{{pod}}}}}} '
                         f'{{1.0e9 + watts * (now - T0) * 1000:.3f}}')
        body = ("\\n".join(lines) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _query(url: str, expr: str) -> list[dict]:  # type: ignore[type-arg]
    q = urllib.parse.urlencode({"query": expr})
    return json.loads(urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5).read())["data"]["result"]


def test_fleet_reads_what_a_live_exporter_counted(tmp_path: Path) -> None:
    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER.format(watts=WATTS)], stdout=subprocess.PIPE, text=True)
    server = None
    try:
        assert exporter.stdout is not None
        port = int(exporter.stdout.readline())
        config = (f"global:\n  scrape_interval: 250ms\nscrape_configs:\n  - job_name: dcgm\n    honor_labels: true\n"
                  f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        server = Prometheus(tmp_path / "tsdb", config)
        server.wait_ready()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = _query(server.url, "count_over_time(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[1m])")
            if len(found) == 2 and min(int(r["value"][1]) for r in found) >= 16:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("Prometheus did not scrape the exporter 16 times")
        raw = _query(server.url, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[1m]")
        start = int(max(float(r["values"][0][0]) for r in raw)) + 1  # after each series' first sample
        end = int(time.time()) - 1
        done = subprocess.run([sys.executable, "-m", "mlfootprint", "fleet", "--prometheus", server.url,
                               "--source", "dcgm",
                               "--start", str(start), "--end", str(end), "--by", "namespace", "--json",
                               "--no-previous"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        groups = {g["name"]: g for g in json.loads(done.stdout)["groups"]}
        seconds = end - start
        assert groups["namespace=team-x"]["energy_j"] == pytest.approx(WATTS["0"] * seconds, rel=0.03)
        assert groups["unallocated (idle capacity)"]["energy_j"] == pytest.approx(WATTS["1"] * seconds, rel=0.03)
    finally:
        if server is not None:
            server.stop()
        exporter.terminate()
        exporter.wait(timeout=10)
