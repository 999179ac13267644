"""SQLAlchemy engines, one per store URL per process, and how they talk to SQLite.

One engine per URL, as SQLAlchemy recommends: its pool and compiled-statement cache then serve every
run of the process, so a run's start and stop do not recompile the same SQL. After a fork the child
leaves the parent's pooled connections to the parent (SQLAlchemy's advice for multiprocessing) and
builds its own.

SQLite: writers may be several processes. Every connection waits out a busy lock (busy_timeout) and
enforces foreign keys; write transactions start with BEGIN IMMEDIATE, so concurrent writers queue for
the lock instead of failing mid-transaction; WAL (`use_wal`, set by the writer that prepares the
schema) lets readers read while a run writes.

Readers of a SQLite file do not come here: they read through the standard library (source.py).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SAWarning

from .urls import private_dirs

__all__ = ["BUSY_TIMEOUT_MS", "cached_urls", "dispose_engines", "get_engine", "load_driver", "use_wal"]

BUSY_TIMEOUT_MS = 5000


class _Cached:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.prepared = False  # created/migrated by a writer of this process


_ENGINES: dict[str, _Cached] = {}
_LOCK = threading.Lock()


def get_engine(url: str, *, create_file: Path | None = None,
               prepare: Callable[[Engine], None] | None = None) -> Engine:
    """The engine of `url`, made once per process. `create_file`: a SQLite file to create (private)
    if missing, for a writer. `prepare` runs once per URL per process under the cache's lock (the
    writer's create-or-migrate), so two threads of one process never migrate the same store at once."""
    with _LOCK:
        cached = _ENGINES.get(url)
        if cached is None:
            cached = _Cached(_create(url, create_file))
            _ENGINES[url] = cached
        if prepare is not None and not cached.prepared:
            prepare(cached.engine)
            cached.prepared = True
        return cached.engine


def dispose_engines(url: str | None = None) -> None:
    """Close the pooled connections of every cached engine (or of `url`'s) and forget them: the next
    open builds a new engine and a writer checks the schema again. For tests that change a store
    behind the package's back, and for a database about to be dropped."""
    with _LOCK:
        for key in [k for k in _ENGINES if url is None or k == url]:
            _ENGINES.pop(key).engine.dispose()


def cached_urls() -> list[str]:
    """The URLs this process holds an engine for (a forked child starts with none)."""
    return list(_ENGINES)


def load_driver(url: str) -> None:
    """Import the database driver a URL needs (a writer does this before anything else; see recorder)."""
    try:
        make_url(url).get_dialect().import_dbapi()
    except Exception:  # a bad URL or a missing driver is reported when the store is opened
        pass


def _create(url: str, create_file: Path | None) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if create_file is not None and not create_file.exists():
        private_dirs(create_file.parent)
        try:  # created private: the store holds command lines, hosts and settings
            os.close(os.open(create_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
    with warnings.catch_warnings():  # query arguments on a SQLite URL are passed on; don't print a source line
        warnings.simplefilter("ignore", SAWarning)
        engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def use_wal(engine: Engine) -> None:
    """WAL lets readers read while a run writes. It is a property of the file, set once it is known
    to be our store (never on another application's database, never by a reader): by the writer that
    creates or checks the schema (migrations.prepare)."""
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA journal_mode=WAL")
    except Exception:  # read-only media: the default journal works too
        pass
    finally:
        raw.close()


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")  # the journal mode is set once, by use_wal
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers take the write lock up front (BEGIN IMMEDIATE waits out the busy timeout); a deferred
    transaction that reads first and upgrades later can fail at once under concurrent writers."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


def _drop_engines_in_child() -> None:
    """After fork, leave the parent's pooled connections to the parent (SQLAlchemy's advice); a lock
    another thread of the parent held at the fork would never be released here: take a new one."""
    global _LOCK
    _LOCK = threading.Lock()
    for cached in _ENGINES.values():
        cached.engine.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_engines_in_child)
