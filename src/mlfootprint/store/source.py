"""How a reader gets rows: the standard library's sqlite3 for a SQLite file, SQLAlchemy for any other URL.

Why two: `mlfootprint runs`, `show` and `jobs` answer while a person waits, and importing SQLAlchemy
alone takes longer (0.14-0.2 s here) than the rest of such a command. A SQLite file is read with the
driver SQLAlchemy itself would use (sqlite3); every other database goes through SQLAlchemy. Both run
the same SQL (reader.py writes it in the common subset, with identifiers quoted and LIMIT spelled
for the backend), so there is one set of queries, not two.

A SQLite file is opened without being created (`file:PATH?mode=rw`) and only read: a reader never
creates, migrates or converts it. (Not `mode=ro` first: a read-only connection to a WAL store leaves
its `-wal` and `-shm` files behind, owned by the reader, which can lock out another user's writer;
a read-write one removes them when it closes, as any SQLite client does.) A file this user cannot
write is opened read-only (`mode=ro`); and a store in WAL mode whose folder cannot be written (a
read-only file in a read-only folder, a snapshot, a replica) cannot be opened even so, since SQLite
would need to create its `-shm` file: it is then opened as immutable (`immutable=1`), read without
locks, which is right for a file this user cannot write and the one way SQLite reads it at all. A
file this user may write is never read without its locks.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

__all__ = ["Session", "Source", "AlchemySource", "SqliteSource", "db_errors", "open_source"]

BUSY_TIMEOUT_S = 5.0
STDLIB_SCHEMES = ("sqlite", "sqlite+pysqlite")  # SQLite URLs whose driver is the standard library's


class Session(Protocol):
    """One read transaction: every query inside it sees the same state of the store."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def tables(self) -> set[str]: ...

    def columns(self, table: str) -> list[str]: ...


class Source(Protocol):
    backend: str
    trace: Callable[[str], None] | None  # called with each query's SQL (tests count queries)

    def session(self) -> Any: ...  # a context manager giving a Session

    def quote(self, name: str) -> str: ...

    def limit(self, n: int, offset: int = 0) -> str: ...


def open_source(url: str, path: Path | None) -> Source:
    """The source for a store URL (`path`: its SQLite file, when it is one)."""
    scheme = url.split("://", 1)[0].lower()
    if path is not None and scheme in STDLIB_SCHEMES:
        return SqliteSource(path)
    return AlchemySource(url)


def db_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'the database failed', for whichever drivers are loaded (OverflowError: a
    number no driver type holds)."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, OverflowError)
    alchemy = sys.modules.get("sqlalchemy.exc")
    return errors + ((alchemy.SQLAlchemyError,) if alchemy is not None else ())


class SqliteSource:
    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.trace: Callable[[str], None] | None = None
        self.mode = "rw"
        first: sqlite3.OperationalError | None = None
        for mode in ("rw", "ro", "immutable"):
            if mode == "immutable" and self._writable():
                break  # a file someone may write is never read without its locks
            self.mode = mode
            try:
                self._probe()
                return
            except sqlite3.OperationalError as exc:
                first = first or exc
                message = str(exc).lower()
                if "readonly" not in message and "unable to open" not in message:
                    raise
        assert first is not None
        raise first  # the read-write open's reason is the one to show

    @property
    def uri(self) -> str:
        return f"file:{quote(str(self.path))}?" + ("immutable=1" if self.mode == "immutable" else f"mode={self.mode}")

    def _writable(self) -> bool:
        return os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)

    def _probe(self) -> None:
        con = self._connect()
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            con.close()

    @contextmanager
    def session(self) -> Iterator[_SqliteSession]:
        con = self._connect()
        try:
            con.execute("BEGIN")  # one snapshot for every query of the session
            yield _SqliteSession(con, self.trace)
        finally:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            con.close()

    def quote(self, name: str) -> str:
        return _quote(name)

    def limit(self, n: int, offset: int = 0) -> str:
        return f"LIMIT {int(n)} OFFSET {int(offset)}"


class _SqliteSession:
    def __init__(self, con: sqlite3.Connection, trace: Callable[[str], None] | None) -> None:
        self.con, self.trace = con, trace

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        if self.trace is not None:
            self.trace(sql)
        cur = self.con.execute(sql, dict(params or {}))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def tables(self) -> set[str]:
        return {r["name"] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def columns(self, table: str) -> list[str]:
        return [r["name"] for r in self.rows(f"PRAGMA table_info({_quote(table)})")]


class AlchemySource:
    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from ..errors import StoreConfigError
        from .engine import get_engine
        from .urls import display_url

        try:
            self.backend = make_url(url).get_backend_name()
        except (ArgumentError, ValueError):
            raise StoreConfigError(f"invalid store URL {display_url(url)!r}: expected a file path or a SQLAlchemy "
                                   "URL such as sqlite:///runs.db or postgresql+psycopg://user@host/db") from None
        self.engine = get_engine(url)
        self.trace: Callable[[str], None] | None = None
        self._preparer = self.engine.dialect.identifier_preparer

    @contextmanager
    def session(self) -> Iterator[_AlchemySession]:
        with self.engine.connect() as conn:
            conn.info["write"] = False
            with conn.begin():
                yield _AlchemySession(conn, self.trace)

    def quote(self, name: str) -> str:
        return str(self._preparer.quote(name))

    def limit(self, n: int, offset: int = 0) -> str:
        if self.backend in ("mssql", "oracle"):  # the SQL standard's spelling; they lack LIMIT
            return f"OFFSET {int(offset)} ROWS FETCH NEXT {int(n)} ROWS ONLY"
        return f"LIMIT {int(n)} OFFSET {int(offset)}"


class _AlchemySession:
    def __init__(self, conn: Any, trace: Callable[[str], None] | None) -> None:
        self.conn, self.trace = conn, trace

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import text

        if self.trace is not None:
            self.trace(sql)
        return [dict(r) for r in self.conn.execute(text(sql), dict(params or {})).mappings()]

    def tables(self) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(self.conn).get_table_names())

    def columns(self, table: str) -> list[str]:
        from sqlalchemy import inspect

        return [c["name"] for c in inspect(self.conn).get_columns(table)]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
