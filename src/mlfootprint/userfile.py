"""Reading a file the user names (an intensity CSV, a result JSON, a config file): a regular file of a
bounded size, or one line that says why not.

Why not `Path.read_text()`: a path can name a device that never ends (`/dev/zero`: read whole, it
exhausts memory before the command starts), a FIFO nobody writes to (`open()` waits for a writer
forever), or a file far larger than any input of its kind. So the file is opened without blocking
(O_NONBLOCK: a FIFO does not wait for a writer), checked to be a regular file on the descriptor that
is read (fstat, so it cannot be swapped between the check and the read), and read up to a limit.

Standard library only: the intensity CSV is read on a run's start path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import MlfootprintError

__all__ = ["MAX_INPUT_BYTES", "UserFileError", "read_bytes", "read_text"]

MAX_INPUT_BYTES = 64 * 1024 * 1024  # default bound: ten years of 5-minute intensity rows are about 40 MB


class UserFileError(MlfootprintError):
    """A file the user named is not a regular file, is too large, or cannot be read."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


def read_bytes(path: str | Path, what: str, limit_bytes: int = MAX_INPUT_BYTES,
               error: type[MlfootprintError] = UserFileError) -> bytes:
    """The content of the regular file `path` ("{what} {path}" names it in errors), at most `limit_bytes`;
    `error` (a MlfootprintError subclass) with one line otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"cannot read {what} {path}: it is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit_bytes:
            raise error(f"{what} {path} is {_size(st.st_size)}, more than the {_size(limit_bytes)} accepted")
        chunks: list[bytes] = []
        total = 0
        while True:  # read to the end, never past the limit (the file may grow while it is read)
            chunk = os.read(fd, min(1 << 20, limit_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit_bytes:
                raise error(f"{what} {path} is more than the {_size(limit_bytes)} accepted")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str | Path, what: str, limit_bytes: int = MAX_INPUT_BYTES,
              error: type[MlfootprintError] = UserFileError, encoding: str = "utf-8") -> str:
    """`read_bytes` decoded; text that is not `encoding` is the same one-line `error`."""
    data = read_bytes(path, what, limit_bytes, error)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what} {path}: it is not {encoding} text (byte {exc.start})") from None
