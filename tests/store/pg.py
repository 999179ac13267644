"""A PostgreSQL database of its own for a test, on the server `.ci/run` starts (MLFOOTPRINT_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_URL = os.environ.get("MLFOOTPRINT_TEST_POSTGRES_URL")
NO_PG = "MLFOOTPRINT_TEST_POSTGRES_URL not set (.ci/run sets it)"


@contextmanager
def fresh_database(server_url: str | None = PG_URL, prefix: str = "fresh") -> Iterator[str]:
    """The URL of a new, empty database on the server of `server_url` (read when this module is imported:
    the tests' environment is cleared of MLFOOTPRINT_* later), dropped afterwards with the engines this
    process made for it."""
    import psycopg
    from sqlalchemy.engine import make_url

    from mlfootprint.store import dispose_engines

    assert server_url is not None, NO_PG
    url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = dict(dbname=url.database, user=url.username, password=url.password, host=url.query.get("host"),
                 port=url.query.get("port"))
    with psycopg.connect(**{k: v for k, v in admin.items() if v is not None}, autocommit=True) as con:  # type: ignore[arg-type]
        con.execute(f'CREATE DATABASE "{name}"')
    fresh = url.set(database=name).render_as_string(hide_password=False)
    try:
        yield fresh
    finally:
        dispose_engines(fresh)
        with psycopg.connect(**{k: v for k, v in admin.items() if v is not None}, autocommit=True) as con:  # type: ignore[arg-type]
            con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
