"""The rows every writer stores, one dataclass field per column of store/schema.py (tests/test_record.py
checks they match). Apart from record.py, which builds the run record from them, so that a listing
(`mlfootprint runs`, the dashboard) reads typed rows without importing the record's parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar

from .shapes import from_json

__all__ = ["ComponentRow", "PhaseRow", "RunKind", "RunRow", "SampleRow", "ValueRow", "row", "row_fields"]

_R = TypeVar("_R")

# what a run row is: a run; an experiment (an entry its trials are grouped under, measuring nothing itself);
# a trial of an experiment (listed under it, charged its own devices)
RunKind = Literal["run", "experiment", "trial"]


@dataclass(frozen=True)
class RunRow:
    """A run's row of the `runs` table. Fields after `impact_json` came with later schemas (None in older stores)."""

    id: str
    project: str
    status: str  # running | completed | failed | interrupted (tracker.RunState)
    started_at: str
    ended_at: str | None
    heartbeat_at: str | None
    duration_s: float
    energy_j: float  # IT energy charged to this run
    energy_uncertainty_j: float
    facility_energy_j: float
    pue: float
    co2e_kg: float  # operational, location-based
    country: str | None
    region: str | None
    intensity_g_per_kwh: float
    intensity_source: str
    scope: str
    interval_s: float
    host: str
    pid: int
    command: str | None
    exit_code: int | None
    settings_json: str | None
    warnings_json: str | None
    impact_json: str | None
    job_id: str | None = None
    job_rank: int | None = None
    job_json: str | None = None
    parent_id: str | None = None  # the run this one is nested in, or the experiment it is a trial of
    kind: str = "run"  # run | experiment | trial (RunKind; str: a newer version may store another)
    serving_estimate_json: str | None = None
    overlaps_json: str | None = None  # unrelated runs that measured this machine at the same time


@dataclass(frozen=True)
class ComponentRow:
    key: str
    kind: str  # gpu | cpu | ram
    name: str
    method: str  # measured | modelled | simulated
    source: str
    uncertainty_rel: float
    energy_j: float
    note: str | None = None
    charged_to: str | None = None  # the run this energy is charged to, when not this one (nested runs)


@dataclass(frozen=True)
class SampleRow:
    t_s: float  # end of the interval, seconds since the run started
    key: str
    energy_j: float
    power_w: float
    phase: str | None = None
    span_s: float | None = None  # seconds it covers once rolled up (None: one sampling interval)


@dataclass(frozen=True)
class PhaseRow:
    path: str  # "" = outside every phase
    duration_s: float  # exclusive
    energy_j: float  # exclusive
    gpu_energy_j: float
    cpu_energy_j: float
    ram_energy_j: float
    entries: int
    items: float


@dataclass(frozen=True)
class ValueRow:
    kind: str  # count | metric | forecast
    name: str
    value: float | None  # None: logged, but not a finite number


def row(cls: type[_R], mapping: Mapping[str, Any]) -> _R:
    """A row dataclass from a database row or a spool-file dict (unknown columns ignored)."""
    return from_json(cls, mapping)


def row_fields(cls: type) -> list[str]:
    """The column names a row dataclass stands for (tests compare them with store/schema.py)."""
    return [f.name for f in fields(cls)]
