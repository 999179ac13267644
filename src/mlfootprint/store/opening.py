"""Opening a store for writing: its schema created or upgraded once per process, and the way its rows go.

A SQLite file already at this version's schema (every run after a store's first, as a rule) is checked
and written through the standard library's sqlite3 alone: importing SQLAlchemy costs a short script
more (0.15-0.2 s) than all the rest of its tracking. Creating a store, upgrading an older one, and
every other URL (PostgreSQL) go through SQLAlchemy (migrations.py, engine.py): a store's first run
pays for that import once, and a team's database always.

What this process holds per store URL (the schema checked, a SQLite writer's kept connections) lasts
until `dispose_engines` (for tests that change a store behind the package's back, and for a database
about to be dropped), until the SQLite file is replaced by another (checked again then), or until a
fork: the child starts with nothing of its parent's.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .layout import META_TABLE, SCHEMA_VERSION, check_version, parse_version
from .source import AlchemySource, Source, SqliteSource, is_stdlib_sqlite
from .urls import sqlite_path

__all__ = ["cached_urls", "dispose_engines", "load_driver", "open_for_writing"]


@dataclass(frozen=True)
class _Held:
    source: Source
    file: tuple[int, int] | None  # the SQLite file's (device, inode) when its schema was checked


_HELD: dict[str, _Held] = {}
_LOCK = threading.Lock()


def open_for_writing(url: str, path: Path | None) -> Source:
    """The source a writer of `url` writes through (`path`: its SQLite file, when it is one), the store
    created or upgraded first, once per URL per process, under a lock: two threads of one process never
    prepare the same store at once (other processes are kept out by the database's own locks)."""
    with _LOCK:
        held = _HELD.get(url)
        if held is not None and held.file == _file_id(path):
            return held.source
        if held is not None:  # the file was deleted or replaced: a new one, to check again
            _close(_HELD.pop(url).source)
            _dispose_engines(url)  # SQLAlchemy's pooled connections are to the old file too
        source = _prepare(url, path)
        _HELD[url] = _Held(source, _file_id(path))
        return source


def load_driver(url: str) -> None:
    """Import what a writer of `url` will need before it opens the store (the recorder does this while a
    fork waits for it: an import cut in half by a fork can hang the child): for a SQLite file at this
    version's schema, nothing beyond sqlite3; else SQLAlchemy, the migrations and the URL's driver."""
    path = sqlite_path(url)
    if url in _HELD or (is_stdlib_sqlite(url, path) and path is not None and _looks_current(path)):
        return
    try:
        from . import migrations  # noqa: F401  (SQLAlchemy and the tables' DDL)
        from .engine import import_driver
    except ImportError:  # reported when the store is opened
        return
    import_driver(url)


def dispose_engines(url: str | None = None) -> None:
    """Forget what this process holds for every store (or for `url`): the next writer checks the schema
    again; SQLite connections are closed, SQLAlchemy engines disposed."""
    with _LOCK:
        for key in [k for k in _HELD if url is None or k == url]:
            _close(_HELD.pop(key).source)
        _dispose_engines(url)


def cached_urls() -> list[str]:
    """The store URLs this process holds a checked schema and a way to write for (a forked child: none)."""
    return list(_HELD)


def _prepare(url: str, path: Path | None) -> Source:
    if path is not None and is_stdlib_sqlite(url, path):
        source = SqliteSource(path, write=True)
        if not _is_current(source, url):
            from .engine import get_engine
            from .migrations import prepare

            prepare(get_engine(url, create_file=path), url)
        return source
    from .migrations import prepare

    alchemy = AlchemySource(url, create_file=path)  # checks the URL first: a bad one is refused in one line
    prepare(alchemy.engine, url)
    return alchemy


def _is_current(source: SqliteSource, url: str) -> bool:
    """Whether the file is a store at this version's schema, which then needs no change (nor SQLAlchemy).
    Looked at under the write lock, as migrations.prepare looks: a process creating the store at this
    moment is waited for. A store of a newer version is refused here as there; WAL is set as there. A
    lock held past the busy timeout (a long merge) is left to migrations.prepare, which tries again."""
    if not source.path.exists():
        return False  # created by migrations.prepare (a private file, in private folders)
    try:
        with source.transaction(write=True) as s:
            if META_TABLE not in s.tables():
                return False  # empty (being created), or not ours: migrations.prepare says which
            found = s.rows(f"SELECT value FROM {META_TABLE} WHERE {source.quote('key')} = 'schema_version'")
            version = parse_version(found[0]["value"], url) if found else None
            check_version(version, url)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc).lower():
            raise
        return False
    if version != SCHEMA_VERSION:
        return False
    source.use_wal()
    return True


def _looks_current(path: Path) -> bool:
    """A quick look, without locks or changes: does the file hold this version's schema?"""
    if not path.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=0.1)  # not mode=ro: see source.py
        try:
            found = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return found is not None and found[0] == str(SCHEMA_VERSION)


def _file_id(path: Path | None) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if path is not None else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st is not None else None


def _close(source: Source) -> None:
    if isinstance(source, SqliteSource):
        source.close()


def _dispose_engines(url: str | None) -> None:
    if f"{__package__}.engine" in sys.modules:  # engines exist only if SQLAlchemy was loaded
        from .engine import dispose

        dispose(url)


def _forget_in_child() -> None:
    """After fork: the parent's checks and connections are not the child's (source.py leaves the
    connections untouched); a lock another thread of the parent held at the fork is replaced."""
    global _LOCK
    _LOCK = threading.Lock()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
