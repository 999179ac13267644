"""Writing a run store: a run's rows as it goes, imported copies of runs, and dead runs recorded.

Opening a Writer creates the store if needed and upgrades an older one (migrations.py), once per
store per process (opening.py). Every method is one transaction (SQLite: BEGIN IMMEDIATE, see
source.py), so concurrent writers queue instead of failing halfway. Values a column cannot hold are
stored as NULL with a warning in the run's record (fit.py), never left to make the run unstorable.
Combining copies of a run (import of a spool or rescue file, merge of stores) never moves it back
(recency.py).

The statements are plain SQL in the subset SQLite and PostgreSQL share, identifiers quoted, as the
reader's are: the same text runs through sqlite3 on an existing SQLite store, which then never loads
SQLAlchemy, and through SQLAlchemy for every other URL (source.py says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from ..record import clean_rows
from .failures import open_failed, query_failed
from .fit import fit_row, with_warnings
from .liveness import is_dead
from .opening import open_for_writing
from .recency import is_newer
from .source import Session, Source, db_errors
from .tables import Table, components, phases, run_values, runs, samples, serving_windows
from .urls import check_url, display_url, sqlite_path

__all__ = ["SAMPLE_BATCH", "Writer"]

SAMPLE_BATCH = 5000  # samples per INSERT: a large import's rows are handed to the driver a batch at a time
T = TypeVar("T")


class Writer:
    """A store opened for writing (see the module)."""

    def __init__(self, url: str, source: Source | None = None) -> None:
        """`source`: how to reach the rows, when not the usual one for `url` (opening.py); tests write a
        SQLite file through SQLAlchemy with it. The store is created or upgraded either way."""
        self.url = url
        self.display_url = display_url(url)
        check_url(url)
        self.path: Path | None = sqlite_path(url)
        try:
            usual = open_for_writing(url, self.path)
        except StoreError:
            raise
        except Exception as exc:
            if not isinstance(exc, (*db_errors(), ImportError, ValueError)):  # or a missing driver, a bad URL
                raise
            raise open_failed(url, exc, self.path) from None
        self.source: Source = source or usual
        self.backend = self.source.backend

    def _transaction(self, fn: Callable[..., T], *args: Any, write: bool = True) -> T:
        """fn(session, *args) in one transaction, a write one unless write=False (SQLite: BEGIN IMMEDIATE
        or BEGIN); a database failure is one masked line."""
        try:
            with self.source.transaction(write) as s:
                return fn(s, *args)
        except StoreError:
            raise
        except Exception as exc:
            if not isinstance(exc, db_errors()):  # OverflowError among them: a number no driver type holds
                raise
            raise query_failed(self.url, exc) from None

    # -- a run as it goes ------------------------------------------------------------------------
    def create_run(self, row: dict[str, Any]) -> None:
        """Insert a run row; if the run is stored already (a spooled copy was imported first), update it
        when this copy is newer (recency.py)."""
        self._transaction(self._put_run, row)

    def save_measured(self, run_id: str, run_fields: dict[str, Any], component_rows: Sequence[dict[str, Any]],
                      sample_rows: Sequence[dict[str, Any]]) -> None:
        """The measured part, one transaction: new samples, component totals, run totals."""
        def write(s: Session) -> None:
            self._insert_samples(s, run_id, sample_rows)
            notes = self._replace(s, components, run_id, component_rows)
            self._update_run(s, run_id, run_fields, notes)
        self._transaction(write)

    def save_derived(self, run_id: str, phase_rows: Sequence[dict[str, Any]],
                     value_rows: Sequence[dict[str, Any]], window_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Phases, counts, metrics, forecast and serving windows: their own transaction, so they can never
        hold measured samples hostage. Names are clipped to the columns and non-finite values stored as
        NULL. Serving windows are appended: only those not stored yet are written."""
        phases_clean, values_clean = clean_rows(phase_rows, value_rows)

        def write(s: Session) -> None:
            notes = self._replace(s, phases, run_id, phases_clean) + self._replace(s, run_values, run_id,
                                                                                   values_clean)
            notes += self._add_windows(s, run_id, window_rows)
            if notes:
                self._update_run(s, run_id, {}, notes)
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

        q = self.source.quote

        def write(s: Session) -> int:
            newest = s.rows(f"SELECT MAX({q('t_s')}) AS newest FROM samples WHERE {q('run_id')} = :run_id",
                            {"run_id": run_id})[0]["newest"]
            if newest is None or newest < TIERS[0][0]:
                return 0
            rows = s.rows(f"SELECT {q('id')}, {q('key')}, {q('t_s')}, {q('energy_j')}, {q('power_w')}, {q('span_s')} "
                          f"FROM samples WHERE {q('run_id')} = :run_id AND {q('t_s')} >= :since "
                          f"AND {q('t_s')} <= :until", {"run_id": run_id, "since": since_t_s,
                                                         "until": newest - TIERS[0][0]})
            merges = plan(rows, newest, interval_s)
            ids = [{"id": i} for m in merges for i in m.ids]
            if ids:
                s.execute_many(f"DELETE FROM samples WHERE {q('id')} = :id", ids)
                self._insert(s, samples, [m.row for m in merges], run_id)
            return len(ids) - len(merges)
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
        q = self.source.quote

        def write(s: Session) -> int:
            notes: list[str] = []
            if self._put_run(s, row):  # a newer copy: its rows replace the stored ones it carries
                if "components" in payload:
                    notes += self._replace(s, components, run_id, payload["components"])
                phase_rows, value_rows = clean_rows(payload.get("phases", ()), payload.get("values", ()))
                if "phases" in payload:
                    notes += self._replace(s, phases, run_id, phase_rows)
                if "values" in payload:
                    notes += self._replace(s, run_values, run_id, value_rows)
            notes += self._add_windows(s, run_id, payload.get("windows", ()))
            if notes:
                self._update_run(s, run_id, {}, notes)
            stored = {r["key"]: r["newest"] for r in s.rows(
                f"SELECT {q('key')}, MAX({q('t_s')}) AS newest FROM samples "
                f"WHERE {q('run_id')} = :run_id GROUP BY {q('key')}", {"run_id": run_id})}
            new = [x for x in payload.get("samples", ()) if x["t_s"] > stored.get(x["key"], float("-inf"))]
            self._insert_samples(s, run_id, new)
            return len(new)
        return run_id, self._transaction(write)

    def mark_dead_runs(self) -> int:
        """Record as interrupted the runs still marked running whose process is gone: on this host, a pid
        that ended (or was reused); elsewhere, a heartbeat silent for several flushes (liveness.py). Their
        end is their last heartbeat. Returns how many."""
        q = self.source.quote
        columns = ", ".join(q(c) for c in ("id", "status", "host", "pid", "started_at", "heartbeat_at",
                                           "settings_json"))
        rows = self._transaction(lambda s: s.rows(f"SELECT {columns} FROM runs WHERE {q('status')} = 'running'"),
                                 write=False)
        dead = [r for r in rows if is_dead(r)]

        def write(s: Session) -> int:  # only when there is something to record: no write lock otherwise
            marked = 0
            for r in dead:  # still running: its own final write may have come in between
                marked += s.execute(f"UPDATE runs SET {q('status')} = 'interrupted', {q('ended_at')} = :ended_at "
                                    f"WHERE {q('id')} = :id AND {q('status')} = 'running'",
                                    {"id": r["id"], "ended_at": r["heartbeat_at"] or r["started_at"]})
            return marked
        return self._transaction(write) if dead else 0

    # -- rows --------------------------------------------------------------------------------------
    def _put_run(self, s: Session, row: dict[str, Any]) -> bool:
        """Insert the run row, or update it when `row` is a newer copy; whether it was written."""
        row, notes = fit_row(runs, row)
        if notes:
            row["warnings_json"] = with_warnings(row.get("warnings_json"), notes)
        q = self.source.quote
        progress = ", ".join(q(c) for c in ("status", "duration_s", "heartbeat_at", "ended_at", "energy_j"))
        stored = s.rows(f"SELECT {progress} FROM runs WHERE {q('id')} = :id", {"id": row["id"]})
        if not stored:
            self._insert(s, runs, [row])
            return True
        if not is_newer(row, stored[0]):
            return False
        self._set(s, row["id"], row)
        return True

    def _update_run(self, s: Session, run_id: str, fields: dict[str, Any], notes: list[str]) -> None:
        """Update the run's fields; warnings from fitting any of its rows join its warnings_json."""
        fields, more = fit_row(runs, fields)
        notes = notes + more
        if notes:
            warnings_json = fields.get("warnings_json")
            if "warnings_json" not in fields:
                q = self.source.quote
                found = s.rows(f"SELECT {q('warnings_json')} FROM runs WHERE {q('id')} = :id", {"id": run_id})
                warnings_json = found[0]["warnings_json"] if found else None
            fields = dict(fields, warnings_json=with_warnings(warnings_json, notes))
        self._set(s, run_id, fields)

    def _set(self, s: Session, run_id: str, fields: Mapping[str, Any]) -> None:
        """UPDATE the run row's `fields` (its id excepted)."""
        names = _known(runs, [n for n in fields if n != "id"], self.url)
        if not names:
            return
        q = self.source.quote
        s.execute(f"UPDATE runs SET {', '.join(f'{q(n)} = :{n}' for n in names)} WHERE {q('id')} = :id",
                  {**{n: fields[n] for n in names}, "id": run_id})

    def _replace(self, s: Session, table: Table, run_id: str, rows: Sequence[dict[str, Any]]) -> list[str]:
        """The run's rows of `table` replaced by `rows`; the warnings of fitting them."""
        q = self.source.quote
        s.execute(f"DELETE FROM {q(table.name)} WHERE {q('run_id')} = :run_id", {"run_id": run_id})
        fitted, notes = _fitted(table, rows)
        self._insert(s, table, fitted, run_id)
        return notes

    def _add_windows(self, s: Session, run_id: str, window_rows: Sequence[dict[str, Any]]) -> list[str]:
        """Serving windows not stored yet (by number); stored ones are left as they are."""
        if not window_rows:
            return []
        q = self.source.quote
        stored = {r["i"] for r in s.rows(f"SELECT {q('i')} FROM serving_windows "
                                         f"WHERE {q('run_id')} = :run_id", {"run_id": run_id})}
        fitted, notes = _fitted(serving_windows, [w for w in window_rows if w["i"] not in stored])
        self._insert(s, serving_windows, fitted, run_id)
        return notes

    def _insert_samples(self, s: Session, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Samples in batches: the driver gets SAMPLE_BATCH rows at a time, not a copy of them all."""
        for i in range(0, len(rows), SAMPLE_BATCH):
            self._insert(s, samples, rows[i:i + SAMPLE_BATCH], run_id)

    def _insert(self, s: Session, table: Table, rows: Sequence[Mapping[str, Any]], run_id: str | None = None) -> None:
        """INSERT `rows` (of the run `run_id`, when given), one statement run for each; a column a row
        leaves out takes its default, as in SQLAlchemy's insert, or NULL."""
        if not rows:
            return
        given: set[str] = set(rows[0]).union(*rows[1:], ("run_id",) if run_id is not None else ())
        _known(table, sorted(given), self.url)
        defaults = {c.name: c.default for c in table.columns if c.name in given or c.default is not None}
        values = [{n: r.get(n, d) for n, d in defaults.items()} for r in rows]
        if run_id is not None:
            for v in values:
                v["run_id"] = run_id
        q = self.source.quote
        s.execute_many(f"INSERT INTO {q(table.name)} ({', '.join(q(n) for n in defaults)}) "
                       f"VALUES ({', '.join(':' + n for n in defaults)})", values)


def _known(table: Table, names: list[str], url: str) -> list[str]:
    """`names`, if every one is a column of `table` (statements are built from column names only)."""
    unknown = [n for n in names if table.get(n) is None]
    if unknown:
        raise StoreError(f"run store {display_url(url)!r}: the {table.name} table has no column {unknown[0]!r}")
    return names


def _fitted(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    out, notes = [], []
    for r in rows:
        fitted, more = fit_row(table, r)
        out.append(fitted)
        notes += [n for n in more if n not in notes]
    return out, notes
