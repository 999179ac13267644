"""Run records: SQLite by default, any SQLAlchemy URL (PostgreSQL) for a team."""

from .db import Store, default_store_url, open_store

__all__ = ["Store", "default_store_url", "open_store"]
