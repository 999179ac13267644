"""Every store error passes through the masking: no piece of a password in a message (R19, ST32)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlfootprint.store.failures import advice, open_failed, query_failed

PY = sys.executable
URL = "postgresql+psycopg://user:S3cret@PW@127.0.0.1:1/db"


def test_r19_a_password_with_an_unescaped_at_never_shows_in_a_reader_s_message() -> None:
    pytest.importorskip("psycopg")
    done = subprocess.run([PY, "-m", "mlfootprint", "runs", "--store", URL], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot open run store 'postgresql+psycopg://user:***@127.0.0.1:1/db'" in done.stderr, done.stderr
    assert "S3cret" not in done.stderr and "PW" not in done.stderr, done.stderr


def test_r19_nor_in_a_run_s_warnings_when_it_cannot_reach_its_store(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    done = subprocess.run([PY, "-m", "mlfootprint", "track", "--store", URL, "--", PY, "-c", "pass"],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          env=dict(os.environ, XDG_DATA_HOME=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "store" in done.stderr and "S3cret" not in done.stderr and "PW@" not in done.stderr, done.stderr
    spooled = list(tmp_path.rglob("mlfootprint-run-*.json"))
    assert spooled and all("S3cret" not in p.read_text() for p in spooled)


class DriverError(Exception):
    """What a driver raises, with SQLAlchemy's `orig` holding the driver's own text."""

    def __init__(self, text: str) -> None:
        super().__init__("wrapped")
        self.orig = text


@pytest.mark.parametrize("text", [
    "failed to resolve host 'PW@127.0.0.1'",
    "password authentication failed for password S3cret@PW",
    f"could not parse {URL}",
    "FATAL:  password for user S3cret%40PW was refused\nDETAIL: second line",
])
def test_st32_open_and_query_failures_mask_every_secret_fragment(text: str) -> None:
    for error in (open_failed(URL, DriverError(text), None), query_failed(URL, DriverError(text))):
        message = str(error)
        assert "S3cret" not in message and "PW" not in message and "\n" not in message, message
        assert "user:***@127.0.0.1:1/db" in message


def test_open_failure_advice_by_cause(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    assert "not writable" in advice(DriverError("attempt to write a readonly database"), path)
    assert "not an SQLite database" in advice(DriverError("file is not a database"), path)
    assert "write lock" in advice(DriverError("database is locked"), path)
    assert "server is running" in advice(DriverError("connection refused"), None)
