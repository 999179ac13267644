from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


_TMPDIR = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """The suite's own temporary folder: runs of mlfootprint elsewhere on this machine (a user's training,
    another checkout's tests) register in /tmp/mlfootprint-UID and would show up as overlaps here."""
    import tempfile

    own = tempfile.mkdtemp(prefix="mlfootprint-tests-")
    config.stash[_TMPDIR] = own
    os.environ["TMPDIR"] = own
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    own = config.stash.get(_TMPDIR, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)



@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own store and working directory and no MLFOOTPRINT_* from the caller; a run a
    test leaves open is ended after it (a later test's runs would otherwise be nested in it)."""
    for key in list(os.environ):
        if key.startswith("MLFOOTPRINT_"):
            monkeypatch.delenv(key)
    store = tmp_path / "runs.db"
    monkeypatch.setenv("MLFOOTPRINT_STORE", str(store))
    monkeypatch.chdir(tmp_path)
    logging.getLogger("mlfootprint").setLevel(logging.WARNING)
    yield store
    tracker = sys.modules.get("mlfootprint.tracker")
    if tracker is not None:
        for run in list(tracker._open_runs):
            run.stop("interrupted")


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
