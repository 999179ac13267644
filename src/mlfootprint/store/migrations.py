"""Create a store, or upgrade one written by an older mlfootprint, one schema version at a time.

A writer's open runs `prepare` once per store per process: under SQLite's write lock or PostgreSQL's
advisory lock, so a job array whose first wave starts together on a fresh store creates it once, and
two versions' upgrades never interleave. A fresh store gets every table at once (schema.py); a store
of version N goes through `upgrade_N` for N = its version ... SCHEMA_VERSION - 1, each taking the
store from N to N+1. Every step checks before it changes (a column or table already there is left
alone), so a step half-done by a crashed process is finished by the next one. Readers never migrate:
they read what is there (reader.py fills in the columns an older store lacks).

Each step is tested from a store made by the mlfootprint of that version (tests/store/fixtures/).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, inspect, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreConfigError
from . import schema
from .engine import use_wal
from .layout import META_TABLE, SCHEMA_VERSION, check_version, parse_version
from .schema import meta, phases, run_values, serving_windows
from .urls import display_url

__all__ = ["STEPS", "prepare", "stored_version"]

_PG_MIGRATION_LOCK = 0x6D6C6670  # "mlfp": the advisory lock that serialises schema changes
Conn = Any  # a SQLAlchemy Connection inside a transaction


def prepare(engine: Engine, url: str) -> None:
    """Create or upgrade the schema, whoever else is opening the store at the same moment."""
    backend = engine.dialect.name
    for attempt in range(8):
        try:
            with engine.connect() as conn:
                conn.info["write"] = True
                with conn.begin():
                    if backend == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    _migrate_locked(conn, backend, url)
            if backend == "sqlite":
                use_wal(engine)
            return
        except SQLAlchemyError as exc:
            # another process created the same table between our check and our CREATE: look again
            if attempt == 7 or not _is_race(exc):
                raise
            time.sleep(0.02 + random.random() * 0.05 * (attempt + 1))


def stored_version(conn: Conn, url: str) -> int | None:
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    if row is None:
        return None
    return parse_version(row[0], url)


def _migrate_locked(conn: Conn, backend: str, url: str) -> None:
    tables = set(inspect(conn).get_table_names())
    if tables and META_TABLE not in tables:
        raise StoreConfigError(f"{display_url(url)} is not an mlfootprint run store: it already holds the tables "
                               f"{', '.join(sorted(tables)[:6])}; give another --store")
    version = stored_version(conn, url) if META_TABLE in tables else None
    check_version(version, url)
    if version is None:  # a new store: today's tables at once
        schema.metadata.create_all(conn)
        conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        return
    if version == SCHEMA_VERSION:
        return
    for v in range(version, SCHEMA_VERSION):
        STEPS[v](conn, backend)
    conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))


# -- one step per version ---------------------------------------------------------------------------
def upgrade_1(conn: Conn, backend: str) -> None:
    """1 -> 2: phases (energy and time per phase) and run_values (counts, metrics)."""
    phases.create(conn, checkfirst=True)
    run_values.create(conn, checkfirst=True)


def upgrade_2(conn: Conn, backend: str) -> None:
    """2 -> 3: runs.impact_json (the impact figures at the last flush)."""
    _add_columns(conn, "runs", {"impact_json": "TEXT"})


def upgrade_3(conn: Conn, backend: str) -> None:
    """3 -> 4: run_values.value may be NULL (a metric logged as NaN is kept, as not a number)."""
    value = {c["name"]: c for c in inspect(conn).get_columns("run_values")}["value"]
    if value["nullable"]:
        return
    if backend == "sqlite":  # SQLite cannot drop NOT NULL: rebuild the (small) table
        conn.execute(text("ALTER TABLE run_values RENAME TO run_values_v3"))
        run_values.create(conn)
        conn.execute(text("INSERT INTO run_values (run_id, kind, name, value) "
                          "SELECT run_id, kind, name, value FROM run_values_v3"))
        conn.execute(text("DROP TABLE run_values_v3"))
    else:
        conn.execute(text("ALTER TABLE run_values ALTER COLUMN value DROP NOT NULL"))


def upgrade_4(conn: Conn, backend: str) -> None:
    """4 -> 5: a distributed job's ranks (runs.job_*), samples rolled up with age (span_s) and labelled
    with their phase, and a served model's time windows (serving_windows)."""
    _add_columns(conn, "runs", {"job_id": "VARCHAR(128)", "job_rank": "INTEGER", "job_json": "TEXT"})
    _add_columns(conn, "samples", {"span_s": "FLOAT", "phase": "VARCHAR(255)"})
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_runs_job ON runs (job_id)"))
    serving_windows.create(conn, checkfirst=True)


def upgrade_5(conn: Conn, backend: str) -> None:
    """5 -> 6: nested runs and experiments (runs.parent_id, runs.kind), the component owner
    (components.charged_to), the serving estimate stored at the run's end (runs.serving_estimate_json),
    unrelated runs that measured the same machine at once (runs.overlaps_json), and an index on
    runs.started_at for listings."""
    _add_columns(conn, "runs", {"parent_id": "VARCHAR(32)", "kind": "VARCHAR(16) NOT NULL DEFAULT 'run'",
                                "serving_estimate_json": "TEXT", "overlaps_json": "TEXT"})
    _add_columns(conn, "components", {"charged_to": "VARCHAR(32)"})
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_runs_parent ON runs (parent_id)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_runs_started ON runs (started_at)"))


STEPS: dict[int, Callable[[Conn, str], None]] = {1: upgrade_1, 2: upgrade_2, 3: upgrade_3, 4: upgrade_4,
                                                 5: upgrade_5}


def _add_columns(conn: Conn, table: str, columns: dict[str, str]) -> None:
    have = {c["name"] for c in inspect(conn).get_columns(table)}
    for name, sql_type in columns.items():
        if name not in have:
            conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{name}" {sql_type}'))


def _is_race(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", None) or exc).lower()
    return any(s in message for s in ("already exists", "duplicate key", "database is locked", "unique constraint"))
