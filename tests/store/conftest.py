from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .pg import NO_PG, PG_URL, fresh_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skipped without the test server)."""
    if not PG_URL:
        pytest.skip(NO_PG)
    with fresh_database(PG_URL, "store") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store on each backend: a SQLite file, and a fresh PostgreSQL database when the server runs."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
