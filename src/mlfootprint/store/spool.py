"""Spool files: a run's rows on disk when the store cannot take them (yet).

A run writes its rows here when its store is still being opened at stop, is locked, unreachable,
full or gone. Nothing measured is lost: the next process that opens the same store for writing
imports spool files whose owner is gone, and `mlfootprint import FILE…` imports any spool or rescue
file by hand. A file holds only rows the store does not have yet, so importing is idempotent.

Files are JSON (standard: no NaN), written atomically (temporary file, then rename) and private
(mode 0600): they hold command lines and settings.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..record import dumps
from .urls import display_url, private_dirs, sqlite_path, user_data_dir

FORMAT = "mlfootprint-rows/1"
FOREIGN_GRACE_S = 600.0  # a spool file from another host is imported once it is this old


def spool_dirs(url: str) -> list[Path]:
    """Where spool files for `url` go, best first: beside a SQLite store, else the user data dir;
    then the working directory and the temp dir, for when those cannot be written."""
    import tempfile  # not at import: this module is on every run's start path

    path = sqlite_path(url)
    if path is not None:
        first = path.with_name(path.name + ".spool")
    else:
        import hashlib

        first = user_data_dir() / "spool" / hashlib.sha1(display_url(url).encode()).hexdigest()[:12]
    return [first, Path.cwd(), Path(tempfile.gettempdir())]


def write(url: str, payload: dict[str, Any], previous: Path | None = None) -> Path | None:
    """Write (or rewrite) a run's spool file; its path, or None when no folder could be written."""
    data = dumps(dict(payload, format=FORMAT, store=display_url(url), host=hostname(), pid=os.getpid()))
    name = f"mlfootprint-run-{payload['run']['id']}.json"
    candidates = ([previous.parent] if previous else []) + spool_dirs(url)
    import tempfile

    for directory in candidates:
        try:
            private_dirs(directory)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # mode 0600
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            target = directory / name
            os.replace(tmp, target)
            return target
        except OSError:
            try:
                os.unlink(tmp)  # type: ignore[possibly-undefined]
            except (OSError, NameError):
                pass
            continue
    return None


def read(path: str | Path) -> dict[str, Any]:
    from ..errors import MlfootprintError

    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MlfootprintError(f"cannot read {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "run" not in payload:
        raise MlfootprintError(f"{path} is not an mlfootprint spool or rescue file (expected format {FORMAT})")
    return payload


def orphans(url: str) -> list[Path]:
    """Spool files of `url` whose writer is gone: its process ended (this host), or it is old (another host)."""
    directory = spool_dirs(url)[0]
    try:
        files = sorted(directory.glob("mlfootprint-run-*.json"))
    except OSError:
        return []
    found = []
    for f in files:
        try:
            payload = json.loads(f.read_text(encoding="utf-8"))
            age_s = time.time() - f.stat().st_mtime
        except (OSError, ValueError):
            continue
        if payload.get("host") == hostname():
            if not _alive(payload.get("pid")):
                found.append(f)
        elif age_s > FOREIGN_GRACE_S:
            found.append(f)
    return found


def hostname() -> str:
    """This machine's name (socket.gethostname() without importing socket)."""
    return os.uname().nodename if hasattr(os, "uname") else __import__("socket").gethostname()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
