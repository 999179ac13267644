"""Run records: SQLite by default, any SQLAlchemy URL (PostgreSQL) for a team.

`Store` (db.py) imports SQLAlchemy; the rest of this package (URLs, spool files, pending writes) only
the standard library, because a run's start path uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .urls import default_store_url, display_url, to_url

if TYPE_CHECKING:
    from .db import Store

__all__ = ["Store", "default_store_url", "display_url", "open_store", "to_url"]


def open_store(store: str | None = None, *, write: bool = False) -> "Store":
    """The store at a path or URL; see db.open_store."""
    from .db import open_store as _open

    return _open(store, write=write)


def __getattr__(name: str) -> Any:
    if name == "Store":
        from .db import Store

        return Store
    raise AttributeError(name)
