"""The store's tables as plain data: each column's name, type, size, whether it may be NULL, its default.

Why plain data: a run writes its rows through the standard library's sqlite3 (source.py), and the
writer must know what each column holds (fit.py stores a value that does not fit as NULL) without
importing SQLAlchemy, which costs a short script more than the rest of its tracking. schema.py builds
the SQLAlchemy tables (for creating and upgrading a store) from these same columns, so they are
spelled once; tests/store/test_tables.py checks the two agree and that a new store is created as
before.

A change of the tables: bump SCHEMA_VERSION in layout.py, add the upgrade from the previous version in
migrations.py, list a new column with its old-row value in layout.ADDED_COLUMNS, and commit a fixture
store of the old version under tests/store/fixtures/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

__all__ = ["TABLES", "Column", "Table", "components", "meta", "phases", "run_values", "runs", "samples",
           "serving_windows"]

Kind = Literal["int", "float", "text"]


@dataclass(frozen=True)
class Column:
    """One column. `length`: a text column's most characters (VARCHAR(length)); None: unbounded (TEXT).
    `default`: what an INSERT that leaves the column out stores (`server_default`: also the database's own
    default, for rows written by older versions). `references`: the run the row belongs to (deleted with it)."""

    name: str
    kind: Kind
    length: int | None = None
    nullable: bool = True
    primary_key: bool = False
    default: Any = None
    server_default: str | None = None
    references: str | None = None
    autoincrement: bool = False

    @property
    def may_be_null(self) -> bool:
        return self.nullable and not self.primary_key

    @property
    def has_default(self) -> bool:
        return self.default is not None or self.server_default is not None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # index name -> its columns

    @cached_property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    def get(self, name: str) -> Column | None:
        return self.by_name.get(name)


def _text(name: str, length: int | None = None, **kw: Any) -> Column:
    return Column(name, "text", length, **kw)


def _float(name: str, **kw: Any) -> Column:
    return Column(name, "float", **kw)


def _int(name: str, **kw: Any) -> Column:
    return Column(name, "int", **kw)


_OWNER = dict(references="runs.id", primary_key=True)  # a row of a run, keyed by its run and more

meta = Table("mlfootprint_meta", (
    _text("key", 64, primary_key=True),
    _text("value", nullable=False),
))

runs = Table("runs", (
    _text("id", 32, primary_key=True),
    _text("project", 200, nullable=False),
    _text("status", 16, nullable=False),  # running | completed | failed | interrupted
    _text("started_at", 40, nullable=False),  # ISO 8601, UTC
    _text("ended_at", 40),
    _text("heartbeat_at", 40),  # last flush; a running run whose heartbeat stopped died
    _float("duration_s", nullable=False, default=0.0),
    _float("energy_j", nullable=False, default=0.0),
    _float("energy_uncertainty_j", nullable=False, default=0.0),
    _float("facility_energy_j", nullable=False, default=0.0),
    _float("pue", nullable=False),
    _float("co2e_kg", nullable=False, default=0.0),
    _text("country", 16),
    _text("region", 64),
    _float("intensity_g_per_kwh", nullable=False),
    _text("intensity_source", nullable=False),
    _text("scope", 16, nullable=False),
    _float("interval_s", nullable=False),
    _text("host", 255, nullable=False),
    _int("pid", nullable=False),
    _text("command"),
    _int("exit_code"),
    _text("settings_json"),  # each setting that was set, with where it came from
    _text("warnings_json"),
    _text("impact_json"),  # impact.assess() at the last flush: CO2e, embodied, water, cost, equivalents
    _text("job_id", 128),  # the distributed job this run is a rank of (jobenv.detect); NULL: alone
    _int("job_rank"),
    _text("job_json"),  # launcher, detected_from, local rank, world sizes, node rank, devices owned
    # the run this one is nested in (a track inside a track, a server's middleware run under `serve`) or the
    # experiment it is a trial of; NULL: a top-level run
    _text("parent_id", 32),
    _text("kind", 16, nullable=False, default="run", server_default="run"),  # run | experiment | trial
    _text("serving_estimate_json"),  # the serving estimate, computed once at the run's end
    _text("overlaps_json"),  # unrelated runs that measured the same machine at the same time
), {"ix_runs_project": ("project",), "ix_runs_job": ("job_id",), "ix_runs_parent": ("parent_id",),
    "ix_runs_started": ("started_at",)})  # started: listings take the newest N runs without sorting them all

components = Table("components", (
    _text("run_id", 32, **_OWNER),
    _text("key", 64, primary_key=True),
    _text("kind", 8, nullable=False),
    _text("name", 255, nullable=False),
    _text("method", 16, nullable=False),
    _text("source", nullable=False),
    _float("uncertainty_rel", nullable=False),
    _float("energy_j", nullable=False),
    _text("note"),
    # the run this component's energy is charged to when it is not this one (a nested run reads the machine
    # for its phases, the outer run owns the devices); NULL: this run
    _text("charged_to", 32),
))

samples = Table("samples", (
    _int("id", primary_key=True, autoincrement=True),
    _text("run_id", 32, references="runs.id", nullable=False),
    _float("t_s", nullable=False),
    _text("key", 64, nullable=False),
    _float("energy_j", nullable=False),
    _float("power_w", nullable=False),
    _float("span_s"),  # seconds the sample covers, once rolled up (NULL: one sampling interval)
    _text("phase", 255),  # the phase that held most of the interval (NULL: none, or rolled up)
), {"ix_samples_run": ("run_id", "t_s")})

phases = Table("phases", (
    _text("run_id", 32, **_OWNER),
    _text("path", 255, primary_key=True),  # "" = time outside every phase
    _float("duration_s", nullable=False),  # exclusive: time it was the innermost phase
    _float("energy_j", nullable=False),  # exclusive
    _float("gpu_energy_j", nullable=False, default=0.0),
    _float("cpu_energy_j", nullable=False, default=0.0),
    _float("ram_energy_j", nullable=False, default=0.0),
    _int("entries", nullable=False, default=0),
    _float("items", nullable=False, default=0.0),  # e.g. requests served in an inference phase
))

run_values = Table("run_values", (
    _text("run_id", 32, **_OWNER),
    _text("kind", 16, primary_key=True),  # "metric" (log_metrics), "count" (count) or "forecast"
    _text("name", 200, primary_key=True),
    _float("value"),  # NULL: logged, but not a finite number (a diverged loss)
))

serving_windows = Table("serving_windows", (  # `mlfootprint serve`: what a server answered in each time window
    _text("run_id", 32, **_OWNER),
    _int("i", primary_key=True),  # window number, from 0
    _float("t_s", nullable=False),  # end of the window, seconds since the run started
    _float("duration_s", nullable=False),
    _float("energy_j", nullable=False),  # IT energy measured in the window
    _float("requests", nullable=False),  # counter increase over the window
    _float("tokens"),  # NULL: no token counter named
))

TABLES: dict[str, Table] = {t.name: t for t in (meta, runs, components, samples, phases, run_values,
                                                serving_windows)}
