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


@pytest.fixture(params=["sqlite", "sqlite-through-sqlalchemy", "postgresql"])
def writer_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new store for each way a writer writes: a SQLite file through sqlite3, the same through SQLAlchemy
    (as a SQLite URL with another driver would be), and PostgreSQL when the test server runs."""
    if request.param == "postgresql":
        yield str(request.getfixturevalue("postgres_url"))
        return
    url = f"sqlite:///{tmp_path / 'store.db'}"
    alchemy = request.param == "sqlite-through-sqlalchemy"
    if alchemy:
        monkeypatch.setattr("mlfootprint.store.opening.is_stdlib_sqlite", lambda url, path: False)
    yield url
    from mlfootprint.store import open_store
    from mlfootprint.store.source import AlchemySource, SqliteSource

    assert isinstance(open_store(url, write=True).source, AlchemySource if alchemy else SqliteSource)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store on each backend: a SQLite file, and a fresh PostgreSQL database when the server runs."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
