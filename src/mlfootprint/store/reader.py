"""Reading a run store: listings, full records, jobs, samples, and every row for a merge.

A Reader never writes and never creates anything: a mistyped path is reported, another
application's database is refused untouched, a store of an older schema is read as it is (the
columns it lacks read as their old-row values, layout.ADDED_COLUMNS) and a read-only file or replica
can be listed. A run still marked running whose process is gone is shown interrupted (liveness.py),
without writing it.

The queries are plain SQL in the subset SQLite and PostgreSQL share (source.py says why), a few per
call however many runs it covers. A listing reads only the columns it shows (no settings, warnings,
impact or job JSON) and imports nothing it does not need: no psutil unless a row is still running,
no record or impact code unless full records are asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RunNotFoundError, StoreConfigError, StoreError, StoreMissingError
from ..rows import RunRow, row
from .failures import open_failed, query_failed
from .layout import ADDED_COLUMNS, BLOB_COLUMNS, CHILD_TABLES, META_TABLE, check_version, parse_version
from .liveness import shown_status
from .source import Session, Source, db_errors, open_source
from .urls import check_url, display_url, sqlite_path

if TYPE_CHECKING:
    from ..record import RunRecord

__all__ = ["BATCH", "ChildTotals", "JobRows", "ProjectDay", "Reader"]

BATCH = 500  # runs per query when reading many (and ids per IN list)
_ORDER = {"components": "kind, {key}", "phases": "path", "run_values": "name", "serving_windows": "i"}


@dataclass(frozen=True)
class JobRows:
    """What a job's line in a listing is made from (jobs.list_jobs shapes it): its ranks' run rows
    (listing columns and job_json) and the (host, GPU key) pairs its ranks measured."""

    job_id: str
    runs: list[dict[str, Any]]
    gpus: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class ChildTotals:
    """The runs nested in one run (or trials of one experiment), added up for a listing."""

    children: int
    energy_j: float
    co2e_kg: float


@dataclass(frozen=True)
class ProjectDay:
    """One project's runs started on one UTC day, added up by the database (the dashboard's projects page
    reads these, not 10,000 rows)."""

    project: str
    day: str  # YYYY-MM-DD, UTC
    runs: int
    energy_j: float  # IT energy charged to the runs (nested runs are charged 0: it counts in their parent)
    co2e_kg: float  # operational
    last_started: str


class Reader:
    """A store opened for reading (see the module). `columns` holds each table's columns as stored."""

    def __init__(self, url: str, source: Source | None = None) -> None:
        """`source`: how to reach the rows, when not the usual one for `url` (source.open_source)."""
        self.url = url
        self.display_url = display_url(url)
        check_url(url)
        self.path: Path | None = sqlite_path(url)
        if self.path is not None and not self.path.exists():
            raise StoreMissingError(f"no run store at {self.path}: nothing has been recorded there yet "
                                    "(check --store / MLFOOTPRINT_STORE)")
        try:
            self.source: Source = source or open_source(url, self.path)
            with self.source.session() as s:
                self.tables: frozenset[str] = frozenset(s.tables())
                self._check_store(s)
                self.columns: dict[str, tuple[str, ...]] = {
                    t: tuple(s.columns(t)) for t in ("runs", "samples", *CHILD_TABLES) if t in self.tables}
        except StoreError:
            raise
        except Exception as exc:
            if not isinstance(exc, (*db_errors(), ImportError, ValueError)):  # or a missing driver, a bad URL
                raise
            raise open_failed(url, exc, self.path) from None
        self.backend = self.source.backend
        runs = self.columns["runs"]
        self.has_jobs = "job_id" in runs
        self.has_parents = "parent_id" in runs
        self._listing = tuple(c for c in runs if c not in BLOB_COLUMNS)
        self._missing = {t: {c: d for c, d in ADDED_COLUMNS.get(t, {}).items() if c not in cols}
                         for t, cols in self.columns.items()}

    def _check_store(self, s: Session) -> None:
        if META_TABLE not in self.tables:
            if self.tables:
                raise StoreConfigError(f"{self.display_url} is not an mlfootprint run store: it holds the tables "
                                       f"{', '.join(sorted(self.tables)[:6])}")
            raise StoreMissingError(f"no runs stored in {self.display_url} yet")
        found = s.rows(f"SELECT value FROM {META_TABLE} WHERE {self.source.quote('key')} = 'schema_version'")
        if found:
            check_version(parse_version(found[0]["value"], self.url), self.url)
        if "runs" not in self.tables:
            raise StoreMissingError(f"no runs stored in {self.display_url} yet")

    # -- plumbing --------------------------------------------------------------------------------
    def _read(self, fn: Any, *args: Any) -> Any:
        """fn(session, *args) in one read transaction; a database failure is one masked line."""
        try:
            with self.source.session() as s:
                return fn(s, *args)
        except StoreError:
            raise
        except Exception as exc:
            if not isinstance(exc, db_errors()):
                raise
            raise query_failed(self.url, exc) from None

    def _select(self, table: str, columns: Iterable[str], where: str = "", order: str = "",
                limit: int | None = None, offset: int = 0) -> str:
        q = self.source.quote
        sql = f"SELECT {', '.join(q(c) for c in columns)} FROM {table}"
        sql += f" WHERE {where}" if where else ""
        sql += f" ORDER BY {order}" if order else ""
        return sql + (" " + self.source.limit(limit, offset) if limit is not None else "")

    def _complete(self, table: str, rows: list[dict[str, Any]], blobs: bool = True) -> list[dict[str, Any]]:
        """Rows with the columns their store predates, at their old-row values."""
        missing = {c: d for c, d in self._missing.get(table, {}).items() if blobs or c not in BLOB_COLUMNS}
        return [dict(r, **missing) for r in rows] if missing else rows

    def _shown(self, s: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with a dead run's status shown as interrupted; a listing row lacks settings_json, which
        the heartbeat rule reads (a run's flush interval): fetched for running rows only."""
        running = [r["id"] for r in rows if r["status"] == "running" and "settings_json" not in r]
        settings: dict[str, Any] = {}
        for chunk in _chunks(running):
            where, params = _in("id", chunk, self.source.quote)
            settings.update((r["id"], r["settings_json"]) for r in s.rows(
                self._select("runs", ("id", "settings_json"), where), params))
        shown = []
        for r in rows:
            if r["id"] in settings:
                status = shown_status(dict(r, settings_json=settings[r["id"]]))
                r = dict(r, status=status["status"], ended_at=status["ended_at"])
            else:
                r = shown_status(r)
            shown.append(r)
        return shown

    # -- runs ------------------------------------------------------------------------------------
    def list_runs(self, limit: int | None = None, project: str | None = None,
                  top_level_only: bool = False) -> list[RunRow]:
        """Runs, newest first, with the columns a listing shows; a run whose process died shows as
        interrupted. `top_level_only`: leave out runs nested in another run or trials of an experiment."""
        q = self.source.quote
        where, params = [], {}
        if project:
            where.append(f"{q('project')} = :project")
            params["project"] = project
        if top_level_only and self.has_parents:
            where.append(f"{q('parent_id')} IS NULL")

        def read(s: Session) -> list[dict[str, Any]]:
            rows = s.rows(self._select("runs", self._listing, " AND ".join(where), f"{q('started_at')} DESC, "
                                       f"{q('id')}", limit or None), params)
            return self._shown(s, self._complete("runs", rows, blobs=False))
        return [row(RunRow, r) for r in self._read(read)]

    def get_run(self, run_id: str) -> RunRecord:
        """The full record of a run; a unique prefix of its id is enough."""
        q = self.source.quote

        def read(s: Session) -> list[dict[str, Any]]:
            cols = self.columns["runs"]
            exact = s.rows(self._select("runs", cols, f"{q('id')} = :id"), {"id": run_id})
            return exact or s.rows(self._select("runs", cols, f"{q('id')} LIKE :prefix ESCAPE '!'", limit=2),
                                   {"prefix": _like_prefix(run_id)})
        found = self._read(read)
        if not found:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.display_url}; 'mlfootprint runs' lists them")
        if len(found) > 1:
            raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return next(self.records([shown_status(self._complete("runs", found)[0])]))

    def iter_records(self, project: str | None = None) -> Iterator[RunRecord]:
        """Every run's full record, newest first, read in batches (a few queries per batch, not per run)."""
        q = self.source.quote
        where, params = (f"{q('project')} = :project", {"project": project}) if project else ("", {})
        offset = 0
        while True:
            batch = self._read(lambda s, o=offset: s.rows(self._select(
                "runs", self.columns["runs"], where, f"{q('started_at')} DESC, {q('id')}", BATCH, o), params))
            if not batch:
                return
            yield from self.records([shown_status(r) for r in self._complete("runs", batch)])
            offset += len(batch)

    def records(self, rows: Sequence[dict[str, Any]]) -> Iterator[RunRecord]:
        """Full records of these run rows, with their components, phases, values and serving windows
        (a query per table per batch of BATCH runs)."""
        from ..record import to_record

        for chunk in _chunks(list(rows)):
            parts = self._read(self._children_of, [r["id"] for r in chunk])
            for r in chunk:
                p = parts[r["id"]]
                yield to_record(r, p["components"], p["phases"], p["run_values"], p["serving_windows"])

    def _children_of(self, s: Session, ids: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        by: dict[str, dict[str, list[dict[str, Any]]]] = {i: {t: [] for t in CHILD_TABLES} for i in ids}
        where, params = _in("run_id", ids, self.source.quote)
        for table in CHILD_TABLES:
            if table not in self.tables:  # a store from before that table existed
                continue
            order = _ORDER[table].format(key=self.source.quote("key"))
            for r in self._complete(table, s.rows(self._select(table, self.columns[table], where, order), params)):
                by[r["run_id"]][table].append(r)
        return by

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        """A run's samples in time order: t_s, key, energy_j, power_w and the phase that held most of it."""
        q = self.source.quote
        cols = ("t_s", "key", "energy_j", "power_w", *(("phase",) if "phase" in self.columns["samples"] else ()))
        rows = self._read(lambda s: s.rows(self._select("samples", cols, f"{q('run_id')} = :id",
                                                        f"{q('t_s')}, {q('key')}"), {"id": run_id}))
        return rows if "phase" in cols else [dict(r, phase=None) for r in rows]

    # -- nesting -----------------------------------------------------------------------------------
    def children(self, run_id: str) -> list[RunRow]:
        """The runs nested in `run_id` (or the trials of the experiment `run_id`), oldest first."""
        if not self.has_parents:
            return []
        q = self.source.quote
        return [row(RunRow, r) for r in self._read(lambda s: self._shown(s, self._complete("runs", s.rows(self._select(
            "runs", self._listing, f"{q('parent_id')} = :id", f"{q('started_at')}, {q('id')}"), {"id": run_id}),
            blobs=False)))]

    def child_totals(self, run_ids: Sequence[str]) -> dict[str, ChildTotals]:
        """For a listing: each run's number of children and their summed energy and CO2e (one query per
        BATCH runs). Runs without children are left out."""
        if not self.has_parents or not run_ids:
            return {}
        q = self.source.quote

        def read(s: Session) -> dict[str, ChildTotals]:
            out = {}
            for chunk in _chunks(list(run_ids)):
                where, params = _in("parent_id", chunk, q)
                for r in s.rows(f"SELECT {q('parent_id')} AS parent, COUNT(*) AS n, SUM({q('energy_j')}) AS e, "
                                f"SUM({q('co2e_kg')}) AS c FROM runs WHERE {where} GROUP BY {q('parent_id')}", params):
                    out[r["parent"]] = ChildTotals(int(r["n"]), float(r["e"] or 0.0), float(r["c"] or 0.0))
            return out
        return dict(self._read(read))

    # -- distributed jobs --------------------------------------------------------------------------
    def job_rows(self, limit: int | None = None, project: str | None = None) -> list[JobRows]:
        """The rows each distributed job's listing line is made from, newest job first (jobs.list_jobs)."""
        if not self.has_jobs:
            return []
        q = self.source.quote

        def read(s: Session) -> list[JobRows]:
            where, params = f"{q('job_id')} IS NOT NULL", {}
            if project:
                where, params = where + f" AND {q('project')} = :project", {"project": project}
            sql = (f"SELECT {q('job_id')} AS job_id, MIN({q('started_at')}) AS first_started FROM runs "
                   f"WHERE {where} GROUP BY {q('job_id')} ORDER BY first_started DESC")
            sql += f" {self.source.limit(limit)}" if limit else ""
            job_ids = [r["job_id"] for r in s.rows(sql, params)]
            runs: dict[str, list[dict[str, Any]]] = {j: [] for j in job_ids}
            gpus: dict[str, set[tuple[str, str]]] = {j: set() for j in job_ids}
            for chunk in _chunks(job_ids):
                where, params = _in("job_id", chunk, q)
                for r in self._shown(s, s.rows(self._select("runs", (*self._listing, "job_json"), where,
                                                            f"{q('job_rank')}, {q('started_at')}"), params)):
                    runs[r["job_id"]].append(r)
                where, params = _in("r.job_id", chunk, q)
                for r in s.rows(f"SELECT r.{q('job_id')} AS job_id, r.{q('host')} AS host, c.{q('key')} AS gpu "
                                f"FROM runs r JOIN components c ON c.{q('run_id')} = r.{q('id')} "
                                f"WHERE {where} AND c.{q('kind')} = 'gpu'", params):
                    gpus[r["job_id"]].add((r["host"], r["gpu"]))
            return [JobRows(j, self._complete("runs", runs[j], blobs=False), frozenset(gpus[j])) for j in job_ids]
        return list(self._read(read))

    def project_days(self) -> list[ProjectDay]:
        """IT energy and operational CO2e of every project per UTC day, oldest first."""
        q = self.source.quote
        day = f"SUBSTR({q('started_at')}, 1, 10)"
        sql = (f"SELECT {q('project')} AS project, {day} AS day, COUNT(*) AS n, SUM({q('energy_j')}) AS e, "
               f"SUM({q('co2e_kg')}) AS c, MAX({q('started_at')}) AS last FROM runs "
               f"GROUP BY {q('project')}, {day} ORDER BY day, project")
        return [ProjectDay(r["project"], r["day"], int(r["n"]), float(r["e"] or 0.0), float(r["c"] or 0.0), r["last"])
                for r in self._read(lambda s: s.rows(sql, {}))]

    def find_job(self, job_id: str) -> str | None:
        """The job with this id, or the one job whose id starts with it; None if none."""
        if not self.has_jobs:
            return None
        q = self.source.quote

        def read(s: Session) -> tuple[bool, list[str]]:
            exact = s.rows(self._select("runs", ("job_id",), f"{q('job_id')} = :id", limit=1), {"id": job_id})
            found = s.rows(f"SELECT DISTINCT {q('job_id')} AS job_id FROM runs WHERE {q('job_id')} LIKE :prefix "
                           f"ESCAPE '!' {self.source.limit(2)}", {"prefix": _like_prefix(job_id)})
            return bool(exact), [r["job_id"] for r in found]
        exact, found = self._read(read)
        if exact:
            return job_id
        if len(found) > 1:
            raise RunNotFoundError(f"job id prefix {job_id!r} is ambiguous; give more characters")
        return found[0] if found else None

    def job_records(self, job_id: str) -> list[RunRecord]:
        """Full records of every rank of a job."""
        if not self.has_jobs:
            return []
        q = self.source.quote
        rows = self._read(lambda s: [shown_status(r) for r in self._complete("runs", s.rows(self._select(
            "runs", self.columns["runs"], f"{q('job_id')} = :id", f"{q('job_rank')}, {q('started_at')}"),
            {"id": job_id}))])
        return list(self.records(rows))

    # -- everything, for a merge -------------------------------------------------------------------
    def payloads(self) -> Iterator[dict[str, Any]]:
        """Every run as raw rows, oldest first, in the spool-file shape Writer.import_rows takes (for
        `mlfootprint merge`). Runs are read in batches; samples one run at a time, so memory follows
        the largest run, not the store."""
        q = self.source.quote
        keys = {"components": "components", "phases": "phases", "run_values": "values", "serving_windows": "windows"}
        offset = 0
        while True:
            batch = self._read(lambda s, o=offset: s.rows(self._select(
                "runs", self.columns["runs"], order=f"{q('started_at')}, {q('id')}", limit=BATCH, offset=o)))
            if not batch:
                return
            parts = self._read(self._children_of, [r["id"] for r in batch])
            for run in self._complete("runs", batch):
                payload: dict[str, Any] = {"run": run}
                for table, key in keys.items():
                    payload[key] = [_without(r, "run_id") for r in parts[run["id"]][table]]
                cols = [c for c in self.columns["samples"] if c not in ("id", "run_id")]
                payload["samples"] = self._read(lambda s, i=run["id"]: s.rows(self._select(
                    "samples", cols, f"{q('run_id')} = :id", f"{q('t_s')}, {q('key')}"), {"id": i}))
                yield payload
            offset += len(batch)


def _chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _in(column: str, values: Sequence[Any], quote: Any) -> tuple[str, dict[str, Any]]:
    """`column IN (:v0, :v1, ...)` and its parameters (column may be `alias.name`)."""
    alias, _, name = column.rpartition(".")
    quoted = f"{alias}.{quote(name)}" if alias else quote(name)
    params = {f"v{i}": v for i, v in enumerate(values)}
    return f"{quoted} IN ({', '.join(':' + k for k in params)})", params


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching text that starts with `prefix` ('!' escapes % and _)."""
    return prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}
