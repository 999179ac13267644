"""The Prometheus client's failures: each is one line that says what failed, with no secret in it.

The normal path runs against a real Prometheus (test_real_prometheus.py, test_access.py); here small
HTTP servers on loopback play the broken ones: slow, erroring, not the API, redirecting, refusing a token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlfootprint.fleet.client import PromClient, PrometheusError, access_from

TOKEN = "tok-3b8f0c2d9e"
EMPTY = {"status": "success", "data": []}


def _server(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handle(self)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _reply(h: BaseHTTPRequestHandler, code: int, body: bytes, kind: str = "application/json") -> None:
    h.send_response(code)
    h.send_header("Content-Type", kind)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _fleet(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlfootprint", "fleet", "--prometheus", url, "--start", "2h", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_server_that_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = _one_line(_fleet(f"http://127.0.0.1:{port}"))
    assert "cannot reach Prometheus" in line and "connection refused" in line


@pytest.fixture
def slow() -> Iterator[str]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        time.sleep(3)
        _reply(h, 200, json.dumps(EMPTY).encode())

    yield from _server(handle)


def test_a_server_that_is_slow(slow: str) -> None:
    line = _one_line(_fleet(slow, "--timeout", "0.5"))
    assert "did not answer" in line and "0.5 s" in line


@pytest.fixture
def broken() -> Iterator[str]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if "flags" in h.path or "buildinfo" in h.path:
            _reply(h, 404, b"404 page not found", "text/plain")
        elif "series" in h.path:
            _reply(h, 200, b"<html>please log in</html>", "text/html")
        else:
            _reply(h, 500, b"")

    yield from _server(handle)


def test_a_server_that_answers_html_instead_of_the_api(broken: str) -> None:
    line = _one_line(_fleet(broken))
    assert "not JSON" in line and "/api/v1/series" in line


@pytest.fixture
def refusing() -> Iterator[str]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            _reply(h, 401, json.dumps({"status": "error", "errorType": "unauthorized",
                                       "error": f"bad token {h.headers.get('Authorization')}"}).encode())
        elif "query" in h.path:
            _reply(h, 400, json.dumps({"status": "error", "errorType": "bad_data",
                                       "error": "parse error"}).encode())
        else:
            _reply(h, 200, json.dumps({"status": "success", "data": [{"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
                                                                      "UUID": "GPU-1"}]}).encode())

    yield from _server(handle)


def test_a_bearer_token_from_a_file_or_the_environment(refusing: str, tmp_path: Path) -> None:
    wrong = _one_line(_fleet(refusing, env={"MLFOOTPRINT_PROMETHEUS_TOKEN": "nope-nope"}))
    assert "refused access (HTTP 401)" in wrong and "bearer token" in wrong and "nope-nope" not in wrong
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    accepted = _one_line(_fleet(refusing, "--bearer-token-file", str(token), "--source", "dcgm"))
    assert "HTTP 400" in accepted and "parse error" in accepted  # past the door: the query itself was refused
    assert TOKEN not in accepted


@pytest.fixture
def redirecting() -> Iterator[str]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", "http://elsewhere.example:9090/api/v1/status/buildinfo")
        h.send_header("Content-Length", "0")
        h.end_headers()

    yield from _server(handle)


def test_a_redirect_is_not_followed_with_the_credentials(redirecting: str) -> None:
    line = _one_line(_fleet(redirecting, env={"MLFOOTPRINT_PROMETHEUS_TOKEN": TOKEN}))
    assert "redirect" in line and "elsewhere.example" in line and TOKEN not in line


def test_credentials_in_the_url_become_basic_auth_and_are_never_shown() -> None:
    access = access_from("https://ops:pa55word@prom.example:9090/prometheus/")
    assert access.basic_user == "ops" and access.basic_password == "pa55word"
    assert access.url == "https://prom.example:9090/prometheus" and "pa55word" not in repr(access)
    assert "pa55word" not in access.shown and "ops" not in access.shown
    with pytest.raises(PrometheusError, match="expected http"):
        access_from("prom.example:9090")


def test_the_server_limits_default_when_the_engine_does_not_publish_them(broken: str) -> None:
    info = PromClient(access_from(broken)).info()
    assert info.max_samples == 50_000_000 and info.notes
