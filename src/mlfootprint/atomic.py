"""Write the file the user named, whole or not at all, and nothing else.

A regular file is replaced in one step (written beside it under a name of this process's own, then
renamed over it), so a reader (a browser, node-exporter, the progress relay) never sees half of it.
What is not a regular file is never replaced: a character device or a FIFO the user named
(`-o /dev/stdout`, `-o /dev/null`, a pipe) is written in place; a symbolic link, a folder or any other
kind of file is refused, so a path never leads somewhere else and no device node is ever turned into
a file. Standard library only: the progress relay runs inside the user's training loop.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NotWritable", "write_atomic"]


class NotWritable(OSError):
    """The path names something this module does not write (a symlink, a folder, a socket)."""


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` (see the module docstring for what each kind of path gets)."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISLNK(st.st_mode):
            raise NotWritable(f"{path} is a symbolic link; give the file it points to, or another name")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            return
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise NotWritable(f"{path} is {kind}; give a file name")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
