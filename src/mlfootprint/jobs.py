"""A distributed job as one thing: its ranks' records added up, each device once.

Every device of a job has exactly one owner rank (ownership.py), so the job's energy, CO2e, water
and embodied share are plain sums over its ranks. Work counts are summed too (each rank counts its
own samples); quality metrics are the lowest rank's (ranks log the same evaluation, or rank 0 alone
does). Phases are merged across ranks: energy summed, wall time the slowest rank's, and the spread
between ranks is reported as stragglers.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .impact import BASES, EmbodiedItem, Figure, Impact, weakest
from .quality import KINDS
from .record import JobLink, RunRecord, RunRow, row
from .shapes import to_json

STRAGGLER_SPREAD = 0.10  # a phase whose slowest rank takes this much longer than the median is reported
STRAGGLER_MIN_S = 0.5  # ... when it lasts at least this long (shorter phases are timing noise)
_DEAD = ("interrupted", "failed")


@dataclass(frozen=True)
class NodeFigures:
    node: str  # "host (node N)"
    host: str
    ranks: list[int]
    energy_j: float
    by_kind: dict[str, float]
    measured_by: dict[str, int]  # kind -> the rank that measured it on this node


@dataclass(frozen=True)
class Device:
    node: str
    host: str
    key: str
    kind: str
    name: str
    rank: int
    energy_j: float
    method: str


@dataclass(frozen=True)
class JobPhase:
    phase: str
    ranks: int
    energy_j: float  # summed over ranks
    by_kind: dict[str, float]
    wall_s: float  # the slowest rank's
    median_s: float
    fastest_s: float
    slowest_rank: int
    fastest_rank: int
    spread: float  # (slowest - median) / median
    items: float | None
    energy_per_item_j: float | None


@dataclass(frozen=True)
class Straggler:
    phase: str
    rank: int
    slowest_s: float
    median_s: float
    excess: float


@dataclass(frozen=True)
class RankRun:
    rank: int
    run_id: str
    node: str
    status: str
    duration_s: float
    energy_j: float
    owns: list[str]
    exit_code: int | None


@dataclass(frozen=True)
class JobSummary:
    """The documented JSON shape of a job (`mlfootprint show JOB --json`)."""

    id: str
    launcher: str | None
    detected_from: str | None
    projects: list[str]
    status: str  # completed | running | partial | failed
    started_at: str
    ended_at: str | None
    wall_s: float
    ranks: int
    world_size: int | None
    missing_ranks: list[int]
    nodes: list[NodeFigures]
    gpus: int
    devices: list[Device]
    energy_j: float  # IT energy, summed over ranks (each device once)
    energy_basis: str
    energy_uncertainty_j: float
    facility_energy_j: float
    co2e_kg: float  # operational, location-based
    counts: dict[str, float]
    energy_per_sample_j: float | None
    energy_per_token_j: float | None
    metrics: dict[str, float | None]
    phases: list[JobPhase]
    stragglers: list[Straggler]
    rank_runs: list[RankRun]
    impact: Impact | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data


@dataclass(frozen=True)
class JobListRow:
    """A job's line in `mlfootprint jobs`."""

    job_id: str
    launcher: str | None
    projects: list[str]
    started_at: str
    ranks: int
    world_size: int | None
    nodes: int
    gpus: int
    wall_s: float
    energy_j: float
    co2e_kg: float
    status: str


def node_label(host: str, job: JobLink | None) -> str:
    node = job.node_rank if job is not None else None
    return f"{host} (node {node})" if node is not None else host


def status_of(statuses: list[str], ranks_seen: int, world_size: int | None) -> str:
    """completed: every rank finished; running: some still run; partial: ranks died or never
    reported (their flushed energy is still counted); failed: every rank failed."""
    if statuses and all(s == "failed" for s in statuses):
        return "failed"
    missing = world_size is not None and ranks_seen < world_size
    if any(s in _DEAD for s in statuses):
        return "partial"
    if any(s == "running" for s in statuses):
        return "running"
    return "partial" if missing else "completed"


def _rank(record: RunRecord) -> int:
    rank = record.job.rank if record.job is not None else None
    return rank if isinstance(rank, int) else -1


def _add(figures: list[Figure | None]) -> Figure | None:
    present = [f for f in figures if f is not None]
    if not present:
        return None
    if len({f.unit for f in present}) > 1:  # e.g. prices in two currencies: not summable
        return None
    first = present[0]
    return Figure(sum(f.value for f in present), sum(f.low for f in present), sum(f.high for f in present),
                  first.unit, weakest(*(f.basis for f in present)),
                  f"sum over {len(present)} rank(s) of: {first.source}" + (" (other ranks alike)" if len(present) > 1
                                                                          else ""))


def job_impact(records: list[RunRecord]) -> Impact | None:
    """The job's impact figures: each rank charges only the devices it measured, so they add up."""
    # ranks that measured nothing (their devices are other ranks') add nothing to the job's impact
    ranked = [(r, r.impact) for r in records if r.impact is not None and r.components]
    if not ranked:
        return None
    impacts = [i for _, i in ranked]
    summed: dict[str, Any] = {}
    for f in fields(Impact):
        values = [getattr(i, f.name) for i in impacts]
        if all(v is None or isinstance(v, Figure) for v in values):
            summed[f.name] = _add(values)
    equivalents = {k: _add([i.equivalents.get(k) for i in impacts]) for k in impacts[0].equivalents}
    return Impact(basis=weakest(*(i.basis for i in impacts)),
                  basis_detail=" | ".join(dict.fromkeys(i.basis_detail or i.basis for i in impacts)),
                  equivalents={k: v for k, v in equivalents.items() if v is not None},
                  embodied_items=[replace(item, rank=_rank(r)) for r, i in ranked for item in i.embodied_items],
                  **summed)


def merge_phases(records: list[RunRecord]) -> list[JobPhase]:
    """Phases across ranks: energy summed, wall time the slowest rank's, and the per-rank spread."""
    by_phase: dict[str, list[tuple[int, Any]]] = {}
    for r in records:
        for p in r.phases:
            by_phase.setdefault(p.phase, []).append((_rank(r), p))
    merged = []
    for phase, entries in by_phase.items():
        times = [p.duration_s for _, p in entries]
        slow_rank, slow = max(entries, key=lambda e: e[1].duration_s)
        fast_rank, fast = min(entries, key=lambda e: e[1].duration_s)
        median = statistics.median(times)
        energy = sum(p.energy_j for _, p in entries)
        items = sum(p.items or 0 for _, p in entries)
        merged.append(JobPhase(
            phase=phase, ranks=len(entries), energy_j=energy,
            by_kind={k: sum(p.by_kind.get(k, 0.0) for _, p in entries) for k in KINDS},
            wall_s=slow.duration_s, median_s=median, fastest_s=fast.duration_s,
            slowest_rank=slow_rank, fastest_rank=fast_rank,
            spread=(slow.duration_s - median) / median if median > 0 else 0.0,
            items=items or None, energy_per_item_j=energy / items if items else None))
    return sorted(merged, key=lambda p: (p.phase == "(outside phases)", p.phase))


def stragglers(phases: list[JobPhase]) -> list[Straggler]:
    return [Straggler(p.phase, p.slowest_rank, p.wall_s, p.median_s, p.spread)
            for p in phases if p.ranks > 1 and p.phase != "(outside phases)"
            and p.spread >= STRAGGLER_SPREAD and p.wall_s >= STRAGGLER_MIN_S]


def summarize(job_id: str, records: Iterable[RunRecord]) -> JobSummary:
    """The job's summary from its ranks' records."""
    recs = sorted(records, key=lambda r: (_rank(r), r.started_at))
    if not recs:
        raise ValueError(f"job {job_id!r} has no runs")
    links = [r.job for r in recs]
    world = max((j.world_size for j in links if j is not None and isinstance(j.world_size, int)), default=None)
    seen_ranks = sorted({_rank(r) for r in recs if _rank(r) >= 0})
    nodes: dict[str, NodeFigures] = {}
    devices = []
    for r, j in zip(recs, links):
        label = node_label(r.host, j)
        node = nodes.get(label) or NodeFigures(label, r.host, [], 0.0, dict.fromkeys(KINDS, 0.0), {})
        charged = [c for c in r.components if not c.charged_to]
        by_kind = dict(node.by_kind)
        measured_by = dict(node.measured_by)
        for c in charged:
            by_kind[c.kind] = by_kind.get(c.kind, 0.0) + c.energy_j
            measured_by.setdefault(c.kind, _rank(r))
            devices.append(Device(label, r.host, c.key, c.kind, c.name, _rank(r), c.energy_j, c.method))
        nodes[label] = replace(node, ranks=[*node.ranks, _rank(r)], energy_j=node.energy_j + r.energy_j,
                               by_kind=by_kind, measured_by=measured_by)
    gpus = {(d.host, d.key) for d in devices if d.kind == "gpu"}
    counts: dict[str, float] = {}
    for r in recs:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0.0) + v
    metrics = next((r.metrics for r in recs if r.metrics), {})
    energy_j = sum(r.energy_j for r in recs)
    ended = [r.ended_at for r in recs if r.ended_at]
    phases = merge_phases(recs)
    methods = {c.method for r in recs for c in r.components if not c.charged_to}
    first = links[0]
    return JobSummary(
        id=job_id, launcher=first.launcher if first else None, detected_from=first.detected_from if first else None,
        projects=sorted({r.project for r in recs}), status=status_of([r.status for r in recs], len(seen_ranks), world),
        started_at=min(r.started_at for r in recs), ended_at=max(ended) if ended and len(ended) == len(recs) else None,
        wall_s=max(r.duration_s for r in recs), ranks=len(recs), world_size=world,
        missing_ranks=sorted(set(range(world)) - set(seen_ranks)) if world else [],
        nodes=list(nodes.values()),
        gpus=len(gpus), devices=devices, energy_j=energy_j,
        energy_basis=max(methods, key=BASES.index) if methods else "modelled",
        energy_uncertainty_j=sum(r.energy_uncertainty_j for r in recs),  # linear, as impact.uncertainty_j
        facility_energy_j=sum(r.facility_energy_j for r in recs), co2e_kg=sum(r.co2e_kg for r in recs),
        counts=counts,
        energy_per_sample_j=energy_j / counts["samples"] if counts.get("samples") else None,
        energy_per_token_j=energy_j / counts["tokens"] if counts.get("tokens") else None,
        metrics=metrics, phases=phases, stragglers=stragglers(phases),
        rank_runs=[RankRun(_rank(r), r.id, node_label(r.host, j), r.status, r.duration_s, r.energy_j,
                           list(j.owns) if j else [], r.exit_code) for r, j in zip(recs, links)],
        impact=job_impact(recs),
        notes=sorted({n for j in links if j for n in j.ownership if "unchecked" in n}
                     | {w for r in recs for w in r.warnings if "rdzv-id" in w or "MLFOOTPRINT_JOB" in w}),
    )


def job_list_row(job_id: str, rows: list[Mapping[str, Any]], gpus: set[tuple[str, str]]) -> JobListRow:
    """A job's line in `mlfootprint jobs`, from its ranks' run rows (no per-rank records needed)."""
    runs = [row(RunRow, r) for r in rows]
    links = [JobLink(**_link_fields(json.loads(r.job_json or "{}")), id=job_id, rank=r.job_rank) for r in runs]
    world = max((j.world_size for j in links if isinstance(j.world_size, int)), default=None)
    ranks_seen = len({j.rank for j in links if isinstance(j.rank, int) and j.rank >= 0})
    return JobListRow(
        job_id=job_id, launcher=links[0].launcher if links else None, projects=sorted({r.project for r in runs}),
        started_at=min(r.started_at for r in runs), ranks=len(runs), world_size=world,
        nodes=len({node_label(r.host, j) for r, j in zip(runs, links)}), gpus=len(gpus),
        wall_s=max(r.duration_s for r in runs), energy_j=sum(r.energy_j for r in runs),
        co2e_kg=sum(r.co2e_kg for r in runs), status=status_of([r.status for r in runs], ranks_seen, world))


def list_jobs(reader: Any, limit: int | None = None, project: str | None = None) -> list[JobListRow]:
    """One row per distributed job of a store, newest first (`reader`: a store Reader; its job_rows are
    the raw rows, shaped here, so the store need not know what a job is)."""
    return [job_list_row(j.job_id, j.runs, set(j.gpus)) for j in reader.job_rows(limit=limit, project=project)]


def _link_fields(details: Any) -> dict[str, Any]:
    if not isinstance(details, dict):
        return {}
    known = {f.name for f in fields(JobLink)} - {"id", "rank"}
    return {k: v for k, v in details.items() if k in known}


__all__ = ["STRAGGLER_MIN_S", "STRAGGLER_SPREAD", "Device", "JobListRow", "JobPhase", "JobSummary", "NodeFigures",
           "RankRun", "Straggler", "job_impact", "job_list_row", "list_jobs", "merge_phases", "node_label", "status_of",
           "stragglers", "summarize"]
