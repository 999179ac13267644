"""Spool files: a run's rows on disk when the store cannot take them (yet).

A run writes its rows here when its store is still being opened at stop, is locked, unreachable,
full or gone. Nothing measured is lost: the next process that opens the same store for writing
imports spool files whose owner is gone, and `mlfootprint import FILE…` imports any spool or rescue
file by hand. A file holds only rows the store does not have yet, so importing is idempotent.

Files are JSON (standard: no NaN), written atomically (temporary file, then rename) and private
(mode 0600): they hold command lines and settings. Reading one checks it before anything is stored
(`read`): a regular file of at most MAX_FILE_BYTES (a device, a FIFO or a huge file is refused before
it is read), standard JSON nested at most as deep as the parser allows, and rows of the shape the
store takes (store/fit.py). What is wrong is said in one line naming the file.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from .urls import display_url, private_dirs, sqlite_path, user_data_dir

FORMAT = "mlfootprint-rows/1"
FOREIGN_GRACE_S = 600.0  # a spool file from another host is imported once it is this old
# The largest file `read` takes. A week of a store outage for a run sampled every second on three channels
# is 1.8 million samples, about 120 bytes each in JSON: ~220 MB. Parsing takes several times the file's
# size in memory, so a larger file is refused rather than risk the machine.
MAX_FILE_BYTES = 512 * 1024 * 1024
HEAD_BYTES = 4096  # the header (format, store, host, pid) is written first: orphans() reads only this much


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
    from ..record import dumps  # not at import: a reader's liveness check uses this module's hostname()

    header = {"format": FORMAT, "store": display_url(url), "host": hostname(), "pid": os.getpid()}
    data = dumps(dict(header, **{k: v for k, v in payload.items() if k not in header}))
    name = f"mlfootprint-run-{payload['run']['id']}.json"
    candidates = ([previous.parent] if previous else []) + spool_dirs(url)
    import tempfile

    for directory in candidates:
        tmp: str | None = None
        try:
            private_dirs(directory)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # mode 0600
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            target = directory / name
            os.replace(tmp, target)
            return target
        except OSError:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            continue
    return None


def read(path: str | Path) -> dict[str, Any]:
    """A spool or rescue file's payload, checked (see the module); MlfootprintError saying what is wrong."""
    from ..errors import MlfootprintError

    text = _read_text(Path(path), MAX_FILE_BYTES)
    try:
        payload = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise MlfootprintError(f"{path} is not a spool or rescue file: its JSON is nested too deeply") from None
    except ValueError as exc:
        raise MlfootprintError(f"cannot read {path}: {exc}") from None
    del text
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "run" not in payload:
        raise MlfootprintError(f"{path} is not an mlfootprint spool or rescue file (expected format {FORMAT})")
    from .fit import check_payload  # the store's columns (SQLAlchemy): only once a file is to be stored

    return check_payload(payload, str(path))


def _read_text(path: Path, limit: int) -> str:
    """The file's text, if it is a regular file of at most `limit` bytes. Opened without blocking (a FIFO
    would wait for a writer) and checked on the open descriptor, so it cannot be swapped in between."""
    from ..errors import MlfootprintError

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MlfootprintError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MlfootprintError(f"{path} is not a regular file (a folder, device or pipe): give a spool or "
                                   "rescue file")
        if st.st_size > limit:
            raise MlfootprintError(f"{path} is {st.st_size / 2**20:.0f} MiB, over the {limit // 2**20} MiB a spool "
                                   "file may have (parsing it would take several times that in memory)")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = f.read(limit + 1)
    except OSError as exc:
        raise MlfootprintError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise MlfootprintError(f"{path} grew over the {limit // 2**20} MiB a spool file may have while it was read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MlfootprintError(f"cannot read {path}: it is not UTF-8 text") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number standard JSON allows")


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
            host, pid = _writer_of(f)
            age_s = time.time() - f.stat().st_mtime
        except (OSError, ValueError, RecursionError):
            continue
        if host == hostname():
            if not _alive(pid):
                found.append(f)
        elif age_s > FOREIGN_GRACE_S:
            found.append(f)
    return found


def _writer_of(path: Path) -> tuple[Any, Any]:
    """(host, pid) of a spool file's writer, from its first fields when the header comes first (files
    of this version: a large file is not parsed whole), else from the whole file."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES).decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    fields: dict[str, Any] = {}
    try:
        i = _skip(head, head.index("{") + 1)
        while head[i] == '"' and len(fields) < 4:  # "format", "store", "host", "pid"
            key, i = decoder.raw_decode(head, i)
            i = _skip(head, i)
            value, i = decoder.raw_decode(head, _skip(head, i + 1)) if head[i] == ":" else (None, -1)
            if i < 0:
                break
            fields[key] = value
            i = _skip(head, i)
            i = _skip(head, i + 1) if head[i] == "," else i
    except (ValueError, IndexError):
        pass
    if fields.get("format") == FORMAT and "host" in fields and "pid" in fields:
        return fields["host"], fields["pid"]
    payload = json.loads(path.read_text(encoding="utf-8"))
    return (payload.get("host"), payload.get("pid")) if isinstance(payload, dict) else (None, None)


def _skip(text: str, i: int) -> int:
    """The index of the first character at or after `i` that is not JSON white space."""
    while text[i] in " \t\r\n":
        i += 1
    return i


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
