"""Running a command under the meter (`track`, `serve`): signals passed on, no orphan left behind.

The wrapper passes signals on to the command instead of dying of them (and leaving it orphaned);
Linux's PR_SET_PDEATHSIG sends the command SIGTERM even if the wrapper is SIGKILLed; as a subreaper
the wrapper sees background processes that outlive the command.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from ..errors import MlfootprintError

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def check_interpreter(program: str) -> None:
    """A script whose #! interpreter is missing: refused before anything starts (exec would only say ENOENT)."""
    path = shutil.which(program) or program
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return
    if first.startswith(b"#!"):
        parts = first[2:].strip().split()
        if parts and not os.path.exists(parts[0].decode(errors="replace")):
            raise MlfootprintError(f"cannot run {program!r}: its interpreter {parts[0].decode(errors='replace')!r} "
                                   "(the #! line) was not found")


def why_not_run(exc: OSError, program: str) -> str:
    """An OSError from exec, in words: a script whose #! interpreter is missing says ENOENT too."""
    import errno

    if exc.errno == errno.ENOENT and os.path.exists(shutil.which(program) or program):
        return "its interpreter (the #! line) was not found"
    if exc.errno == errno.ENOEXEC:
        return "it is not an executable program (no #! line?)"
    return exc.strerror or str(exc)


def die_with_parent() -> Any:
    """A preexec function asking Linux to SIGTERM the command if this wrapper dies (even by SIGKILL).

    Resolved before fork: in the child it only makes one system call (no import, no lock)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)
    return lambda: prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)


def become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def background_left() -> list[int]:
    """Processes of the command's tree still running after it exited (reparented to us)."""
    import psutil

    try:
        return [p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []


def terminate(child: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM now, SIGKILL after `grace_s` if it is still running (from a timer thread)."""
    import threading

    try:
        child.terminate()
    except ProcessLookupError:
        return
    timer = threading.Timer(grace_s, lambda: child.poll() is None and child.kill())
    timer.daemon = True
    timer.start()


class SignalRelay:
    """Passes signals on to the command (SIGINT only when no terminal already sent it to it); those
    that arrive before it has started are delivered once it has."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.early: list[int] = []
        self.previous = {s: signal.signal(s, self._forward) for s in FORWARDED}

    def _forward(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and terminal_sends_sigint_to_child():
            return
        if self.child is None:
            self.early.append(signum)
            return
        try:
            self.child.send_signal(signum)
        except ProcessLookupError:
            pass

    def wait(self, child: subprocess.Popen[bytes]) -> int:
        self.child = child
        for signum in self.early:
            self._forward(signum, None)
        try:
            return child.wait()
        finally:
            self.restore()

    def restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def terminal_sends_sigint_to_child() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False
