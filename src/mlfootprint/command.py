"""Running a command under the meter (`mlfootprint track`, `serve`): what a wrapper does, as a library.

    result = run_command(["python", "train.py"], track(project="demo", country="FR"))
    result.run.record, result.exit_code

The command always runs once the settings are valid. The wrapper passes signals on to the command
instead of dying of them (and leaving it orphaned); a signal the wrapper was started with ignored
(`cmd &` in a script ignores SIGINT) stays ignored for the command; Linux's PR_SET_PDEATHSIG sends the
command SIGTERM even if the wrapper is SIGKILLed; as a subreaper the wrapper sees background processes
that outlive the command. The command's environment names the run (tracker.PARENT_ENV), so a run the
command starts itself is nested in it, and carries the settings given here, so that run is stored and
charged where this one is.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import MlfootprintError

if TYPE_CHECKING:
    from .tracker import Run, track

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _check_interpreter(program: str) -> None:
    """A script whose #! interpreter is missing: refused before anything starts (exec would only say ENOENT)."""
    path = shutil.which(program) or program
    try:  # without blocking: a FIFO named as the program must not hold the start (exec refuses it anyway)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return
    try:
        first = os.read(fd, 256).split(b"\n", 1)[0] if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return
    finally:
        os.close(fd)
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


def _background_left() -> list[int]:
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
    def kill() -> None:
        if child.poll() is None:
            child.kill()

    timer = threading.Timer(grace_s, kill)
    timer.daemon = True
    timer.start()


class SignalRelay:
    """Passes signals on to the command (SIGINT only when no terminal already sent it to it); those
    that arrive before it has started are delivered once it has. A signal ignored when the wrapper started
    is left ignored: the command inherits that, as it would have without the wrapper."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.early: list[int] = []
        self.previous = {s: signal.signal(s, self._forward) for s in FORWARDED
                         if signal.getsignal(s) is not signal.SIG_IGN}

    def _forward(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and _terminal_sends_sigint_to_child():
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


def _terminal_sends_sigint_to_child() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


@dataclass(frozen=True)
class CommandResult:
    run: Run
    exit_code: int  # the command's (128 + N when a signal N ended it; 127 when it could not start)
    left_behind: tuple[int, ...]  # pids of background processes that outlived it (measured until it ended)


def check_command(command: Sequence[str]) -> None:
    """Refuse, before anything starts, a command that cannot run (one line, MlfootprintError)."""
    if not command:
        raise MlfootprintError("no command given: write it after --, e.g. mlfootprint track -- python train.py")
    if os.sep not in command[0] and shutil.which(command[0]) is None:
        raise MlfootprintError(f"cannot run {command[0]!r}: no such command on PATH")
    _check_interpreter(command[0])


def child_environment(run: Run, settings: Mapping[str, Any]) -> dict[str, str]:
    """The command's environment: the run it is nested in, and the settings given to the wrapper (a
    run the command starts is then stored and charged where the wrapper's is)."""
    from .config import ENV_PREFIX
    from .tracker import parent_environment

    env = dict(os.environ, **parent_environment(run))
    for name in ("country", "region", "pue", "wue", "renewable_share", "price_per_kwh", "currency",
                 "instance_price_per_hour", "intensity_csv", "store", "job"):
        value = settings.get(name)
        if value is not None:
            env.setdefault(ENV_PREFIX + name.upper(), str(value))
    return env


def run_command(command: Sequence[str], tracker: track, *, epochs: int | None = None,
                on_started: Callable[[Run, subprocess.Popen[bytes]], None] | None = None) -> CommandResult:
    """Run `command` under `tracker`'s run, to its end; its output streams through. `epochs` is the total
    the command's `mlfootprint.report_progress(step)` counts towards (a progress bar and forecast)."""
    from .progress import ENV_VAR, read_progress
    from .tracker import RunState

    check_command(command)
    run = tracker.start()
    progress_dir = tempfile.mkdtemp(prefix="mlfootprint-")
    progress_file = os.path.join(progress_dir, "progress")
    become_subreaper()  # orphaned grandchildren come back to us, so we can tell they outlived the command
    relay = SignalRelay()  # installed before the command starts: no signal may kill us before it is passed on
    try:
        env = dict(child_environment(run, tracker.given_settings()), **{ENV_VAR: progress_file})
        try:
            child = subprocess.Popen(list(command), env=env, preexec_fn=die_with_parent())
        except OSError as exc:
            relay.restore()
            run.stop(RunState.FAILED, 127)
            raise MlfootprintError(f"cannot run {command[0]!r}: {why_not_run(exc, command[0])}") from None

        def relay_progress(_run: Any = None) -> None:
            reported = read_progress(progress_file)
            if reported is not None:
                run.progress(reported[0], reported[1] or epochs)

        run.add_tick_callback(relay_progress)
        run.on_over_budget(lambda: terminate(child))
        if on_started is not None:
            on_started(run, child)
        rc = relay.wait(child)
        relay_progress()  # the last report may have landed after the last tick
    finally:
        shutil.rmtree(progress_dir, ignore_errors=True)
    exit_code = rc if rc >= 0 else 128 - rc
    killed = rc in (-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP)
    left = tuple(_background_left())
    if left:
        run.warnings.append(f"{len(left)} background process(es) started by the command outlived it (pids "
                            f"{', '.join(map(str, left[:5]))}): they were measured only until the command ended")
    run.stop(RunState.COMPLETED if rc == 0 else RunState.INTERRUPTED if killed else RunState.FAILED, exit_code)
    return CommandResult(run, exit_code, left)


__all__ = ["FORWARDED", "CommandResult", "SignalRelay", "become_subreaper", "check_command", "child_environment",
           "die_with_parent", "run_command", "terminate", "why_not_run"]
