"""One engine per store per process; tests and tools drop them through dispose_engines, not module caches."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mlfootprint.errors import StoreConfigError
from mlfootprint.store import dispose_engines, open_store
from mlfootprint.store.engine import cached_urls


def test_writers_share_an_engine_until_it_is_disposed_and_the_schema_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = open_store(str(path), write=True)
    assert open_store(str(path), write=True).engine is first.engine and first.url in cached_urls()
    open_store(str(path))  # a reader of a SQLite file uses no engine
    assert cached_urls().count(first.url) == 1
    with closing(sqlite3.connect(path)) as con:  # changed behind the package's back
        con.execute("UPDATE mlfootprint_meta SET value = '99'")
        con.commit()
    open_store(str(path), write=True)  # the cached engine trusts its earlier check
    dispose_engines(first.url)
    assert first.url not in cached_urls()
    with pytest.raises(StoreConfigError, match="schema version 99"):
        open_store(str(path), write=True)


def test_a_forked_child_starts_without_the_parent_s_engines(tmp_path: Path) -> None:
    open_store(str(tmp_path / "s.db"), write=True)
    assert cached_urls()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's exit handlers
        os.write(write, str(len(cached_urls())).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    os.close(read)
    dispose_engines()
    assert cached_urls() == []
