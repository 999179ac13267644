"""Final records this process is still writing, by store URL.

A run's stop does not wait for a store that is still being opened (see tracker's writer): its record
is safe in a spool file and the writer thread stores it moments later. A reader in the same process
(a test, a notebook cell right after the run) waits for those writes first, so it sees the run.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_pending: dict[str, set[threading.Event]] = {}


def begin(url: str) -> threading.Event:
    done = threading.Event()
    with _lock:
        _pending.setdefault(url, set()).add(done)
    return done


def end(url: str, done: threading.Event) -> None:
    done.set()
    with _lock:
        _pending.get(url, set()).discard(done)


def wait_for(url: str, timeout_s: float = 30.0) -> None:
    """Wait (at most `timeout_s` in all) for this process's pending writes to `url`."""
    deadline = time.monotonic() + timeout_s
    with _lock:
        events = list(_pending.get(url, ()))
    for done in events:
        done.wait(max(0.0, deadline - time.monotonic()))


def clear() -> None:
    """In a forked child: the parent's writers are not ours to wait for."""
    with _lock:
        _pending.clear()
