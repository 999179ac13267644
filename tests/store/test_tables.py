"""The tables as plain data (tables.py), which the writer and fit.py read without SQLAlchemy, and the
SQLAlchemy tables built from them (schema.py), which create and upgrade a store: they agree, and a new
store is created exactly as before tables.py existed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from mlfootprint.store import schema  # alone, so that ddl() also runs on the code of before (fixtures/README.md)
from mlfootprint.store.layout import ADDED_COLUMNS, CHILD_TABLES

DDL = Path(__file__).parent / "fixtures" / "schema6_ddl.sql"


def ddl() -> str:
    """The DDL schema.py's tables compile to, on SQLite and PostgreSQL (fixtures/README.md: schema6_ddl.sql)."""
    lines = []
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        lines.append(f"-- {dialect.name}")
        for table in sorted(schema.metadata.tables.values(), key=lambda t: t.name):
            lines.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
            lines += [str(CreateIndex(i).compile(dialect=dialect)).strip() + ";"
                      for i in sorted(table.indexes, key=lambda i: str(i.name))]
    return "\n".join(lines) + "\n"


def test_a_new_store_gets_the_ddl_it_got_before_the_tables_were_plain_data() -> None:
    assert ddl() == DDL.read_text(), "schema.py now creates other tables than before: a new schema version?"


@pytest.mark.parametrize("name", sorted(schema.metadata.tables))
def test_each_column_is_the_same_in_both(name: str) -> None:
    from mlfootprint.store import tables

    spec, built = tables.TABLES[name], schema.metadata.tables[name]
    assert [c.name for c in spec.columns] == [c.name for c in built.c]
    for c in spec.columns:
        col = built.c[c.name]
        kind = {Integer: "int", Float: "float", String: "text", Text: "text"}[type(col.type)]
        assert (kind, getattr(col.type, "length", None)) == (c.kind, c.length), c.name
        assert (col.nullable, col.primary_key) == (c.may_be_null, c.primary_key), c.name
        assert getattr(col.default, "arg", None) == c.default, c.name
        assert [fk.target_fullname for fk in col.foreign_keys] == ([c.references] if c.references else []), c.name


def test_the_columns_older_stores_lack_read_as_their_defaults() -> None:
    """layout.ADDED_COLUMNS (what a reader fills in for an older store) names real columns, each at the value
    a row written without it gets."""
    from mlfootprint.store import tables

    for table, added in ADDED_COLUMNS.items():
        for column, value in added.items():
            spec = tables.TABLES[table].get(column)
            assert spec is not None and spec.default == value, (table, column)
    assert set(CHILD_TABLES) < set(tables.TABLES)
