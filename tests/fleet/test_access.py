"""A real Prometheus behind TLS and basic auth (its own --web.config.file): verified by default, the
password never shown, each refusal one line."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.prom import Prometheus, backfill
from tests.fleet.synthetic import HOUR, Fleet

PASSWORD = "s3cret-Pw-81"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("no bcrypt for Prometheus' basic-auth file (the crypt module is gone from this Python)")
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt() has no bcrypt")
    return hashed


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Path, float]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (for a test certificate)")
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "cert.pem", root / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    (root / "web.yml").write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
                                  f"basic_auth_users:\n  ops: '{_bcrypt(PASSWORD)}'\n")
    t0 = math.floor(time.time() / HOUR) * HOUR - 9 * HOUR
    tsdb = root / "tsdb"
    backfill(Fleet(t0).openmetrics(), tsdb)
    server = Prometheus(tsdb, extra=[f"--web.config.file={root / 'web.yml'}"])
    try:
        import ssl

        server.wait_ready("https", ssl.create_default_context(cafile=str(cert)))
        yield server, cert, t0
    finally:
        server.stop()


def _fleet(url: str, t0: float, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 2 * HOUR))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 3 * HOUR))
    return subprocess.run([sys.executable, "-m", "mlfootprint", "fleet", "--prometheus", url, "--start", iso, "--end",
                           end, "--source", "dcgm", "--no-previous", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_tls_and_basic_auth_with_the_password_from_a_file(secured: tuple[Prometheus, Path, float],
                                                          tmp_path: Path) -> None:
    server, cert, t0 = secured
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    done = _fleet(f"https://{server.address}", t0, "--ca-file", str(cert), "--basic-auth-user", "ops",
                  "--basic-auth-password-file", str(password), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["totals"]["energy_j"] > 0 and result["prometheus"] == f"https://{server.address}"
    assert PASSWORD not in done.stdout + done.stderr


def test_the_password_in_the_url_is_used_and_masked(secured: tuple[Prometheus, Path, float]) -> None:
    server, cert, t0 = secured
    done = _fleet(f"https://ops:{PASSWORD}@{server.address}", t0, "--ca-file", str(cert), "--json")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr and "ops" not in json.loads(done.stdout)["prometheus"]


def test_a_wrong_password_an_unverified_certificate_and_plain_http_each_get_one_line(
        secured: tuple[Prometheus, Path, float]) -> None:
    server, cert, t0 = secured
    env = {"MLFOOTPRINT_PROMETHEUS_PASSWORD": "wrong-password-1"}
    refused = _fleet(f"https://{server.address}", t0, "--ca-file", str(cert), "--basic-auth-user", "ops", env=env)
    assert refused.returncode == 2 and "refused access (HTTP 401)" in refused.stderr
    assert "wrong-password-1" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    unverified = _fleet(f"https://{server.address}", t0, "--basic-auth-user", "ops", env={
        "MLFOOTPRINT_PROMETHEUS_PASSWORD": PASSWORD})
    assert unverified.returncode == 2 and "TLS" in unverified.stderr and "--ca-file" in unverified.stderr
    assert len(unverified.stderr.strip().splitlines()) == 1
    skipped = _fleet(f"https://{server.address}", t0, "--insecure-skip-verify", "--basic-auth-user", "ops",
                     env={"MLFOOTPRINT_PROMETHEUS_PASSWORD": PASSWORD})
    assert skipped.returncode == 0, skipped.stderr
    plain = _fleet(f"http://{server.address}", t0)
    assert plain.returncode == 2 and len(plain.stderr.strip().splitlines()) == 1
