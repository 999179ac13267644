"""The run record and the rows it is stored as: typed values, each shape defined here once.

Two shapes live here:

* the *rows* every writer stores (`RunRow`, `ComponentRow`, `SampleRow`, `PhaseRow`, `ValueRow`, defined
  in rows.py and re-exported here, and `WindowRow`), and `RunRows`, what one flush writes and what a
  spool file holds;
* the *record* (`RunRecord` and its parts), the documented JSON of `mlfootprint show --json`, exports
  and outputs, built from rows by `to_record`, once, outside any output.

Both are frozen dataclasses read as attributes, so a key such as "energy_j" is spelled nowhere but as
a field name here; `shapes.to_json` gives the JSON (same keys, same order as the dicts of earlier
versions) and `shapes.from_json` reads it back. Values are made safe for every store on the way in
(`clean_rows`: a NaN metric or an over-long name must never make a whole save fail).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

from .impact import Impact, energy_basis
from .quality import PhaseFigures, generalization_gaps, phase_records
from .serving.figures import ServeConfig, Serving, ServingEstimate, Window, summarize_windows
from .rows import ComponentRow, PhaseRow, RunKind, RunRow, SampleRow, ValueRow, row, row_fields
from .shapes import JSON_KEY, ShapeError, from_json, to_json

__all__ = ["MAX_NAME", "MAX_PATH", "Component", "ComponentRow", "ForecastFigures", "JobLink", "Location", "PhaseRow", "RunKind",
           "RunRecord", "RunRows", "RunRow", "SampleRow", "Setting", "ValueRow", "WindowRow", "clean_rows", "clip",
           "dumps", "finite", "now_iso", "row", "row_fields", "to_record"]

# Column limits of the store (store/schema.py): longer names are cut, with a marker, never refused.
MAX_NAME = 200  # run_values.name
MAX_PATH = 255  # phases.path
_ELLIPSIS = "…"
_R = TypeVar("_R")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def finite(value: Any) -> float | None:
    """A float, or None for NaN, infinities and anything that is not a number."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def clip(text: str, limit: int) -> str:
    """Text a database column takes: at most `limit` characters, no NUL (PostgreSQL refuses it)."""
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def dumps(data: Any, **kwargs: Any) -> str:
    """Standard JSON (no NaN or Infinity, which strict parsers reject): non-finite floats become null.
    Typed values (dataclasses) are written in their JSON shape."""
    return json.dumps(_json_safe(to_json(data)), allow_nan=False, **kwargs)


def _json_safe(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_json_safe(v) for v in data]
    return data


WindowRow = Window  # a served model's time window (`mlfootprint serve`), defined with the serving figures


@dataclass(frozen=True)
class RunRows:
    """What one flush writes, and what a spool file holds (its JSON: `to_json`, plus the spool's own keys).
    The run row is whole at every flush (its changing columns are rewritten each time)."""

    run: RunRow
    components: list[ComponentRow] = field(default_factory=list)
    samples: list[SampleRow] = field(default_factory=list)
    phases: list[PhaseRow] = field(default_factory=list)
    values: list[ValueRow] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """Plain dicts for the store and spool files."""
        data: dict[str, Any] = to_json(self)
        return data


def clean_rows(phase_rows: Iterable[Mapping[str, Any]], value_rows: Iterable[Mapping[str, Any]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Phase and value rows (as the store receives them) that every store accepts: names clipped to the
    columns; values None when not finite.

    Clipping can make two names equal; the first one keeps its row (a run logging two 300-character
    metric names that differ only at the end is not a case worth a lost save).
    """
    phases: dict[str, dict[str, Any]] = {}
    for p in phase_rows:
        clean = to_json(replace(row(PhaseRow, p), path=clip(str(p["path"]), MAX_PATH)))
        phases.setdefault(clean["path"], clean)
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for v in value_rows:
        typed = row(ValueRow, dict(v, value=finite(v["value"])))
        clean = to_json(replace(typed, name=clip(str(typed.name), MAX_NAME)))
        values.setdefault((clean["kind"], clean["name"]), clean)
    return list(phases.values()), list(values.values())


# -- the record --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Component:
    key: str
    kind: str
    name: str
    energy_j: float
    method: str
    source: str
    uncertainty_rel: float
    note: str | None
    charged_to: str | None = None  # nested runs: the run that is charged this energy


@dataclass(frozen=True)
class Location:
    country: str | None
    region: str | None
    intensity_g_per_kwh: float
    intensity_source: str


@dataclass(frozen=True)
class ForecastFigures:
    """The last projection made from progress reports: estimated, never part of the measured totals."""

    progress: float | None = None
    total_energy_j: float | None = None
    total_energy_j_low: float | None = None
    total_energy_j_high: float | None = None
    duration_s: float | None = None
    duration_s_low: float | None = None
    duration_s_high: float | None = None
    method: str = "estimated from progress"


@dataclass(frozen=True)
class JobLink:
    """The distributed job a run is one rank of (jobenv.detect, ownership.claim)."""

    id: str
    rank: int | None
    job_id: str | None = None
    launcher: str | None = None
    detected_from: str | None = None
    local_rank: int | None = None
    world_size: int | None = None
    local_world_size: int | None = None
    node_rank: int | None = None
    step: str | None = None
    note: str | None = None
    owns: list[str] = field(default_factory=list)  # gpu:N, host
    ownership: list[str] = field(default_factory=list)  # notes on devices another rank measures
    host_gpus: int | None = None


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from (argument, MLFOOTPRINT_X, a config file, default)."""

    value: Any
    origin: str = field(default="default", metadata={JSON_KEY: "from"})


@dataclass(frozen=True)
class RunRecord:
    """The documented JSON shape of a run (`mlfootprint show --json`)."""

    id: str
    project: str
    status: str
    started_at: str
    ended_at: str | None
    duration_s: float
    energy_j: float  # IT energy charged to this run (GPU, CPU, RAM)
    energy_uncertainty_j: float
    facility_energy_j: float  # IT energy x PUE
    pue: float
    co2e_kg: float  # operational, location-based
    components: list[Component]
    location: Location
    scope: str
    interval_s: float
    host: str
    pid: int
    command: str | None
    exit_code: int | None
    phases: list[PhaseFigures]
    counts: dict[str, float]
    energy_per_sample_j: float | None
    energy_per_token_j: float | None
    metrics: dict[str, float | None]  # None: logged, not a finite number
    generalization_gap: dict[str, float]
    forecast: ForecastFigures | None
    impact: Impact | None  # None for runs recorded before schema 3
    serving: Serving | None  # a served model (`mlfootprint serve`)
    job: JobLink | None  # None when it ran alone
    settings: dict[str, Setting]
    warnings: list[str]
    parent_id: str | None = None  # nested in that run (devices charged there), or a trial of that experiment
    kind: str = "run"  # run | experiment | trial (rows.RunKind)
    overlaps: list[str] = field(default_factory=list)  # unrelated runs measuring this machine at the same time

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        return from_json(cls, data, "record")

    def setting(self, name: str) -> Setting | None:
        return self.settings.get(name)

    @property
    def where(self) -> str:
        """The place a run was charged at, as shown: a cloud region, a country or zone, or the world average."""
        return self.location.region or self.location.country or "world average"


def _loads(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _decoded(cls: type[_R], text: str | None, what: str, warnings: list[str]) -> _R | None:
    """A typed value from a JSON column; an unreadable one (a damaged or foreign row) is reported, not fatal."""
    if not text:
        return None
    try:
        return from_json(cls, json.loads(text), what)
    except (ValueError, ShapeError) as exc:
        warnings.append(f"the stored {what} could not be read ({exc}); it is left out")
        return None


def to_record(run: Mapping[str, Any] | RunRow, component_rows: Iterable[Mapping[str, Any] | ComponentRow],
              phase_rows: Iterable[Mapping[str, Any] | PhaseRow] = (),
              value_rows: Iterable[Mapping[str, Any] | ValueRow] = (),
              window_rows: Iterable[Mapping[str, Any] | WindowRow] = ()) -> RunRecord:
    """The record of a run from its stored (or live) rows. Computes only what is derived from the rows
    themselves (inclusive phases, energy per sample, serving windows); the serving estimate was computed
    once, when the run ended, and is read back as stored."""
    r = run if isinstance(run, RunRow) else row(RunRow, run)
    comps = [c if isinstance(c, ComponentRow) else row(ComponentRow, c) for c in component_rows]
    values = [v if isinstance(v, ValueRow) else row(ValueRow, v) for v in value_rows]
    windows = [w if isinstance(w, WindowRow) else row(WindowRow, w) for w in window_rows]
    phases = [p if isinstance(p, PhaseRow) else row(PhaseRow, p) for p in phase_rows]
    counts = {v.name: v.value for v in values if v.kind == "count" and v.value is not None}
    metrics = {v.name: v.value for v in values if v.kind == "metric"}
    forecast = {v.name: v.value for v in values if v.kind == "forecast"}
    warnings = [str(w) for w in _loads(r.warnings_json, [])]
    settings = {str(k): _setting(v) for k, v in _loads(r.settings_json, {}).items()}
    # energy per sample or token, and phase shares, are over the energy the run read: for a nested run
    # (its devices charged to the outer run) that is the charged-elsewhere energy too
    read_j = r.energy_j + sum(c.energy_j for c in comps if c.charged_to)
    serving = None
    if windows:
        serve = settings.get("serve")
        config = _serve_config(serve.value if serve else None)
        estimate = _decoded(ServingEstimate, r.serving_estimate_json, "serving estimate", warnings)
        serving = summarize_windows(windows, r.co2e_kg / r.energy_j if r.energy_j else 0.0, config,
                                    energy_basis((c.method, c.kind) for c in comps)[0], estimate)
    job = None
    if r.job_id:
        details = _loads(r.job_json, {})
        try:
            job = from_json(JobLink, dict(details if isinstance(details, dict) else {}, id=r.job_id, rank=r.job_rank),
                            "job")
        except ShapeError as exc:
            warnings.append(f"the stored job details could not be read ({exc})")
            job = JobLink(id=r.job_id, rank=r.job_rank)
    return RunRecord(
        id=r.id, project=r.project, status=r.status, started_at=r.started_at, ended_at=r.ended_at,
        duration_s=r.duration_s, energy_j=r.energy_j, energy_uncertainty_j=r.energy_uncertainty_j,
        facility_energy_j=r.facility_energy_j, pue=r.pue, co2e_kg=r.co2e_kg,
        components=[Component(c.key, c.kind, c.name, c.energy_j, c.method, c.source, c.uncertainty_rel, c.note,
                              c.charged_to) for c in comps],
        location=Location(r.country, r.region, r.intensity_g_per_kwh, r.intensity_source),
        scope=r.scope, interval_s=r.interval_s, host=r.host, pid=r.pid, command=r.command, exit_code=r.exit_code,
        phases=phase_records(phases, read_j),
        counts=counts,
        energy_per_sample_j=read_j / counts["samples"] if counts.get("samples") else None,
        energy_per_token_j=read_j / counts["tokens"] if counts.get("tokens") else None,
        metrics=metrics,
        generalization_gap=generalization_gaps({k: v for k, v in metrics.items() if v is not None}),
        forecast=from_json(ForecastFigures, forecast) if forecast else None,
        impact=_decoded(Impact, r.impact_json, "impact", warnings),
        serving=serving, job=job, settings=settings, warnings=warnings, parent_id=r.parent_id, kind=r.kind or "run",
        overlaps=[str(x) for x in _loads(r.overlaps_json, [])],
    )


def _setting(data: Any) -> Setting:
    try:
        return from_json(Setting, data, "setting")
    except ShapeError:  # a bare value (never written by mlfootprint, but a hand-made file may hold one)
        return Setting(data)


def _serve_config(data: Any) -> ServeConfig | None:
    if not isinstance(data, dict):
        return None
    try:
        return from_json(ServeConfig, data, "serve")
    except ShapeError:
        return None


