"""Measuring a model server from outside it: the loop `mlfootprint serve` runs, usable from Python.

    with mlfootprint.track(project="my-server") as run:
        monitor = ServerMonitor(run, url, counters, serve_config(url, counters, window_s=10))
        monitor.run_until(duration_s=600)          # or until the server process ends, or stop() is called

Every `POLL_S` the server's counters are read; every `window_s` a window closes: the energy the run
measured since the last window (the meter is sampled at that moment) is paired with the counters'
increase (windows.py). When the loop ends, the last partial window closes at the last read, and the
estimate beside the measurement (estimate.py) is computed once and kept with the run.

An endpoint that does not answer, answers an error, or answers something that is not a counter is
reported once, at the first failure (and in the record), measuring goes on; a run that never read a
counter says so at its end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..extras import need
from ..urlmask import mask_text, mask_url
from .estimate import estimate_beside
from .figures import ServeConfig, busy_energy_j
from .scrape import Reading, Selector, fetch, read_series
from .windows import WindowCounter

if TYPE_CHECKING:
    from ..command import CommandResult
    from ..tracker import Run, track

log = logging.getLogger("mlfootprint")

POLL_S = 1.0  # counters are read this often, so a server that stops loses at most this much of its last window
FIRST_POLL_S = 0.05  # until the endpoint first answers: the first window then starts within this of the server
NEEDS = ("measuring a server (its Prometheus counters are parsed by prometheus_client)", "prometheus")

__all__ = ["FIRST_POLL_S", "NEEDS", "POLL_S", "ServerMonitor", "measure_server", "serve_config"]


def serve_config(url: str, selectors: list[Selector], window_s: float, *, preset: str | None = None,
                 attached_pid: int | None = None, model: str | None = None, model_params: float | None = None,
                 hardware: str | None = None, layers: int | None = None, d_model: int | None = None,
                 kv_dim: int | None = None, batch: int | None = None, prompt_tokens: float | None = None,
                 tokens_per_request: float | None = None) -> ServeConfig:
    """What a run of a served model records about its counters and model; the URL is masked (no password
    or token is ever stored). A catalogue `model` gives the size and shape the flags leave out."""
    spec = None
    if model is not None:
        from ..estimate.models import get as get_model

        spec = get_model(model)
    return ServeConfig(
        metrics_url=mask_url(url), requests_counter=str(selectors[0]),
        tokens_counter=str(selectors[1]) if len(selectors) > 1 else None, preset=preset, window_s=window_s,
        attached_pid=attached_pid, model_params=model_params or (spec.params if spec else None), hardware=hardware,
        model_active_params=spec.active_params if spec else None,
        model_layers=layers or (spec.layers if spec else None), model_d_model=d_model or (spec.d_model if spec else None),
        model_kv_dim=kv_dim or (spec.kv_dim if spec else None), batch=batch,
        model_expert_share=spec.expert_share if spec else None, prompt_tokens=prompt_tokens,
        tokens_per_request=tokens_per_request)


class ServerMonitor:
    """Reads a server's counters beside `run` and closes windows on it. `url` is the real endpoint (it may
    carry credentials); `config` is what the record keeps (serve_config masks its URL). `launched`: the
    server starts inside this run, so its counters count from zero (nothing it answered is lost before
    the first read); an attached server's counters count from the first read."""

    def __init__(self, run: Run, url: str, selectors: list[Selector], config: ServeConfig,
                 poll_s: float = POLL_S, *, launched: bool = False) -> None:
        need(*NEEDS)
        self.run, self.url, self.selectors, self.config = run, url, selectors, config
        self.window_s = config.window_s or 10.0
        self.poll_s = min(poll_s, self.window_s)
        self._counter = WindowCounter(from_zero=launched)
        self._latest: tuple[float, float, Reading] | None = None  # the last read, with the run's time and energy
        self._stop = threading.Event()
        self._warned: set[str] = set()
        self._reads = 0
        self._first_error: str | None = None
        self._failures = 0

    def stop(self) -> None:
        """End the loop at its next poll (safe from a signal handler or another thread)."""
        self._stop.set()

    def run_until(self, duration_s: float | None = None, ended: Callable[[], bool] | None = None) -> bool:
        """Poll until `ended()` says the server is gone (returns False), `duration_s` has passed or stop() was
        called (True: the caller may stop the server). The last window closes at the last read."""
        start = time.monotonic()
        deadline = start + duration_s if duration_s is not None else float("inf")
        next_window = start
        while True:
            if self._stop.is_set():
                return self._finish(True)
            if ended is not None and ended():
                return self._finish(False)
            now = time.monotonic()
            if now >= deadline:
                return self._finish(True)
            boundary = now >= next_window or self._counter.last_t_s is None
            if self._poll(boundary) and boundary:
                next_window = now + self.window_s
            poll_s = self.poll_s if self._reads else min(self.poll_s, FIRST_POLL_S)
            self._stop.wait(max(0.0, min(poll_s, deadline - time.monotonic())))

    def _poll(self, boundary: bool) -> bool:
        """One read; at a window boundary the meter is sampled first and the window closed. True if read."""
        try:
            reading = read_series(fetch(self.url, timeout_s=min(5.0, self.window_s)), self.selectors)
        except Exception as exc:  # not up yet, or a bad answer: the window grows until the next read
            self._failures += 1
            message = mask_text(f"{type(exc).__name__}: {exc}", self.url)
            if self._first_error is None:
                self._first_error = message
                self._note(f"the metrics endpoint {mask_url(self.url)} did not answer with counters ({message}); "
                           "measuring goes on, windows grow until it does")
            return False
        self._reads += 1
        if reading.dropped:
            self._note(f"the metrics at {mask_url(self.url)} hold values a counter cannot have "
                       f"({'; '.join(reading.dropped_examples)}): they are skipped, each series is counted from its "
                       "next valid value")
        for sel, values in zip(self.selectors, reading.series):
            if values is None:
                self._note(f"the metrics at {mask_url(self.url)} have no series named {sel}: it is not counted "
                           "(check --requests-counter / --tokens-counter)")
        live = self.run.sample_now() if boundary else self.run.snapshot()
        self._latest = (live.t_s, live.energy_j, reading)
        if boundary:
            self._close(self._latest)
        return True

    def _close(self, latest: tuple[float, float, Reading]) -> None:
        window = self._counter.observe(*latest)
        if window is not None:
            self.run.add_window(window.t_s, window.duration_s, window.energy_j, window.requests, window.tokens)

    def _finish(self, result: bool) -> bool:
        latest = self._latest
        if latest is not None and self._counter.last_t_s is not None and latest[0] > self._counter.last_t_s:
            self._close(latest)
        if self._reads == 0:
            self._note(f"no counter was read from {mask_url(self.url)} in {self._failures} tries"
                       + (f" (first error: {self._first_error})" if self._first_error else "")
                       + ": the run has energy but no serving figures")
        windows = self.run.record.serving
        if windows is not None:
            self.run.set_serving_estimate(estimate_beside(self.config, windows.requests, windows.tokens,
                                                          busy_energy_j(windows.series)))
        return result

    def _note(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.run.warnings.append(message)
            log.warning("mlfootprint: %s", message)



def measure_server(tracker: track, url: str, selectors: list[Selector], config: ServeConfig, *,
                   command: Sequence[str] | None = None, pid: int | None = None,
                   duration_s: float | None = None) -> CommandResult:
    """Run the server `command` (or attach to the running process `pid`) under `tracker`'s run and measure
    it until it ends, `duration_s` passes, or SIGINT/SIGTERM (passed on to a server we started; an
    attached one is left running). What `mlfootprint serve` does."""
    import signal
    import subprocess

    import psutil

    from ..command import (CommandResult, SignalRelay, become_subreaper, check_command, child_environment,
                           die_with_parent, terminate, why_not_run)
    from ..errors import MlfootprintError
    from ..tracker import RunState

    if bool(command) == (pid is not None):
        raise MlfootprintError("give the server to run after -- , or --pid of a running one (not both)")
    need(*NEEDS)  # before the server starts
    if command:
        check_command(command)
    elif pid is not None and not _pid_exists(pid):
        raise MlfootprintError(f"--pid {pid}: no such process")
    run = tracker.start()
    monitor = ServerMonitor(run, url, selectors, config, launched=bool(command))
    child: subprocess.Popen[bytes] | None = None
    relay = None
    exit_code = 0
    previous: dict[signal.Signals, Any] = {}
    try:
        if command:
            become_subreaper()
            relay = SignalRelay()
            try:
                child = subprocess.Popen(list(command), env=child_environment(run, tracker.given_settings()),
                                         preexec_fn=die_with_parent())
            except OSError as exc:
                relay.restore()
                run.stop(RunState.FAILED, 127)
                raise MlfootprintError(f"cannot run {command[0]!r}: {why_not_run(exc, command[0])}") from None
            relay.child = child
            server = child

            def ended() -> bool:
                return server.poll() is not None
        else:  # attached: our own SIGINT/SIGTERM end the measurement, not the server
            for s in (signal.SIGINT, signal.SIGTERM):
                previous[s] = signal.signal(s, lambda *_: monitor.stop())
            attached = pid

            def ended() -> bool:
                return attached is None or not psutil.pid_exists(attached)
        stopping = monitor.run_until(duration_s, ended)
        if child is not None:
            if stopping:
                terminate(child)
            rc = child.wait()
            # stopped by us (--duration) or by SIGINT/SIGTERM passed on to it: a server's normal end
            exit_code = 0 if rc in (-signal.SIGTERM, -signal.SIGINT) else (rc if rc >= 0 else 128 - rc)
    finally:
        if relay is not None:
            relay.restore()
        for s, handler in previous.items():
            signal.signal(s, handler)
    run.stop(RunState.COMPLETED if exit_code == 0 else RunState.FAILED, exit_code if command else None)
    return CommandResult(run, exit_code, ())


def _pid_exists(pid: int) -> bool:
    """psutil.pid_exists, for any integer a user can type (one too large for the OS is no process)."""
    import psutil

    try:
        return bool(psutil.pid_exists(pid))
    except (OverflowError, ValueError):
        return False
