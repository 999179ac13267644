"""Store locations without importing the database layer: a path or URL, shown without secrets.

This runs on every run's start path (to name the store and its spool folder), so it uses only the
standard library. Secrets are masked by the package's one rule (mlfootprint/urlmask.py): the user
part's password, token-like query keys (`?password=…`, `sslpassword`, `passfile`, as libpq and psycopg
accept), and a URL that cannot be parsed is never echoed whole.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ..urlmask import mask_url

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.S)


def user_data_dir() -> Path:
    """Where per-user data lives (platformdirs' answer; on Linux computed here, as platformdirs does,
    because importing it costs more than a run's start)."""
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.expanduser("~/.local/share")
        return Path(base) / "mlfootprint"
    from platformdirs import user_data_dir as platform_dir

    return Path(platform_dir("mlfootprint", appauthor=False))


def default_store_url() -> str:
    return "sqlite:///" + str(user_data_dir() / "runs.db")


def to_url(store: str | None) -> str:
    """A SQLAlchemy URL for a path or URL (MLFOOTPRINT_STORE when None, else the user's default store)."""
    store = store or os.environ.get("MLFOOTPRINT_STORE") or ""
    if not store:
        return default_store_url()
    if "://" in store:
        return store
    if store == ":memory:" or store.startswith("file::memory:"):  # SQLite's own in-memory names, not a file
        return "sqlite:///" + store  # check_url refuses it (its runs would vanish), rather than make a file
    return "sqlite:///" + str(Path(store).expanduser().resolve())


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for an in-memory database or another backend)."""
    m = _SCHEME.match(url)
    if not m or not m.group(1).lower().startswith("sqlite"):
        return None
    rest = m.group(2).split("?", 1)[0]
    database = rest[1:] if rest.startswith("/") else ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database)


def display_url(url: str) -> str:
    """The URL with every secret masked (urlmask.mask_url), for messages and records."""
    return mask_url(url)


def check_url(url: str) -> None:
    """Refuse store settings that are wrong whatever the store's state: an unparseable URL, or an
    in-memory SQLite database (its runs would vanish with the process)."""
    from ..errors import StoreConfigError

    m = _SCHEME.match(url)
    if not m:
        raise StoreConfigError(f"invalid store URL {display_url(url)!r}: expected a file path or a SQLAlchemy URL "
                               "such as sqlite:///runs.db or postgresql+psycopg://user@host/db")
    try:
        urlsplit(url).port  # a port that is not a number (or a malformed IPv6 host) raises here
    except ValueError:
        raise StoreConfigError(f"invalid store URL {display_url(url)!r}: its host or port cannot be read") from None
    if m.group(1).lower().startswith("sqlite") and sqlite_path(url) is None:
        raise StoreConfigError(f"store {display_url(url)!r} is in memory: its runs would be lost when the process "
                               "exits; give a file path")


def private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents with mode 0700 (mkdir's mode reaches only the last one)."""
    missing = []
    for d in [directory, *directory.parents]:
        if d.exists():
            break
        missing.append(d)
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
