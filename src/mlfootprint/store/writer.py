"""Writing a run store: a run's rows as it goes, imported copies of runs, and dead runs recorded.

Opening a Writer creates the store if needed and upgrades an older one (migrations.py), once per
store per process. Every method is one transaction (SQLite: BEGIN IMMEDIATE, see engine.py), so
concurrent writers queue instead of failing halfway. Values a column cannot hold are stored as NULL
with a warning in the run's record (fit.py), never left to make the run unstorable. Combining copies
of a run (import of a spool or rescue file, merge of stores) never moves it back (recency.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..errors import StoreConfigError, StoreError
from ..record import clean_rows
from .engine import get_engine
from .failures import open_failed, query_failed
from .fit import fit_row, with_warnings
from .liveness import is_dead
from .migrations import prepare
from .recency import is_newer
from .schema import components, phases, run_values, runs, samples, serving_windows
from .urls import check_url, display_url, sqlite_path

__all__ = ["SAMPLE_BATCH", "Writer"]

SAMPLE_BATCH = 5000  # samples per INSERT: a large import's rows are handed to the driver a batch at a time
T = TypeVar("T")
Conn = Any  # a SQLAlchemy Connection inside a transaction


class Writer:
    """A store opened for writing (see the module)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.display_url = display_url(url)
        check_url(url)
        try:
            self.backend = make_url(url).get_backend_name()
        except (ArgumentError, ValueError):
            raise StoreConfigError(f"invalid store URL {self.display_url!r}: expected a file path or a SQLAlchemy "
                                   "URL such as sqlite:///runs.db or postgresql+psycopg://user@host/db") from None
        self.path: Path | None = sqlite_path(url)
        try:
            self.engine: Engine = get_engine(url, create_file=self.path, prepare=lambda e: prepare(e, url))
        except StoreError:
            raise
        except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
            raise open_failed(url, exc, self.path) from None

    def _transaction(self, fn: Callable[..., T], *args: Any, write: bool = True) -> T:
        """fn(conn, *args) in one transaction, a write one unless write=False (SQLite: BEGIN IMMEDIATE
        or BEGIN); a database failure is one masked line."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                with conn.begin():
                    return fn(conn, *args)
        except StoreError:
            raise
        except (SQLAlchemyError, OverflowError) as exc:  # OverflowError: a number no driver type holds
            raise query_failed(self.url, exc) from None

    # -- a run as it goes ------------------------------------------------------------------------
    def create_run(self, row: dict[str, Any]) -> None:
        """Insert a run row; if the run is stored already (a spooled copy was imported first), update it
        when this copy is newer (recency.py)."""
        self._transaction(self._put_run, row)

    def save_measured(self, run_id: str, run_fields: dict[str, Any], component_rows: Sequence[dict[str, Any]],
                      sample_rows: Sequence[dict[str, Any]]) -> None:
        """The measured part, one transaction: new samples, component totals, run totals."""
        def write(conn: Conn) -> None:
            _insert_samples(conn, run_id, sample_rows)
            notes = self._replace(conn, components, run_id, component_rows)
            self._update_run(conn, run_id, run_fields, notes)
        self._transaction(write)

    def save_derived(self, run_id: str, phase_rows: Sequence[dict[str, Any]],
                     value_rows: Sequence[dict[str, Any]], window_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Phases, counts, metrics, forecast and serving windows: their own transaction, so they can never
        hold measured samples hostage. Names are clipped to the columns and non-finite values stored as
        NULL. Serving windows are appended: only those not stored yet are written."""
        phases_clean, values_clean = clean_rows(phase_rows, value_rows)

        def write(conn: Conn) -> None:
            notes = self._replace(conn, phases, run_id, phases_clean) + self._replace(conn, run_values, run_id,
                                                                                      values_clean)
            notes += self._add_windows(conn, run_id, window_rows)
            if notes:
                self._update_run(conn, run_id, {}, notes)
        self._transaction(write)

    def save_progress(self, run_id: str, run_fields: dict[str, Any], component_rows: Sequence[dict[str, Any]],
                      sample_rows: Sequence[dict[str, Any]], phase_rows: Sequence[dict[str, Any]] = (),
                      value_rows: Sequence[dict[str, Any]] = (), window_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Measured rows, then derived rows. A failure of the second leaves the first stored."""
        self.save_measured(run_id, run_fields, component_rows, sample_rows)
        self.save_derived(run_id, phase_rows, value_rows, window_rows)

    def rollup_samples(self, run_id: str, interval_s: float, since_t_s: float = 0.0) -> int:
        """Merge this run's older samples into coarser ones (store/rollup.py); returns rows removed.
        Only samples at or after `since_t_s` are looked at (a writer passes where its last rollup ended)."""
        from .rollup import TIERS, plan

        def write(conn: Conn) -> int:
            newest = conn.execute(select(func.max(samples.c.t_s)).where(samples.c.run_id == run_id)).scalar()
            if newest is None or newest < TIERS[0][0]:
                return 0
            rows = [dict(r._mapping) for r in conn.execute(
                select(samples.c.id, samples.c.key, samples.c.t_s, samples.c.energy_j, samples.c.power_w,
                       samples.c.span_s)
                .where(samples.c.run_id == run_id, samples.c.t_s >= since_t_s,
                       samples.c.t_s <= newest - TIERS[0][0]))]
            merges = plan(rows, newest, interval_s)
            removed = 0
            for m in merges:
                conn.execute(delete(samples).where(samples.c.id.in_(m.ids)))
                removed += len(m.ids)
            if merges:
                conn.execute(insert(samples), [dict(m.row, run_id=run_id) for m in merges])
            return removed - len(merges)
        return self._transaction(write)

    # -- copies of runs --------------------------------------------------------------------------
    def import_rows(self, payload: dict[str, Any]) -> tuple[str, int]:
        """Store a spooled or rescued run, or one from another store (`merge`), in one transaction.

        Returns (run id, samples added). The run row and its components, phases and values are
        replaced only by a newer copy (recency.py); samples and serving windows the store lacks are
        added from any copy (a sample or window, once measured, does not change). Importing the same
        copy twice, or an older one, changes nothing. Take payloads from spool.read, which checks them.
        """
        row = payload["run"]
        run_id = row["id"]

        def write(conn: Conn) -> int:
            notes: list[str] = []
            if self._put_run(conn, row):  # a newer copy: its rows replace the stored ones it carries
                if "components" in payload:
                    notes += self._replace(conn, components, run_id, payload["components"])
                phase_rows, value_rows = clean_rows(payload.get("phases", ()), payload.get("values", ()))
                if "phases" in payload:
                    notes += self._replace(conn, phases, run_id, phase_rows)
                if "values" in payload:
                    notes += self._replace(conn, run_values, run_id, value_rows)
            notes += self._add_windows(conn, run_id, payload.get("windows", ()))
            if notes:
                self._update_run(conn, run_id, {}, notes)
            stored = dict(conn.execute(select(samples.c.key, func.max(samples.c.t_s))
                                       .where(samples.c.run_id == run_id).group_by(samples.c.key)).all())
            new = [s for s in payload.get("samples", ()) if s["t_s"] > stored.get(s["key"], float("-inf"))]
            _insert_samples(conn, run_id, new)
            return len(new)
        return run_id, self._transaction(write)

    def mark_dead_runs(self) -> int:
        """Record as interrupted the runs still marked running whose process is gone: on this host, a pid
        that ended (or was reused); elsewhere, a heartbeat silent for several flushes (liveness.py). Their
        end is their last heartbeat. Returns how many."""
        rows = self._transaction(lambda conn: [dict(r._mapping) for r in conn.execute(
            select(runs.c.id, runs.c.status, runs.c.host, runs.c.pid, runs.c.started_at, runs.c.heartbeat_at,
                   runs.c.settings_json).where(runs.c.status == "running"))], write=False)
        dead = [r for r in rows if is_dead(r)]

        def write(conn: Conn) -> int:  # only when there is something to record: no write lock otherwise
            marked = 0
            for r in dead:  # still running: its own final write may have come in between
                marked += conn.execute(update(runs).where(runs.c.id == r["id"], runs.c.status == "running")
                                       .values(status="interrupted",
                                               ended_at=r["heartbeat_at"] or r["started_at"])).rowcount
            return marked
        return self._transaction(write) if dead else 0

    # -- rows --------------------------------------------------------------------------------------
    def _put_run(self, conn: Conn, row: dict[str, Any]) -> bool:
        """Insert the run row, or update it when `row` is a newer copy; whether it was written."""
        row, notes = fit_row(runs, row)
        if notes:
            row["warnings_json"] = with_warnings(row.get("warnings_json"), notes)
        stored = conn.execute(select(runs.c.status, runs.c.duration_s, runs.c.heartbeat_at, runs.c.ended_at,
                                     runs.c.energy_j).where(runs.c.id == row["id"])).first()
        if stored is None:
            conn.execute(insert(runs).values(**row))
            return True
        if not is_newer(row, dict(stored._mapping)):
            return False
        conn.execute(update(runs).where(runs.c.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
        return True

    def _update_run(self, conn: Conn, run_id: str, fields: dict[str, Any], notes: list[str]) -> None:
        """Update the run's fields; warnings from fitting any of its rows join its warnings_json."""
        fields, more = fit_row(runs, fields)
        notes = notes + more
        if notes:
            warnings_json = fields.get("warnings_json")
            if "warnings_json" not in fields:
                warnings_json = conn.execute(select(runs.c.warnings_json).where(runs.c.id == run_id)).scalar()
            fields = dict(fields, warnings_json=with_warnings(warnings_json, notes))
        if fields:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**fields))

    def _replace(self, conn: Conn, table: Any, run_id: str, rows: Sequence[dict[str, Any]]) -> list[str]:
        """The run's rows of `table` replaced by `rows`; the warnings of fitting them."""
        conn.execute(delete(table).where(table.c.run_id == run_id))
        fitted, notes = _fitted(table, rows)
        if fitted:
            conn.execute(insert(table), [dict(r, run_id=run_id) for r in fitted])
        return notes

    def _add_windows(self, conn: Conn, run_id: str, window_rows: Sequence[dict[str, Any]]) -> list[str]:
        """Serving windows not stored yet (by number); stored ones are left as they are."""
        if not window_rows:
            return []
        stored = {i for (i,) in conn.execute(select(serving_windows.c.i).where(serving_windows.c.run_id == run_id))}
        fitted, notes = _fitted(serving_windows, [w for w in window_rows if w["i"] not in stored])
        if fitted:
            conn.execute(insert(serving_windows), [dict(w, run_id=run_id) for w in fitted])
        return notes


def _fitted(table: Any, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    out, notes = [], []
    for r in rows:
        fitted, more = fit_row(table, r)
        out.append(fitted)
        notes += [n for n in more if n not in notes]
    return out, notes


def _insert_samples(conn: Conn, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Samples in batches: the driver gets SAMPLE_BATCH rows at a time, not a copy of them all."""
    for i in range(0, len(rows), SAMPLE_BATCH):
        conn.execute(insert(samples), [dict(r, run_id=run_id) for r in rows[i:i + SAMPLE_BATCH]])
