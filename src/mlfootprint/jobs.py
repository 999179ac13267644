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
from collections.abc import Iterable
from typing import Any

from .impact import BASES, weakest

STRAGGLER_SPREAD = 0.10  # a phase whose slowest rank takes this much longer than the median is reported
STRAGGLER_MIN_S = 0.5  # ... when it lasts at least this long (shorter phases are timing noise)
DEAD = ("interrupted", "failed")


def node_label(record: dict[str, Any]) -> str:
    job = record.get("job") or {}
    node = job.get("node_rank")
    return f"{record['host']} (node {node})" if node is not None else str(record["host"])


def status_of(records: list[dict[str, Any]], world_size: int | None) -> str:
    """completed: every rank finished; running: some still run; partial: ranks died or never
    reported (their flushed energy is still counted); failed: every rank failed."""
    statuses = [r["status"] for r in records]
    if statuses and all(s == "failed" for s in statuses):
        return "failed"
    missing = world_size is not None and len({_rank(r) for r in records}) < world_size
    if any(s in DEAD for s in statuses):
        return "partial"
    if any(s == "running" for s in statuses):
        return "running"
    return "partial" if missing else "completed"


def _rank(record: dict[str, Any]) -> int:
    rank = (record.get("job") or {}).get("rank")
    return rank if isinstance(rank, int) else -1


def _add_figures(figures: list[dict[str, Any]], what: str) -> dict[str, Any] | None:
    present = [f for f in figures if f]
    if not present:
        return None
    units = {f["unit"] for f in present}
    if len(units) > 1:  # e.g. prices in two currencies: not summable
        return None
    return {"value": sum(f["value"] for f in present), "low": sum(f["low"] for f in present),
            "high": sum(f["high"] for f in present), "unit": units.pop(),
            "basis": weakest(*(f["basis"] for f in present)),
            "source": f"sum over {len(present)} rank(s) of: {present[0]['source']}"
                      + (" (other ranks alike)" if len(present) > 1 else "")}


def job_impact(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The job's impact figures: each rank charges only the devices it measured, so they add up."""
    # ranks that measured nothing (their devices are other ranks') add nothing to the job's impact
    impacts = [r["impact"] for r in records if r.get("impact") and r["components"]]
    if not impacts:
        return None
    out: dict[str, Any] = {
        "basis": weakest(*(i["basis"] for i in impacts)),
        "basis_detail": " | ".join(dict.fromkeys(i.get("basis_detail") or i["basis"] for i in impacts)),
    }
    for key, value in impacts[0].items():
        if isinstance(value, dict) and key != "equivalents" and ("value" in value or value is None):
            out[key] = _add_figures([i.get(key) for i in impacts], key)
    for key in ("co2e_market_kg", "electricity_cost", "instance_cost"):
        out.setdefault(key, _add_figures([i.get(key) for i in impacts], key))
    equivalents = {k: _add_figures([i.get("equivalents", {}).get(k) for i in impacts], k)
                   for k in impacts[0].get("equivalents", {})}
    out["equivalents"] = {k: v for k, v in equivalents.items() if v}
    out["embodied_items"] = [dict(item, rank=_rank(r)) for r in records if r.get("impact") and r["components"]
                             for item in r["impact"].get("embodied_items", [])]
    return out


def merge_phases(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Phases across ranks: energy summed, wall time the slowest rank's, and the per-rank spread."""
    by_phase: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for r in records:
        for p in r.get("phases") or []:
            by_phase.setdefault(p["phase"], []).append((_rank(r), p))
    merged = []
    for phase, entries in by_phase.items():
        times = [p["duration_s"] for _, p in entries]
        slow_rank, slow = max(entries, key=lambda e: e[1]["duration_s"])
        fast_rank, fast = min(entries, key=lambda e: e[1]["duration_s"])
        median = statistics.median(times)
        energy = sum(p["energy_j"] for _, p in entries)
        items = sum(p.get("items") or 0 for _, p in entries)
        merged.append({
            "phase": phase, "ranks": len(entries), "energy_j": energy,
            "by_kind": {k: sum(p["by_kind"][k] for _, p in entries) for k in ("gpu", "cpu", "ram")},
            "wall_s": slow["duration_s"], "median_s": median, "fastest_s": fast["duration_s"],
            "slowest_rank": slow_rank, "fastest_rank": fast_rank,
            "spread": (slow["duration_s"] - median) / median if median > 0 else 0.0,
            "items": items or None, "energy_per_item_j": energy / items if items else None,
        })
    return sorted(merged, key=lambda p: (p["phase"] == "(outside phases)", p["phase"]))


def stragglers(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"phase": p["phase"], "rank": p["slowest_rank"], "slowest_s": p["wall_s"], "median_s": p["median_s"],
             "excess": p["spread"]}
            for p in phases if p["ranks"] > 1 and p["phase"] != "(outside phases)"
            and p["spread"] >= STRAGGLER_SPREAD and p["wall_s"] >= STRAGGLER_MIN_S]


def summarize(job_id: str, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The documented JSON shape of a job (`mlfootprint show JOB --json`)."""
    recs = sorted(records, key=lambda r: (_rank(r), r["started_at"]))
    if not recs:
        raise ValueError(f"job {job_id!r} has no runs")
    jobs = [r.get("job") or {} for r in recs]
    world = max((j["world_size"] for j in jobs if isinstance(j.get("world_size"), int)), default=None)
    seen_ranks = sorted({_rank(r) for r in recs if _rank(r) >= 0})
    nodes: dict[str, dict[str, Any]] = {}
    devices = []
    for r, j in zip(recs, jobs):
        node = nodes.setdefault(node_label(r), {"node": node_label(r), "host": r["host"], "ranks": [],
                                                "energy_j": 0.0, "by_kind": {"gpu": 0.0, "cpu": 0.0, "ram": 0.0},
                                                "measured_by": {}})
        node["ranks"].append(_rank(r))
        node["energy_j"] += r["energy_j"]
        for c in r["components"]:
            node["by_kind"][c["kind"]] = node["by_kind"].get(c["kind"], 0.0) + c["energy_j"]
            node["measured_by"].setdefault(c["kind"], _rank(r))
            devices.append({"node": node_label(r), "host": r["host"], "key": c["key"], "kind": c["kind"],
                            "name": c["name"], "rank": _rank(r), "energy_j": c["energy_j"], "method": c["method"]})
    gpus = {(d["host"], d["key"]) for d in devices if d["kind"] == "gpu"}
    counts: dict[str, float] = {}
    for r in recs:
        for k, v in (r.get("counts") or {}).items():
            counts[k] = counts.get(k, 0.0) + v
    metrics: dict[str, Any] = next((r["metrics"] for r in recs if r.get("metrics")), {})
    energy_j = sum(r["energy_j"] for r in recs)
    ended = [r["ended_at"] for r in recs if r.get("ended_at")]
    phases = merge_phases(recs)
    methods = {c["method"] for r in recs for c in r["components"]}
    return {
        "id": job_id,
        "launcher": jobs[0].get("launcher"),
        "detected_from": jobs[0].get("detected_from"),
        "projects": sorted({r["project"] for r in recs}),
        "status": status_of(recs, world),
        "started_at": min(r["started_at"] for r in recs),
        "ended_at": max(ended) if ended and len(ended) == len(recs) else None,
        "wall_s": max(r["duration_s"] for r in recs),
        "ranks": len(recs),
        "world_size": world,
        "missing_ranks": sorted(set(range(world)) - set(seen_ranks)) if world else [],
        "nodes": list(nodes.values()),
        "gpus": len(gpus),
        "devices": devices,
        "energy_j": energy_j,
        "energy_basis": max(methods, key=BASES.index) if methods else "modelled",
        "energy_uncertainty_j": sum(r["energy_uncertainty_j"] for r in recs),  # linear, as impact.uncertainty_j
        "facility_energy_j": sum(r["facility_energy_j"] for r in recs),
        "co2e_kg": sum(r["co2e_kg"] for r in recs),
        "counts": counts,
        "energy_per_sample_j": energy_j / counts["samples"] if counts.get("samples") else None,
        "energy_per_token_j": energy_j / counts["tokens"] if counts.get("tokens") else None,
        "metrics": metrics,
        "phases": phases,
        "stragglers": stragglers(phases),
        "rank_runs": [{"rank": _rank(r), "run_id": r["id"], "node": node_label(r), "status": r["status"],
                       "duration_s": r["duration_s"], "energy_j": r["energy_j"], "owns": j.get("owns", []),
                       "exit_code": r.get("exit_code")} for r, j in zip(recs, jobs)],
        "impact": job_impact(recs),
        "notes": sorted({n for j in jobs for n in j.get("ownership", []) if "unchecked" in n}
                        | {w for r in recs for w in r.get("warnings", []) if "rdzv-id" in w or "MLFOOTPRINT_JOB" in w}),
    }


def list_jobs(reader: Any, limit: int | None = None, project: str | None = None) -> list[dict[str, Any]]:
    """One row per distributed job, newest first: ranks, nodes, GPUs, energy, CO2e, status
    (`reader`: a store Reader; its job_rows are the raw rows, shaped here)."""
    return [job_list_row(j.job_id, j.runs, set(j.gpus)) for j in reader.job_rows(limit=limit, project=project)]


def job_list_row(job_id: str, rows: list[dict[str, Any]], gpus: set[tuple[str, str]]) -> dict[str, Any]:
    """A job's line in `mlfootprint jobs`, from its ranks' run rows (no per-rank records needed)."""
    jobs = [json.loads(r.get("job_json") or "{}") for r in rows]
    world = max((j["world_size"] for j in jobs if isinstance(j.get("world_size"), int)), default=None)
    recs = [{"status": r["status"], "job": dict(j, rank=r.get("job_rank"))} for r, j in zip(rows, jobs)]
    return {
        "job_id": job_id, "launcher": jobs[0].get("launcher") if jobs else None,
        "projects": sorted({r["project"] for r in rows}), "started_at": min(r["started_at"] for r in rows),
        "ranks": len(rows), "world_size": world,
        "nodes": len({node_label({"host": r["host"], "job": j}) for r, j in zip(rows, jobs)}),
        "gpus": len(gpus), "wall_s": max(r["duration_s"] for r in rows),
        "energy_j": sum(r["energy_j"] for r in rows), "co2e_kg": sum(r["co2e_kg"] for r in rows),
        "status": status_of(recs, world),
    }
