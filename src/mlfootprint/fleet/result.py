"""The fleet result: frozen dataclasses whose JSON shape (shapes.to_json) is what `fleet --json` prints,
`report` renders and `statement` quotes. Every figure is an `impact.Figure` (value, low, high, unit,
basis, source); `energy_j` alone is the plain number the counters give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..impact import Figure
from ..shapes import from_json, to_json

KIND = "mlfootprint-fleet"  # what `report` and `statement` recognise a fleet result by
SCHEMA = 1


@dataclass(frozen=True)
class GroupImpact:
    """A group's (or the fleet's) figures, from impact.assess per site, summed over its sites."""

    energy: Figure  # IT energy with its range
    facility_energy_j: Figure
    co2e_location_kg: Figure  # operational, location-based
    co2e_market_kg: Figure | None  # operational, market-based: only where a site states contractual instruments
    co2e_embodied_kg: Figure
    co2e_total_kg: Figure  # location-based operational + embodied
    water_l: Figure
    electricity_cost: Figure | None


@dataclass(frozen=True)
class SiteEnergy:
    site: str
    energy_j: float


@dataclass(frozen=True)
class FleetGroup:
    name: str  # "namespace=team-a", or "unallocated (idle capacity)"
    labels: dict[str, str]  # the --by label values; empty for the unallocated group
    unallocated: bool
    energy_j: float  # the devices' own energy, as the counters say (sum over sources)
    share: float  # of the fleet's energy
    device_hours: float  # GPU-hours the group held (from the GPU sources' samples x their scrape interval)
    sources: dict[str, float]  # energy_j by source
    sites: list[SiteEnergy]
    impact: GroupImpact


@dataclass(frozen=True)
class Totals:
    energy_j: float
    unallocated_j: float
    unallocated_share: float
    device_hours: float
    devices: int  # distinct devices (GPUs) seen, where the source names them
    impact: GroupImpact


@dataclass(frozen=True)
class ModelServing:
    """A served model: its pods' energy joined with its request and token counters."""

    model: str
    requests: float
    tokens: float | None
    energy_j: float
    j_per_1k_requests: float | None
    j_per_million_tokens: float | None
    co2e_total_kg: Figure
    co2e_kg_per_1k_requests: float | None
    co2e_kg_per_million_tokens: float | None
    workloads: int  # join keys (pods) that served it
    basis: str


@dataclass(frozen=True)
class Serving:
    join_on: list[str]
    how: str  # how energy and counters were joined, in words
    requests_selector: str | None
    tokens_selector: str | None
    model_label: str | None
    models: list[ModelServing]
    unjoined_requests: float  # requests whose join key had no energy series
    unjoined_workloads: int


@dataclass(frozen=True)
class Gap:
    source: str
    series: dict[str, str]
    group: str
    start: str
    end: str
    length_s: float
    energy_j: float  # what the counter counted across the gap
    counted: bool  # whether that energy is in the totals
    note: str


@dataclass(frozen=True)
class Reset:
    source: str
    series: dict[str, str]
    group: str
    at: str
    value_before: float
    value_after: float


@dataclass(frozen=True)
class SourceUsed:
    name: str
    selector: str
    unit: str
    basis: str
    uncertainty_rel: float
    method: str  # exact | increase
    citation: str
    series: int
    devices: int
    workload_label: str | None
    labels: dict[str, str]  # canonical -> real label names used
    energy_j: float
    scrape_interval_s: float | None


@dataclass(frozen=True)
class QueryUsed:
    purpose: str
    promql: str
    kind: str
    calls: int
    seconds: float
    series: int
    points: int


@dataclass(frozen=True)
class SiteUsed:
    name: str
    zone: str
    pue: float
    intensity_g_per_kwh: float
    intensity_source: str
    hourly: str | None  # the hourly series' source, where one was used
    renewable_share: float | None
    energy_j: float


@dataclass(frozen=True)
class Line:
    name: str
    energy_j: list[float]


@dataclass(frozen=True)
class Timeline:
    """Energy per bucket (a day for periods over three days, else the tiles), by group, model and kind."""

    bucket_s: float
    starts: list[str]
    groups: list[Line]
    models: list[Line]
    kinds: list[Line]


@dataclass(frozen=True)
class Mover:
    name: str
    energy_j: float
    previous_energy_j: float
    change_j: float
    change_rel: float | None


@dataclass(frozen=True)
class Previous:
    start: str
    end: str
    energy_j: float
    groups: dict[str, float]


@dataclass(frozen=True)
class FleetResult:
    kind: str
    schema: int
    prometheus: str  # masked URL
    server_version: str
    start: str
    end: str
    duration_s: float
    by: list[str]
    method: str  # how counters became energy, in words
    sources: list[SourceUsed]
    groups: list[FleetGroup]
    totals: Totals
    kinds: dict[str, float]  # energy_j by kind of work: serving / other / unallocated, or a label's values
    sites: list[SiteUsed]
    serving: Serving | None
    gaps: list[Gap]
    gaps_not_listed: int
    resets: list[Reset]
    resets_not_listed: int
    timeline: Timeline
    previous: Previous | None
    movers: list[Mover]
    warnings: list[str]
    queries: list[QueryUsed]
    elapsed_s: float
    note: str | None = None  # the user's words for the page's header (e.g. "simulated data")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data

    @classmethod
    def from_json(cls, data: Any) -> FleetResult:
        return from_json(cls, data, "fleet result")


def is_fleet_json(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == KIND


__all__ = ["FleetGroup", "FleetResult", "Gap", "GroupImpact", "KIND", "Line", "ModelServing", "Mover", "Previous",
           "QueryUsed", "Reset", "SCHEMA", "Serving", "SiteEnergy", "SiteUsed", "SourceUsed", "Timeline", "Totals",
           "is_fleet_json"]
