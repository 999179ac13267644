"""The run store's tables as SQLAlchemy objects, built from tables.py, for creating and upgrading a store.

Only migrations.py needs them (SQLAlchemy emits the DDL for each backend); writing and reading rows
take the plain columns of tables.py instead, so a run on an existing SQLite store never imports
SQLAlchemy. tests/store/test_tables.py checks that the DDL these tables compile to is unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

from . import tables
from .layout import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "components", "meta", "metadata", "phases", "run_values", "runs", "samples",
           "serving_windows"]

metadata = MetaData()


def _column(c: tables.Column) -> Column[Any]:
    kind: Any = {"int": Integer, "float": Float}.get(c.kind) or (String(c.length) if c.length else Text)
    extra: list[Any] = [ForeignKey(c.references, ondelete="CASCADE")] if c.references else []
    return Column(c.name, kind, *extra, primary_key=c.primary_key, nullable=c.may_be_null, default=c.default,
                  server_default=c.server_default, autoincrement=True if c.autoincrement else "auto")


def _table(spec: tables.Table) -> Table:
    table = Table(spec.name, metadata, *(_column(c) for c in spec.columns))
    for name, columns in spec.indexes.items():
        Index(name, *(table.c[c] for c in columns))
    return table


meta = _table(tables.meta)
runs = _table(tables.runs)
components = _table(tables.components)
samples = _table(tables.samples)
phases = _table(tables.phases)
run_values = _table(tables.run_values)
serving_windows = _table(tables.serving_windows)
