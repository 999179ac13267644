"""The run store over SQLAlchemy Core.

Writers (the meter's flush) and readers (the CLI) may be different processes: SQLite runs in WAL
mode with a busy timeout so a report can be read while a run is being written.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, delete, event, insert, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..errors import RunNotFoundError, StoreError
from . import schema
from .schema import SCHEMA_VERSION, components, meta, phases, run_values, runs, samples

# One engine per URL per process, as SQLAlchemy recommends: its pool and its compiled-statement
# cache then serve every run, so a run's start and stop do not recompile the same SQL.
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()

def _drop_engines_in_child() -> None:
    """After fork, leave the parent's pooled connections to the parent (SQLAlchemy's advice)."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_engines_in_child)

# A running run whose heartbeat is older than this many flush intervals (and at least this many
# seconds) is taken as dead when its host is not ours and its pid cannot be checked.
STALE_HEARTBEATS = 5
STALE_MIN_S = 60.0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_store_url() -> str:
    return "sqlite:///" + str(Path(user_data_dir("mlfootprint", appauthor=False)) / "runs.db")


def _to_url(store: str | None) -> str:
    store = store or os.environ.get("MLFOOTPRINT_STORE")
    if not store:
        return default_store_url()
    if "://" in store:
        return store
    return "sqlite:///" + str(Path(store).expanduser().resolve())


def display_url(url: str) -> str:
    """The URL with any password masked, for messages and records."""
    return make_url(url).render_as_string(hide_password=True)


def open_store(store: str | None = None) -> Store:
    """Open (creating if needed) the store at a path or URL; default: the user's data dir."""
    return Store(_to_url(store))


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"invalid store URL {url!r}: expected a file path or a SQLAlchemy URL such as "
                             "sqlite:///runs.db or postgresql+psycopg://user@host/db") from None
        try:
            with _ENGINES_LOCK:
                engine = _ENGINES.get(url)
                if engine is None:
                    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                    engine = create_engine(url)
                    if parsed.get_backend_name() == "sqlite":
                        event.listen(engine, "connect", _sqlite_pragmas)
                    self.engine: Engine = engine
                    self._migrate()
                    _ENGINES[url] = engine  # only once it opened and migrated cleanly
                self.engine = engine
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise StoreError(f"cannot open run store {self._display()!r}: {_reason(exc)}; set --store or "
                             "MLFOOTPRINT_STORE to a writable SQLite path or a database URL") from None

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    def _display(self) -> str:
        return self.display_url

    def _migrate(self) -> None:
        schema.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
            if row is None:
                conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"run store {self._display()!r} has schema version {row[0]}, newer than this "
                                 f"mlfootprint understands ({SCHEMA_VERSION}); upgrade mlfootprint")
            elif int(row[0]) < SCHEMA_VERSION:
                # 1 -> 2 only added tables, which create_all has just made; 2 -> 3 adds a column
                columns = {c["name"] for c in inspect(conn).get_columns("runs")}
                if "impact_json" not in columns:
                    conn.execute(text("ALTER TABLE runs ADD COLUMN impact_json TEXT"))
                conn.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    def _run(self, fn: Any, *args: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn, *args)
        except SQLAlchemyError as exc:
            raise StoreError(f"run store {self._display()!r}: {_reason(exc)}") from None

    # -- writing ---------------------------------------------------------------------------
    def create_run(self, row: dict[str, Any]) -> None:
        self._run(lambda c: c.execute(insert(runs).values(**row)))

    def save_progress(self, run_id: str, run_fields: dict[str, Any], component_rows: Sequence[dict[str, Any]],
                      sample_rows: Sequence[dict[str, Any]], phase_rows: Sequence[dict[str, Any]] = (),
                      value_rows: Sequence[dict[str, Any]] = ()) -> None:
        """One transaction: new samples; current component, phase and value totals; run totals."""
        def write(conn: Any) -> None:
            if sample_rows:
                conn.execute(insert(samples), [dict(r, run_id=run_id) for r in sample_rows])
            for table, rows in ((components, component_rows), (phases, phase_rows), (run_values, value_rows)):
                conn.execute(delete(table).where(table.c.run_id == run_id))
                if rows:
                    conn.execute(insert(table), [dict(r, run_id=run_id) for r in rows])
            conn.execute(update(runs).where(runs.c.id == run_id).values(**run_fields))
        self._run(write)

    # -- reading ---------------------------------------------------------------------------
    def list_runs(self, limit: int | None = None, project: str | None = None) -> list[dict[str, Any]]:
        def read(conn: Any) -> list[dict[str, Any]]:
            q = select(runs).order_by(runs.c.started_at.desc())
            if project:
                q = q.where(runs.c.project == project)
            if limit:
                q = q.limit(limit)
            return [dict(r._mapping) for r in conn.execute(q)]
        rows = self._run(read)
        return [self._repair_status(r) for r in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The full record of a run; a unique prefix of its id is enough."""
        def read(conn: Any) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
            found = list(conn.execute(select(runs).where(runs.c.id.startswith(run_id, autoescape=True)).limit(2)))
            comps, phase_rows, values = [], [], []
            if len(found) == 1:
                rid = found[0].id
                comps = list(conn.execute(select(components).where(components.c.run_id == rid)
                                          .order_by(components.c.kind, components.c.key)))
                phase_rows = list(conn.execute(select(phases).where(phases.c.run_id == rid)))
                values = list(conn.execute(select(run_values).where(run_values.c.run_id == rid)))
            return found, comps, phase_rows, values
        found, comps, phase_rows, values = self._run(read)
        if not found:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self._display()}; 'mlfootprint runs' lists them")
        if len(found) > 1:
            raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        row = self._repair_status(dict(found[0]._mapping))
        return to_record(row, [dict(c._mapping) for c in comps], [dict(p._mapping) for p in phase_rows],
                         [dict(v._mapping) for v in values])

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        return self._run(lambda c: [dict(r._mapping) for r in c.execute(
            select(samples.c.t_s, samples.c.key, samples.c.energy_j, samples.c.power_w)
            .where(samples.c.run_id == run_id).order_by(samples.c.t_s, samples.c.key))])

    def _repair_status(self, row: dict[str, Any]) -> dict[str, Any]:
        """A run still marked running whose process is gone was interrupted: say so, and store it."""
        if row["status"] != "running" or not _is_dead(row):
            return row
        self._run(lambda c: c.execute(update(runs).where(runs.c.id == row["id"], runs.c.status == "running")
                                      .values(status="interrupted", ended_at=row["heartbeat_at"])))
        return dict(row, status="interrupted", ended_at=row["heartbeat_at"])

    def close(self) -> None:
        """Return pooled connections; the engine stays available to other runs of this process."""
        self.engine.dispose(close=False)


def _is_dead(row: dict[str, Any]) -> bool:
    if row["host"] == socket.gethostname():
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
    settings = json.loads(row.get("settings_json") or "{}")
    flush_s = float(settings.get("flush_interval_s", {}).get("value", 5.0)) if settings else 5.0
    return datetime.now(timezone.utc) - heartbeat > timedelta(seconds=max(STALE_MIN_S, STALE_HEARTBEATS * flush_s))


def to_record(row: dict[str, Any], component_rows: Iterable[dict[str, Any]],
              phase_rows: Iterable[dict[str, Any]] = (), value_rows: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The documented JSON shape of a run (see `mlfootprint show --json`)."""
    from ..quality import generalization_gaps, phase_records

    value_rows = list(value_rows)
    counts = {v["name"]: v["value"] for v in value_rows if v["kind"] == "count"}
    metrics = {v["name"]: v["value"] for v in value_rows if v["kind"] == "metric"}
    forecast = {v["name"]: v["value"] for v in value_rows if v["kind"] == "forecast"}
    energy_j = row["energy_j"]
    return {
        "id": row["id"],
        "project": row["project"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "duration_s": row["duration_s"],
        "energy_j": row["energy_j"],
        "energy_uncertainty_j": row["energy_uncertainty_j"],
        "facility_energy_j": row["facility_energy_j"],
        "pue": row["pue"],
        "co2e_kg": row["co2e_kg"],
        "components": [
            {k: c[k] for k in ("key", "kind", "name", "energy_j", "method", "source", "uncertainty_rel", "note")}
            for c in component_rows
        ],
        "location": {
            "country": row["country"],
            "region": row["region"],
            "intensity_g_per_kwh": row["intensity_g_per_kwh"],
            "intensity_source": row["intensity_source"],
        },
        "scope": row["scope"],
        "interval_s": row["interval_s"],
        "host": row["host"],
        "pid": row["pid"],
        "command": row["command"],
        "exit_code": row["exit_code"],
        "phases": phase_records(list(phase_rows), energy_j),
        "counts": counts,
        "energy_per_sample_j": energy_j / counts["samples"] if counts.get("samples") else None,
        "energy_per_token_j": energy_j / counts["tokens"] if counts.get("tokens") else None,
        "metrics": metrics,
        "generalization_gap": generalization_gaps(metrics),
        # the last projection made from progress reports: estimated, never part of the measured totals
        "forecast": dict(forecast, method="estimated from progress") if forecast else None,
        # impact.assess() as of the last flush; None for runs recorded before schema 3
        "impact": json.loads(row["impact_json"]) if row.get("impact_json") else None,
        "settings": json.loads(row["settings_json"] or "{}"),
        "warnings": json.loads(row["warnings_json"] or "[]"),
    }


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    try:
        cur.execute("PRAGMA journal_mode=WAL")
    except Exception:  # read-only media: fine, default journal
        pass
    cur.close()


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
