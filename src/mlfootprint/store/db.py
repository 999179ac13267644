"""The run store over SQLAlchemy Core.

Writers (a run's writer thread) and readers (the CLI) may be different processes: SQLite runs in WAL
mode with a busy timeout, and write transactions start with BEGIN IMMEDIATE, so concurrent writers
queue for the lock instead of failing mid-transaction. Opening a store for writing creates and
migrates it under a lock (SQLite's write lock, PostgreSQL's advisory lock), so a job array whose
first wave starts together on a fresh store creates it once. Opening for reading never writes and
never creates anything: a mistyped path is reported, a read-only file or replica can be listed.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SAWarning, SQLAlchemyError

from ..errors import RunNotFoundError, StoreConfigError, StoreError, StoreMissingError
from ..record import clean_rows, now_iso, to_record
from . import schema
from .schema import SCHEMA_VERSION, components, meta, phases, run_values, runs, samples, serving_windows
from .spool import hostname
from .urls import check_url, default_store_url, display_url, private_dirs, sqlite_path, to_url

__all__ = ["Store", "default_store_url", "display_url", "now_iso", "open_store", "to_record"]

# One engine per URL per process, as SQLAlchemy recommends: its pool and its compiled-statement
# cache then serve every run, so a run's start and stop do not recompile the same SQL.
_ENGINES: dict[str, Engine] = {}
_MIGRATED: set[str] = set()
_ENGINES_LOCK = threading.Lock()
_PG_MIGRATION_LOCK = 0x6D6C6670  # "mlfp": the advisory lock that serialises schema changes


def _drop_engines_in_child() -> None:
    """After fork, leave the parent's pooled connections to the parent (SQLAlchemy's advice)."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()
    _MIGRATED.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_engines_in_child)

# A running run whose heartbeat is older than this many flush intervals (and at least this many
# seconds) is taken as dead when its host is not ours and its pid cannot be checked.
STALE_HEARTBEATS = 5
STALE_MIN_S = 60.0
EXPORT_BATCH = 500  # runs per query when reading many records


def load_driver(url: str) -> None:
    """Import the database driver a URL needs (a writer does this before anything else; see recorder)."""
    try:
        make_url(url).get_dialect().import_dbapi()
    except Exception:  # a bad URL or a missing driver is reported when the store is opened
        pass


def open_store(store: str | None = None, *, write: bool = False) -> Store:
    """The store at a path or URL (default: MLFOOTPRINT_STORE, else the user data dir).

    `write=True` creates and migrates it; readers leave it exactly as it is. In-process readers first
    wait (briefly) for this process's runs that are still writing their final record to it.
    """
    url = to_url(store)
    if not write:
        from .pending import wait_for

        wait_for(url)
    return Store(url, write=write)


class Store:
    def __init__(self, url: str, *, write: bool = True) -> None:
        self.url = url
        self.write = write
        check_url(url)
        try:
            parsed = make_url(url)
            self.backend = parsed.get_backend_name()
        except (ArgumentError, ValueError):
            raise StoreConfigError(f"invalid store URL {display_url(url)!r}: expected a file path or a SQLAlchemy "
                                   "URL such as sqlite:///runs.db or postgresql+psycopg://user@host/db") from None
        self.path = sqlite_path(url)
        if not write and self.path is not None and not self.path.exists():
            raise StoreMissingError(f"no run store at {self.path}: nothing has been recorded there yet "
                                    "(check --store / MLFOOTPRINT_STORE)")
        try:
            with _ENGINES_LOCK:
                engine = _ENGINES.get(url)
                if engine is None:
                    engine = self._create_engine(url)
                    _ENGINES[url] = engine
                self.engine: Engine = engine
                if write and url not in _MIGRATED:
                    self._migrate()
                    _MIGRATED.add(url)
            if not write:
                self._check_readable()
        except StoreError:
            raise
        except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open run store {self.display_url!r}: {_reason(exc)}; {_advice(exc, self.path)}"
                             ) from None

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    def _create_engine(self, url: str) -> Engine:
        if self.backend != "sqlite":
            return create_engine(url, pool_pre_ping=True)
        assert self.path is not None
        if self.write and not self.path.exists():
            private_dirs(self.path.parent)
            try:  # created private: the store holds command lines, hosts and settings
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                pass
        with warnings.catch_warnings():  # query arguments on a SQLite URL are passed on; don't print a source line
            warnings.simplefilter("ignore", SAWarning)
            engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    # -- schema ------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Create or upgrade the schema, once, whoever else is opening the store at the same moment."""
        for attempt in range(8):
            try:
                with self.engine.connect() as conn:
                    conn.info["write"] = True
                    with conn.begin():
                        if self.backend == "postgresql":
                            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                        self._migrate_locked(conn)
                if self.backend == "sqlite":
                    self._use_wal()
                return
            except SQLAlchemyError as exc:
                # another process created the same table between our check and our CREATE: look again
                if attempt == 7 or not _is_race(exc):
                    raise
                time.sleep(0.02 + random.random() * 0.05 * (attempt + 1))

    def _migrate_locked(self, conn: Any) -> None:
        tables = set(inspect(conn).get_table_names())
        if tables and meta.name not in tables:
            raise StoreConfigError(f"{self.display_url} is not an mlfootprint run store: it already holds the tables "
                                   f"{', '.join(sorted(tables)[:6])}; give another --store")
        version = self._version(conn) if meta.name in tables else None
        if version is not None and version > SCHEMA_VERSION:
            raise StoreConfigError(f"run store {self.display_url!r} has schema version {version}, newer than this "
                                   f"mlfootprint understands ({SCHEMA_VERSION}); upgrade mlfootprint")
        schema.metadata.create_all(conn)  # the tables a store of any earlier version lacks
        if version is None:
            conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        if version < 3 and "impact_json" not in {c["name"] for c in inspect(conn).get_columns("runs")}:
            conn.execute(text("ALTER TABLE runs ADD COLUMN impact_json TEXT"))
        if version < 4:
            self._values_nullable(conn)
        if version < 5:
            self._add_columns(conn, "runs", {"job_id": "VARCHAR(128)", "job_rank": "INTEGER", "job_json": "TEXT"})
            self._add_columns(conn, "samples", {"span_s": "FLOAT", "phase": "VARCHAR(255)"})
            conn.execute(text("CREATE INDEX IF NOT EXISTS ix_runs_job ON runs (job_id)"))
        if version < 6:
            self._add_columns(conn, "runs", {"parent_id": "VARCHAR(32)", "kind": "VARCHAR(16) NOT NULL DEFAULT 'run'",
                                             "serving_estimate_json": "TEXT", "overlaps_json": "TEXT"})
            self._add_columns(conn, "components", {"charged_to": "VARCHAR(32)"})
        if version < SCHEMA_VERSION:
            conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    def _use_wal(self) -> None:
        """WAL lets readers read while a run writes. It is a property of the file, set once it is known
        to be our store (never on another application's database, never by a reader)."""
        raw = self.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA journal_mode=WAL")
        except Exception:  # read-only media: the default journal works too
            pass
        finally:
            raw.close()

    @staticmethod
    def _add_columns(conn: Any, table: str, columns: dict[str, str]) -> None:
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        for name, sql_type in columns.items():
            if name not in have:
                conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{name}" {sql_type}'))

    def _values_nullable(self, conn: Any) -> None:
        """Schema 4: run_values.value may be NULL (a metric logged as NaN is kept, as not a number)."""
        if self.backend == "sqlite":  # SQLite cannot drop NOT NULL: rebuild the (small) table
            conn.execute(text("ALTER TABLE run_values RENAME TO run_values_v3"))
            run_values.create(conn)
            conn.execute(text("INSERT INTO run_values (run_id, kind, name, value) "
                              "SELECT run_id, kind, name, value FROM run_values_v3"))
            conn.execute(text("DROP TABLE run_values_v3"))
        else:
            conn.execute(text("ALTER TABLE run_values ALTER COLUMN value DROP NOT NULL"))

    def _version(self, conn: Any) -> int | None:
        row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise StoreConfigError(f"run store {self.display_url!r} has a damaged schema version {row[0]!r}; "
                                   "it was not written by mlfootprint") from None

    def _check_readable(self) -> None:
        with self.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if meta.name not in tables:
                if tables:
                    raise StoreConfigError(f"{self.display_url} is not an mlfootprint run store: it holds the tables "
                                           f"{', '.join(sorted(tables)[:6])}")
                raise StoreMissingError(f"no runs stored in {self.display_url} yet")
            version = self._version(conn)
            if version is not None and version > SCHEMA_VERSION:
                raise StoreConfigError(f"run store {self.display_url!r} has schema version {version}, newer than "
                                       f"this mlfootprint understands ({SCHEMA_VERSION}); upgrade mlfootprint")
            self._tables = tables
            self._run_columns = [runs.c[c["name"]] for c in inspect(conn).get_columns("runs") if c["name"] in runs.c]
            self._sample_columns = [samples.c[c["name"]] for c in inspect(conn).get_columns("samples")
                                    if c["name"] in samples.c]

    def _run(self, fn: Any, *args: Any, write: bool = True) -> Any:
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                with conn.begin():
                    return fn(conn, *args)
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"run store {self.display_url!r}: {_reason(exc)}") from None

    # -- writing ---------------------------------------------------------------------------
    def create_run(self, row: dict[str, Any]) -> None:
        """Insert a run row (or update it, when a spooled run is imported a second time)."""
        def write(conn: Any) -> None:
            if conn.execute(select(runs.c.id).where(runs.c.id == row["id"])).first():
                conn.execute(update(runs).where(runs.c.id == row["id"]).values(**row))
            else:
                conn.execute(insert(runs).values(**row))
        self._run(write)

    def save_measured(self, run_id: str, run_fields: dict[str, Any], component_rows: Sequence[dict[str, Any]],
                      sample_rows: Sequence[dict[str, Any]]) -> None:
        """The measured part, one transaction: new samples, component totals, run totals."""
        def write(conn: Any) -> None:
            if sample_rows:
                conn.execute(insert(samples), [dict(r, run_id=run_id) for r in sample_rows])
            conn.execute(delete(components).where(components.c.run_id == run_id))
            if component_rows:
                conn.execute(insert(components), [dict(r, run_id=run_id) for r in component_rows])
            conn.execute(update(runs).where(runs.c.id == run_id).values(**run_fields))
        self._run(write)

    def save_derived(self, run_id: str, phase_rows: Sequence[dict[str, Any]],
                     value_rows: Sequence[dict[str, Any]], window_rows: Sequence[dict[str, Any]] = ()) -> None:
        """Phases, counts, metrics, forecast and serving windows: their own transaction, so they can never
        hold measured samples hostage. Names are clipped to the columns and non-finite values stored as
        NULL. Serving windows are appended: only those not stored yet are written."""
        phase_rows, value_rows = clean_rows(phase_rows, value_rows)

        def write(conn: Any) -> None:
            for table, rows in ((phases, phase_rows), (run_values, value_rows)):
                conn.execute(delete(table).where(table.c.run_id == run_id))
                if rows:
                    conn.execute(insert(table), [dict(r, run_id=run_id) for r in rows])
            if window_rows:
                stored = conn.execute(select(func.max(serving_windows.c.i))
                                      .where(serving_windows.c.run_id == run_id)).scalar()
                new = [dict(w, run_id=run_id) for w in window_rows if stored is None or w["i"] > stored]
                if new:
                    conn.execute(insert(serving_windows), new)
        self._run(write)

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

        def write(conn: Any) -> int:
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
        return self._run(write)

    def import_rows(self, payload: dict[str, Any]) -> tuple[str, int]:
        """Store a spooled or rescued run (see store/spool.py); samples already stored are skipped.

        Returns (run id, samples added). Importing the same file twice changes nothing the second time.
        """
        row = dict(payload["run"])
        run_id = row["id"]
        stored = {k: t for k, t in self._run(lambda c: list(c.execute(
            select(samples.c.key, func.max(samples.c.t_s)).where(samples.c.run_id == run_id).group_by(samples.c.key))))}
        new = [s for s in payload.get("samples", []) if s["t_s"] > stored.get(s["key"], float("-inf"))]
        self.create_run(row)
        fields = {k: v for k, v in row.items() if k != "id"}
        self.save_progress(run_id, fields, payload.get("components", []), new, payload.get("phases", []),
                           payload.get("values", []), payload.get("windows", []))
        return run_id, len(new)

    def mark_dead_runs(self) -> int:
        """Runs still marked running whose process is gone were interrupted: store that (writers only)."""
        rows = self._run(lambda c: [dict(r._mapping) for r in c.execute(select(runs).where(runs.c.status == "running"))],
                         write=False)
        dead = [r for r in rows if _is_dead(r)]
        for r in dead:
            self._run(lambda c, r=r: c.execute(update(runs).where(runs.c.id == r["id"], runs.c.status == "running")
                                               .values(status="interrupted", ended_at=r["heartbeat_at"])))
        return len(dead)

    # -- reading ---------------------------------------------------------------------------
    def _select_runs(self) -> Any:
        return select(*getattr(self, "_run_columns", runs.c))

    def list_runs(self, limit: int | None = None, project: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first; a run whose process died shows as interrupted (without writing it)."""
        def read(conn: Any) -> list[dict[str, Any]]:
            q = self._select_runs().order_by(runs.c.started_at.desc())
            if project:
                q = q.where(runs.c.project == project)
            if limit:
                q = q.limit(limit)
            return [dict(r._mapping) for r in conn.execute(q)]
        return [_shown_status(r) for r in self._run(read, write=False)]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The full record of a run; a unique prefix of its id is enough."""
        found = self._run(lambda c: list(c.execute(
            self._select_runs().where(runs.c.id.startswith(run_id, autoescape=True)).limit(2))), write=False)
        if not found:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.display_url}; 'mlfootprint runs' lists them")
        if len(found) > 1:
            raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return next(self.records([_shown_status(dict(found[0]._mapping))]))

    def iter_records(self, project: str | None = None) -> Iterator[dict[str, Any]]:
        """Every run's full record, newest first, read in batches (a few queries per batch, not per run)."""
        offset = 0
        while True:
            def read(conn: Any, offset: int = offset) -> list[dict[str, Any]]:
                q = self._select_runs().order_by(runs.c.started_at.desc(), runs.c.id)
                if project:
                    q = q.where(runs.c.project == project)
                return [dict(r._mapping) for r in conn.execute(q.limit(EXPORT_BATCH).offset(offset))]
            batch = self._run(read, write=False)
            if not batch:
                return
            yield from self.records([_shown_status(r) for r in batch])
            offset += len(batch)

    def records(self, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Full records of these run rows, with their components, phases and values (3 queries)."""
        ids = [r["id"] for r in rows]
        tables = getattr(self, "_tables", {"components", "phases", "run_values", "samples", "serving_windows"})

        def read(conn: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
            by: dict[str, dict[str, list[dict[str, Any]]]] = {i: {"c": [], "p": [], "v": [], "w": []} for i in ids}
            for key, table, order in (("c", components, (components.c.kind, components.c.key)),
                                      ("p", phases, (phases.c.path,)), ("v", run_values, (run_values.c.name,)),
                                      ("w", serving_windows, (serving_windows.c.i,))):
                if table.name not in tables:  # a store from before that table existed
                    continue
                for r in conn.execute(select(table).where(table.c.run_id.in_(ids)).order_by(*order)):
                    by[r.run_id][key].append(dict(r._mapping))
            return by
        parts = self._run(read, write=False)
        for r in rows:
            p = parts[r["id"]]
            yield to_record(r, p["c"], p["p"], p["v"], p["w"])

    # -- distributed jobs ---------------------------------------------------------------------
    def _has_jobs(self) -> bool:
        return "job_id" in {c.name for c in getattr(self, "_run_columns", runs.c)}

    def list_jobs(self, limit: int | None = None, project: str | None = None) -> list[dict[str, Any]]:
        """One row per distributed job, newest first: ranks, nodes, GPUs, energy, CO2e, status."""
        if not self._has_jobs():
            return []

        def read(conn: Any) -> list[Any]:
            q = (select(runs.c.job_id, func.min(runs.c.started_at).label("started_at"))
                 .where(runs.c.job_id.is_not(None)).group_by(runs.c.job_id)
                 .order_by(func.min(runs.c.started_at).desc()))
            if project:
                q = q.where(runs.c.project == project)
            return [r.job_id for r in conn.execute(q.limit(limit) if limit else q)]
        job_ids = self._run(read, write=False)
        if not job_ids:
            return []
        rows = self._job_rows(job_ids)
        gpu_rows = self._run(lambda c: [tuple(r) for r in c.execute(
            select(runs.c.job_id, runs.c.host, components.c.key).join(components, components.c.run_id == runs.c.id)
            .where(runs.c.job_id.in_(job_ids), components.c.kind == "gpu"))], write=False)
        from ..jobs import job_list_row

        return [job_list_row(job_id, [r for r in rows if r["job_id"] == job_id],
                             {(h, k) for j, h, k in gpu_rows if j == job_id}) for job_id in job_ids]

    def _job_rows(self, job_ids: list[str]) -> list[dict[str, Any]]:
        return [_shown_status(dict(r._mapping)) for r in self._run(lambda c: list(c.execute(
            self._select_runs().where(runs.c.job_id.in_(job_ids)).order_by(runs.c.job_rank, runs.c.started_at))),
            write=False)]

    def find_job(self, job_id: str) -> str | None:
        """The job with this id, or the one job whose id starts with it; None if none."""
        if not self._has_jobs():
            return None

        def read(conn: Any) -> tuple[bool, list[str]]:
            exact = conn.execute(select(runs.c.job_id).where(runs.c.job_id == job_id).limit(1)).first() is not None
            found = [r[0] for r in conn.execute(select(runs.c.job_id).where(
                runs.c.job_id.startswith(job_id, autoescape=True)).distinct().limit(2))]
            return exact, found
        exact, found = self._run(read, write=False)
        if exact:
            return job_id
        if len(found) > 1:
            raise RunNotFoundError(f"job id prefix {job_id!r} is ambiguous; give more characters")
        return found[0] if found else None

    def job_records(self, job_id: str) -> list[dict[str, Any]]:
        """Full records of every rank of a job, read in batches."""
        rows = self._job_rows([job_id])
        out: list[dict[str, Any]] = []
        for i in range(0, len(rows), EXPORT_BATCH):
            out.extend(self.records(rows[i:i + EXPORT_BATCH]))
        return out

    def payloads(self) -> Iterator[dict[str, Any]]:
        """Every run as raw rows (the spool-file shape `import_rows` takes), for `mlfootprint merge`."""
        tables = getattr(self, "_tables", {"components", "phases", "run_values", "samples", "serving_windows"})
        offset = 0
        while True:
            def read(conn: Any, offset: int = offset) -> list[dict[str, Any]]:
                rows = [dict(r._mapping) for r in conn.execute(
                    self._select_runs().order_by(runs.c.started_at, runs.c.id).limit(EXPORT_BATCH).offset(offset))]
                ids = [r["id"] for r in rows]
                parts: dict[str, dict[str, list[dict[str, Any]]]] = {i: {} for i in ids}
                for name, table in (("components", components), ("phases", phases), ("values", run_values),
                                    ("samples", samples), ("windows", serving_windows)):
                    if table.name not in tables:
                        continue
                    cols = [c for c in table.c if c.name not in ("id", "run_id")]
                    if name == "samples":
                        have = {c["name"] for c in inspect(conn).get_columns("samples")}
                        cols = [c for c in cols if c.name in have]
                    for r in conn.execute(select(table.c.run_id, *cols).where(table.c.run_id.in_(ids))):
                        row = dict(r._mapping)
                        parts[row.pop("run_id")].setdefault(name, []).append(row)
                return [dict(parts[r["id"]], run=r) for r in rows]
            batch = self._run(read, write=False)
            if not batch:
                return
            yield from batch
            offset += len(batch)

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        have = {c.name for c in getattr(self, "_sample_columns", samples.c)}
        return self._run(lambda c: [dict(r._mapping) for r in c.execute(
            select(samples.c.t_s, samples.c.key, samples.c.energy_j, samples.c.power_w,
                   *([samples.c.phase] if "phase" in have else []))
            .where(samples.c.run_id == run_id).order_by(samples.c.t_s, samples.c.key))], write=False)

    def close(self) -> None:
        """Return pooled connections; the engine stays available to other runs of this process."""
        self.engine.dispose(close=False)


def _shown_status(row: dict[str, Any]) -> dict[str, Any]:
    """A run still marked running whose process is gone was interrupted: show it so."""
    if row["status"] != "running" or not _is_dead(row):
        return row
    return dict(row, status="interrupted", ended_at=row["heartbeat_at"])


def _is_dead(row: dict[str, Any]) -> bool:
    if row["host"] == hostname():
        import psutil

        try:
            proc = psutil.Process(row["pid"])
            started = datetime.fromisoformat(row["started_at"]).timestamp()
            # a recycled pid belongs to a process that started after our run did
            return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE or proc.create_time() > started + 1
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            pass
    heartbeat = datetime.fromisoformat(row["heartbeat_at"] or row["started_at"])
    try:
        settings = json.loads(row.get("settings_json") or "{}")
        flush_s = float(settings.get("flush_interval_s", {}).get("value", 5.0))
    except (ValueError, TypeError, AttributeError):
        flush_s = 5.0
    return datetime.now(timezone.utc) - heartbeat > timedelta(seconds=max(STALE_MIN_S, STALE_HEARTBEATS * flush_s))


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")  # readers never set the journal mode: that would rewrite the file
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers take the write lock up front (BEGIN IMMEDIATE waits out the busy timeout); a deferred
    transaction that reads first and upgrades later can fail at once under concurrent writers."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")


def _is_race(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", None) or exc).lower()
    return any(s in message for s in ("already exists", "duplicate key", "database is locked", "unique constraint"))


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _advice(exc: BaseException, path: Path | None) -> str:
    """What to do about an open failure: by its cause, not always 'give a writable path'."""
    message = _reason(exc).lower()
    if path is None:
        return "check the database URL, that the server is running and that the user may connect"
    if "readonly" in message or "read-only" in message or "permission" in message:
        return f"the file or its folder {path.parent} is not writable by this user"
    if "locked" in message:
        return "another process holds a long write lock on it; try again when it is done"
    if "disk" in message and "full" in message:
        return f"the disk holding {path.parent} is full"
    if "not a database" in message or "malformed" in message:
        return "the file is not an SQLite database, or is damaged; give another --store"
    return "set --store or MLFOOTPRINT_STORE to a writable SQLite path or a database URL"
