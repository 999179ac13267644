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

Writers take the same two ways (writer.py's statements are SQL text too): a SQLite file at this
version's schema is written through sqlite3, every other URL through SQLAlchemy (opening.py decides,
and creates or upgrades a store through SQLAlchemy first). A write transaction on SQLite starts with
BEGIN IMMEDIATE, so concurrent writers queue for the lock (waiting up to BUSY_TIMEOUT_S) instead of
failing halfway, as the SQLAlchemy engine's do (engine.py). A writer's sqlite3 connections enforce
foreign keys and are kept for its next transaction, in this process only: a forked child never uses
or closes a connection its parent opened (SQLite's rule); it opens its own.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

__all__ = ["BUSY_TIMEOUT_S", "Session", "Source", "AlchemySource", "SqliteSource", "db_errors", "is_stdlib_sqlite",
           "open_source"]

BUSY_TIMEOUT_S = 5.0  # how long a statement waits for another process's lock before it fails
STDLIB_SCHEMES = ("sqlite", "sqlite+pysqlite")  # SQLite URLs whose driver is the standard library's
IDLE_CONNECTIONS = 4  # a writer's sqlite3 connections kept for its next transactions


class Session(Protocol):
    """One transaction: every query inside it sees the same state of the store."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def tables(self) -> set[str]: ...

    def columns(self, table: str) -> list[str]: ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int: ...  # rows changed

    def execute_many(self, sql: str, rows: Iterable[Mapping[str, Any]]) -> None: ...


class Source(Protocol):
    backend: str
    trace: Callable[[str], None] | None  # called with each query's SQL (tests count queries)

    def session(self) -> Any: ...  # a context manager giving a Session that reads

    def transaction(self, write: bool = True) -> Any: ...  # one that may write (SQLite: BEGIN IMMEDIATE)

    def quote(self, name: str) -> str: ...

    def limit(self, n: int, offset: int = 0) -> str: ...


def is_stdlib_sqlite(url: str, path: Path | None) -> bool:
    """Whether `url` is a SQLite file whose driver is the standard library's (sqlite3 then reads and writes it)."""
    return path is not None and url.split("://", 1)[0].lower() in STDLIB_SCHEMES


def open_source(url: str, path: Path | None) -> Source:
    """The source a reader reads a store URL through (`path`: its SQLite file, when it is one)."""
    if path is not None and is_stdlib_sqlite(url, path):
        return SqliteSource(path)
    return AlchemySource(url)


def db_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'the database failed', for whichever drivers are loaded (OverflowError: a
    number no driver type holds)."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, OverflowError)
    alchemy = sys.modules.get("sqlalchemy.exc")
    return errors + ((alchemy.SQLAlchemyError,) if alchemy is not None else ())


class SqliteSource:
    """A SQLite file through sqlite3. `write=True`: a writer's, which opens the file read-write only and
    keeps its connections (see the module); else a reader's, which falls back to read-only opens."""

    backend = "sqlite"

    def __init__(self, path: Path, *, write: bool = False) -> None:
        self.path = path
        self.trace: Callable[[str], None] | None = None
        self.mode = "rw"
        self.write = write
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if write:
            _WRITERS.add(self)
            return  # a writer's file is checked as it is opened (opening.py)
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
        con = sqlite3.connect(self.uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                              check_same_thread=False)
        if self.write:
            con.execute("PRAGMA foreign_keys=ON")  # the journal mode is the file's, set once (opening.py)
        return con

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

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_SqliteSession]:
        """One transaction on a kept connection: committed when the block ends, rolled back if it raises."""
        con = self._checkout()
        done = False
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield _SqliteSession(con, self.trace)
            con.execute("COMMIT")
            done = True
        finally:
            if not done and con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self._checkin(con)

    def use_wal(self) -> None:
        """WAL lets readers read while a run writes; set by the writer that checks the schema (as
        engine.use_wal is), never by a reader."""
        con = self._checkout()
        try:
            con.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error:  # read-only media: the default journal works too
            pass
        finally:
            self._checkin(con)

    def close(self) -> None:
        """Close the kept connections (the store is about to be dropped or was replaced)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _checkin(self, con: sqlite3.Connection) -> None:
        with self._lock:
            if not con.in_transaction and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(con)
                return
        con.close()

    def _leave_to_parent(self) -> None:
        """In a forked child: the kept connections are the parent's; keep them from ever being used or
        closed here (closing one would act on the parent's locks and files)."""
        _LEFT_TO_PARENT.extend(self._idle)
        self._idle = []
        self._lock = threading.Lock()  # another thread of the parent may have held it at the fork

    def quote(self, name: str) -> str:
        return _quote(name)

    def limit(self, n: int, offset: int = 0) -> str:
        return f"LIMIT {int(n)} OFFSET {int(offset)}"


_WRITERS: weakref.WeakSet[SqliteSource] = weakref.WeakSet()  # every writer's source, for a fork
_LEFT_TO_PARENT: list[sqlite3.Connection] = []


def _leave_connections_in_child() -> None:
    for source in list(_WRITERS):
        source._leave_to_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_leave_connections_in_child)


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

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        if self.trace is not None:
            self.trace(sql)
        return int(self.con.execute(sql, dict(params or {})).rowcount)

    def execute_many(self, sql: str, rows: Iterable[Mapping[str, Any]]) -> None:
        if self.trace is not None:
            self.trace(sql)
        self.con.executemany(sql, rows)


class AlchemySource:
    """Any store URL through SQLAlchemy. `create_file`: a SQLite file a writer may create (engine.get_engine)."""

    def __init__(self, url: str, create_file: Path | None = None) -> None:
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
        self.engine = get_engine(url, create_file=create_file)
        self.trace: Callable[[str], None] | None = None
        self._preparer = self.engine.dialect.identifier_preparer

    def session(self) -> Any:
        return self.transaction(write=False)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[_AlchemySession]:
        with self.engine.connect() as conn:
            conn.info["write"] = write  # SQLite: BEGIN IMMEDIATE for a writer (engine.py)
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

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        from sqlalchemy import text

        if self.trace is not None:
            self.trace(sql)
        return int(self.conn.execute(text(sql), dict(params or {})).rowcount)

    def execute_many(self, sql: str, rows: Iterable[Mapping[str, Any]]) -> None:
        from sqlalchemy import text

        if self.trace is not None:
            self.trace(sql)
        batch = list(rows)
        if batch:
            self.conn.execute(text(sql), batch)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
