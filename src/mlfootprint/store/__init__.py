"""Run records: SQLite by default, any SQLAlchemy URL (PostgreSQL) for a team.

    from mlfootprint.store import open_store
    for row in open_store().list_runs(limit=5):     # a Reader: never writes
        print(row["id"], row["energy_j"])
    open_store(write=True).import_rows(payload)      # a Writer: creates and upgrades the store

The parts, one idea each: `reader` (listings, records, jobs), `writer` (a run's rows, imports, dead
runs), `migrations` (one upgrade per schema version), `engine` (SQLAlchemy engines per process),
`source` (how a reader reaches the rows), `schema`/`layout` (the tables), `fit` (values the columns
hold, payloads checked), `recency` (which copy of a run is newer), `liveness` (whether a running run
still runs), `spool` (rows on disk when the store cannot take them), `urls` (where the store is).

Importing this package is cheap: the database layer loads when a store is opened, and a reader of a
SQLite file never loads SQLAlchemy at all (see source.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from .urls import default_store_url, display_url, to_url

if TYPE_CHECKING:
    from .engine import dispose_engines, load_driver
    from .reader import ChildTotals, JobRows, Reader
    from .writer import Writer

__all__ = ["ChildTotals", "JobRows", "Reader", "Writer", "default_store_url", "display_url", "dispose_engines",
           "load_driver", "open_store", "to_url"]

_LAZY = {"ChildTotals": "reader", "JobRows": "reader", "Reader": "reader", "Writer": "writer",
         "dispose_engines": "engine", "load_driver": "engine"}


@overload
def open_store(store: str | None = None, *, write: Literal[False] = False) -> Reader: ...


@overload
def open_store(store: str | None = None, *, write: Literal[True]) -> Writer: ...


@overload
def open_store(store: str | None = None, *, write: bool) -> Reader | Writer: ...


def open_store(store: str | None = None, *, write: bool = False) -> Reader | Writer:
    """The store at a path or URL (default: MLFOOTPRINT_STORE, else the user data dir).

    `write=True` gives a Writer, which creates and migrates the store; a Reader leaves it exactly as
    it is. A reader first waits (briefly) for this process's runs that are still writing their final
    record to the store, so a notebook cell right after a run sees it.
    """
    url = to_url(store)
    if write:
        from .writer import Writer

        return Writer(url)
    from .pending import wait_for
    from .reader import Reader

    wait_for(url)
    return Reader(url)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
