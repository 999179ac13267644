"""Persistence of one run, off the host's path: a writer thread owns the store.

Why a thread of its own: opening a store (importing the database layer, creating or migrating the
schema, waiting for a lock another process holds) takes from milliseconds to seconds, and none of it
may land on the training loop or on the sampler. So:

* `start()` returns at once; the writer opens the store, creates the run row, and from then on writes
  what the meter measured every `flush_interval_s`.
* `finish()` hands over the final record. If the store is open and healthy it waits for the write
  (normally milliseconds). If the store is still being opened, is locked, unreachable, full or was
  deleted, the record goes to a spool file at once (store/spool.py) and the writer keeps trying in
  the background until the process exits; the spool file is removed once the store has the run.
* Nothing here raises into the host. A store that fails is reported once, with where the data went.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .record import RunRows, SampleRow
from .store import pending, spool
from .store.rollup import ROLLUP_EVERY_S, TIERS
from .store.urls import display_url, sqlite_path

log = logging.getLogger("mlfootprint")

FINAL_WAIT_S = 15.0  # longest stop() waits for an open store's final write before spooling instead
PERIODIC_SPOOL_S = 60.0  # while the store fails, the spool file is rewritten at most this often (and at the end)
EXIT_WAIT_S = 10.0  # longest the interpreter's exit waits for writers still storing final records

class RunRecorder:
    """Writes one run's rows. `snapshot(drain)` returns the current rows (the whole run row, components,
    samples not yet handed over, phases, values, windows); with drain=False it leaves the samples with
    the meter (the host side peeks at them for a spool file; only the writer takes them)."""

    def __init__(self, run_id: str, url: str, snapshot: Callable[[bool], RunRows], flush_interval_s: float,
                 after_flush: Callable[[], None] | None = None) -> None:
        self.run_id, self.url, self.flush_interval_s = run_id, url, flush_interval_s
        self._after_flush = after_flush  # the outputs' flush (outputs/): the store sets the cadence
        self._snapshot = snapshot
        self._wake = threading.Event()
        self._final_requested = False
        self._final_done = threading.Event()  # stored, or given up on (then it is in the spool file)
        self._handed_over = threading.Event()  # the final record is stored or spooled: the host may go on
        self._store: Any = None
        self._store_ready = threading.Event()
        # clear while the writer imports what it needs: a fork while a thread is mid-import leaves the
        # child a module lock owned by a thread that does not exist there (a hang), so fork waits for it
        self.not_importing = threading.Event()
        self.not_importing.set()
        self.error: str | None = None  # the first store failure, as shown to the user
        self.spool_path: Path | None = None  # where unsaved rows are, while the store lacks them
        self._unsaved_samples: list[SampleRow] = []
        self._created = False
        self.io_lock = threading.Lock()  # held during every store transaction (fork waits for it)
        self._pending = pending.begin(url)
        self._thread = threading.Thread(target=self._loop, name=f"mlfootprint-writer-{run_id}", daemon=True)
        self._sqlite_inode: tuple[int, int] | None = None
        self._spool_lock = threading.Lock()  # the host's spool and the writer's final write, one at a time
        self._spooled_at = float("-inf")
        self._rolled_at = time.monotonic()  # the last rollup of old samples, and the run time it covered
        self._rolled_to = 0.0

    def start(self) -> None:
        self._thread.start()

    # -- host side ---------------------------------------------------------------------------
    def finish(self) -> bool:
        """Hand over the final record; True once it is in the store (else it is in `spool_path`)."""
        self._final_requested = True
        self._wake.set()
        if not self._store_ready.is_set() or self.error:
            # the store is not open yet (or failing): keep the record safe on disk now, store it later
            with self._spool_lock:
                if not self._final_done.is_set():
                    self._spool(self._rows(drain=False))
            return self.stored
        if not self._handed_over.wait(FINAL_WAIT_S):
            with self._spool_lock:
                if not self._final_done.is_set():
                    self._spool(self._rows(drain=False))
        return self.stored

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the final record is stored (or given up on); True if it reached the store."""
        self._final_done.wait(timeout_s)
        return self._final_done.is_set() and self.spool_path is None

    def report_unstored(self) -> None:
        """At exit, for a record the store has not taken in time: say where it is (once)."""
        if not self._final_done.is_set() and self.spool_path is not None:
            log.warning("mlfootprint: run %s is not in %s yet (%s); its record is in %s: the next run that writes "
                        "to this store imports it, or 'mlfootprint import %s' now", self.run_id,
                        display_url(self.url), self.error or "the store did not answer in time",
                        self.spool_path, self.spool_path)

    @property
    def stored(self) -> bool:
        return self._final_done.is_set() and self.spool_path is None

    # -- writer thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            # opened at once, in the background: a process that ends with os._exit (multiprocessing
            # workers) gets no exit-time write, so the store should be ready by the run's end
            self._open()
            while not self._final_requested:
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                if self._final_requested:
                    break
                self._save(final=False)
                if self._after_flush is not None:
                    self._after_flush()  # Outputs never raise
            self._save(final=True, retry_until=time.monotonic() + EXIT_WAIT_S)
        except Exception as exc:  # never let the writer die silently with data in memory
            self._fail(f"{type(exc).__name__}: {exc}")
            self._spool(self._rows(drain=True))
        finally:
            self.not_importing.set()
            with self._spool_lock:
                self._final_done.set()
            self._handed_over.set()
            pending.end(self.url, self._pending)
            if self.spool_path is not None:
                log.warning("mlfootprint: run %s could not be stored in %s (%s); its record is in %s "
                            "('mlfootprint import %s' stores it later)", self.run_id, display_url(self.url),
                            self.error or "store not reached in time", self.spool_path, self.spool_path)

    def _open(self) -> None:
        self.not_importing.clear()
        try:
            self._snapshot(False)  # first the impact model's tables (small; a stop soon after needs them)
            # then the database layer (large), the writer's modules included, while fork waits for us
            from .store import load_driver, open_store, writer  # noqa: F401

            load_driver(self.url)
        finally:
            self.not_importing.set()
        for attempt in range(3):
            try:
                self._store = open_store(self.url, write=True)
                break
            except Exception as exc:
                from .errors import StoreConfigError

                if isinstance(exc, StoreConfigError) or attempt == 2:
                    self._fail(str(exc))
                    self._store_ready.set()
                    return
                time.sleep(0.2 * (attempt + 1))
        self._remember_file()
        self._store_ready.set()
        self._import_orphans()
        try:  # runs whose process died are recorded as interrupted, not left running (store/liveness.py)
            with self.io_lock:
                self._store.mark_dead_runs()
        except Exception as exc:
            log.warning("mlfootprint: could not record dead runs as interrupted in %s (%s)", display_url(self.url), exc)

    def _save(self, *, final: bool, retry_until: float | None = None) -> None:
        rows = self._rows(drain=True)
        while True:
            if self._store is not None and self._write(rows):
                with self._spool_lock:
                    if self.spool_path is not None:
                        _unlink(self.spool_path)
                        self.spool_path = None
                    if final:
                        self._final_done.set()
                return
            if final or time.monotonic() - self._spooled_at >= PERIODIC_SPOOL_S:
                self._spool(rows)  # while a store is down, a long run's file is not rewritten every flush
                self._spooled_at = time.monotonic()
            if final:
                self._handed_over.set()
            if not final or retry_until is None or time.monotonic() >= retry_until or self._store is None:
                return
            time.sleep(0.5)

    def _write(self, rows: RunRows) -> bool:
        try:
            self._check_file()
            payload = rows.payload()
            with self.io_lock:
                if not self._created:
                    self._store.create_run(payload["run"])
                    self._created = True
                fields = {k: v for k, v in payload["run"].items() if k != "id"}
                self._store.save_measured(self.run_id, fields, payload["components"], payload["samples"])
                self._unsaved_samples = []
                self._maybe_rollup(rows)
                try:
                    self._store.save_derived(self.run_id, payload["phases"], payload["values"], payload["windows"])
                except Exception as exc:  # measured data is in; derived rows come again next flush
                    self._warn_once("derived", f"could not store phases/metrics of run {self.run_id} ({exc}); "
                                               "measured energy is stored")
            if self.error:
                log.warning("mlfootprint: the store %s works again; run %s is up to date", display_url(self.url),
                            self.run_id)
                self.error = None
            return True
        except Exception as exc:
            self._fail(str(exc))
            return False

    def _maybe_rollup(self, rows: RunRows) -> None:
        """Keep a long run's samples bounded (store/rollup.py); a failure only delays it."""
        run = rows.run
        if run.duration_s < TIERS[0][0] or time.monotonic() - self._rolled_at < ROLLUP_EVERY_S:
            return
        self._rolled_at = time.monotonic()
        try:
            self._store.rollup_samples(self.run_id, float(run.interval_s or 1.0),
                                       since_t_s=max(0.0, self._rolled_to - TIERS[-1][1]))
            self._rolled_to = float(run.duration_s) - TIERS[0][0]
        except Exception as exc:
            self._warn_once("rollup", f"could not roll up old samples of run {self.run_id} ({exc}); they are kept "
                                      "at full resolution")

    def _rows(self, *, drain: bool) -> RunRows:
        """Every row not yet stored: the samples of failed writes, then the meter's new ones (drain:
        taken from the meter, which only the writer thread does)."""
        rows = self._snapshot(drain)
        if drain:
            self._unsaved_samples += rows.samples
            return replace(rows, samples=list(self._unsaved_samples))
        return replace(rows, samples=list(self._unsaved_samples) + rows.samples)

    def _spool(self, rows: RunRows) -> None:
        path = spool.write(self.url, rows.payload(), self.spool_path)
        if path is not None:
            self.spool_path = path
        else:
            self._warn_once("spool", f"run {self.run_id}: neither the store nor any folder could take its record")

    def _fail(self, message: str) -> None:
        if self.error is None:
            log.warning("mlfootprint: run %s: the store %s failed (%s); measuring continues and the data are kept in "
                        "a spool file until the store takes them", self.run_id, display_url(self.url), message)
        self.error = message

    _warned: set[tuple[str, str]] = set()

    def _warn_once(self, key: str, message: str) -> None:
        if (self.run_id, key) not in RunRecorder._warned:
            RunRecorder._warned.add((self.run_id, key))
            log.warning("mlfootprint: %s", message)

    def _remember_file(self) -> None:
        path = sqlite_path(self.url)
        if path is not None:
            try:
                st = path.stat()
                self._sqlite_inode = (st.st_dev, st.st_ino)
            except OSError:
                pass

    def _check_file(self) -> None:
        """A SQLite file deleted (or replaced) during the run would swallow every later write unseen."""
        if self._sqlite_inode is None:
            return
        path = sqlite_path(self.url)
        try:
            st = path.stat()  # type: ignore[union-attr]
            same = (st.st_dev, st.st_ino) == self._sqlite_inode
        except OSError:
            same = False
        if not same:
            self._store = None
            self._sqlite_inode = None
            raise OSError(f"the store file {path} was deleted or replaced during the run")

    def _import_orphans(self) -> None:
        """Spool files left by runs whose process died before their store took them."""
        for path in spool.orphans(self.url):
            claimed = path.with_name(path.name + f".importing-{os.getpid()}")
            try:
                os.rename(path, claimed)  # atomic: one importer per file
            except OSError:
                continue
            try:
                with self.io_lock:
                    run_id, added = self._store.import_rows(spool.read(claimed))
                _unlink(claimed)
                log.info("mlfootprint: imported run %s (%d samples) from %s", run_id, added, path)
            except Exception as exc:
                log.warning("mlfootprint: could not import %s (%s); it stays for 'mlfootprint import'", path, exc)
                try:
                    os.rename(claimed, path)
                except OSError:
                    pass


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
