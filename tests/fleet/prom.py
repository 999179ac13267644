"""A real Prometheus for the fleet tests: backfilled with promtool, or scraping a live exporter.

Prometheus binds port 0 (the kernel picks a free port) and logs the address it listens on; we read
it from its log, then poll /-/ready. Nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

LISTENING = re.compile(r'msg="Listening on" address=([0-9.]+:\d+)')


def binaries() -> tuple[str, str]:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        pytest.skip("prometheus and promtool not installed (.ci/packages.sh installs Debian's prometheus)")
    return prometheus, promtool


def backfill(openmetrics: str, tsdb: Path) -> None:
    """Blocks from OpenMetrics text: one block for the whole span (--max-block-duration), read once."""
    _, promtool = binaries()
    source = tsdb.parent / "backfill.om"
    source.write_text(openmetrics)
    tsdb.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                           "--max-block-duration=10000h", str(source), str(tsdb)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    source.unlink()


class Prometheus:
    """A Prometheus process on loopback; `url` once it is ready."""

    def __init__(self, tsdb: Path, config: str = "global: {}\n", extra: list[str] | None = None) -> None:
        prometheus, _ = binaries()
        self.dir = tsdb.parent
        (self.dir / "prometheus.yml").write_text(config)
        self.log = self.dir / "prometheus.log"
        self.process = subprocess.Popen(
            [prometheus, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={tsdb}",
             "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:0", *(extra or [])],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        self.address = self._address()
        self.url = f"http://{self.address}"

    def _address(self, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = LISTENING.search(self.log.read_text())
            if m:
                return m.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError("prometheus did not say where it listens")

    def wait_ready(self, scheme: str = "http", context: ssl.SSLContext | None = None, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{scheme}://{self.address}/-/ready", timeout=2, context=context).read()
                return
            except OSError as exc:
                if "401" in str(exc):  # basic auth in front: it answers, so it is up
                    return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(f"prometheus not ready: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
