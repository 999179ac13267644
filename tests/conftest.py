from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own store and working directory and no MLFOOTPRINT_* from the caller."""
    for key in list(os.environ):
        if key.startswith("MLFOOTPRINT_"):
            monkeypatch.delenv(key)
    store = tmp_path / "runs.db"
    monkeypatch.setenv("MLFOOTPRINT_STORE", str(store))
    monkeypatch.chdir(tmp_path)
    logging.getLogger("mlfootprint").setLevel(logging.WARNING)
    return store


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
