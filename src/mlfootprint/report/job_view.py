"""A distributed job in the terminal: `mlfootprint jobs` and `mlfootprint show JOB`."""

from __future__ import annotations

from typing import Any, TypeVar

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..jobs import Device, JobListRow, JobSummary, RankRun
from .format import fmt_co2e, fmt_count, fmt_duration, fmt_energy, plain
from .model import Citations
from .terminal import impact_table, notes, user

T = TypeVar("T", Device, RankRun)

STATUS_STYLE = {"completed": "green", "failed": "red", "partial": "yellow", "interrupted": "yellow",
                "running": "cyan"}


def jobs_table(rows: list[JobListRow], width: int = 120) -> Table:
    table = Table(title="distributed jobs (newest first; IT energy and operational CO2e)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, padding=(0, 0, 0, 1))
    lines = [[plain(r.job_id), r.status, r.started_at[5:16].replace("T", " "),
              f"{r.ranks}/{r.world_size}" if r.world_size else str(r.ranks), str(r.nodes),
              str(r.gpus), fmt_duration(r.wall_s), fmt_energy(r.energy_j), fmt_co2e(r.co2e_kg)]
             for r in rows]
    headers = ("job", "status", "started UTC", "ranks", "nodes", "GPUs", "wall", "IT energy", "CO2e op.")
    for i, col in enumerate(headers):
        if col == "started UTC" and width < 90:  # 80 columns keep the figures, not the date
            continue
        natural = max([len(col), *(len(line[i]) for line in lines)])
        table.add_column(col, justify="left" if i < 3 else "right", no_wrap=True, overflow="ellipsis",
                         min_width=min(natural, 24) if col == "job" else natural)
    for r, line in zip(rows, lines):
        cells = [Text(c) for c in line]
        cells[1] = Text(line[1], style=STATUS_STYLE.get(r.status, ""))
        if width < 90:
            del cells[2]
        table.add_row(*cells)
    return table


LIST_LIMIT = 32  # per-GPU and per-rank rows shown by default; a 1,024-rank job lists what stands out


def _notable(rows: list[T], job: JobSummary, limit: int) -> list[T]:
    """At most `limit` rows: ranks that died or straggled first, then the highest and lowest energy."""
    if len(rows) <= limit:
        return rows
    flagged = {s.rank for s in job.stragglers} | {r.rank for r in job.rank_runs
                                                   if r.status in ("interrupted", "failed", "running")}
    chosen = [r for r in rows if r.rank in flagged][: limit // 2]
    by_energy = sorted((r for r in rows if r not in chosen), key=lambda r: r.energy_j)
    room = limit - len(chosen)
    chosen += by_energy[-(room - room // 2):] + by_energy[: room // 2]
    return sorted(chosen, key=lambda r: (r.rank, getattr(r, "key", "")))


def job_view(job: JobSummary, limit: int | None = LIST_LIMIT) -> Group:
    """Totals, energy by node and by device, phases across ranks, stragglers, ranks and impact.
    `limit` caps the per-GPU and per-rank tables (None: every row)."""
    parts: list[Any] = []
    ranks = f"{job.ranks} of {job.world_size} ranks" if job.world_size else f"{job.ranks} ranks"
    head = Text()
    head.append("job ").append(plain(job.id), style="bold").append(f" · {job.launcher} ({job.detected_from}) · ")
    head.append(job.status, style=STATUS_STYLE.get(job.status, "")).append(
        f" · {ranks} on {len(job.nodes)} node(s), {job.gpus} GPU(s) · wall {job.wall_s:.1f} s\n")
    head.append(f"IT energy {fmt_energy(job.energy_j)} ± {fmt_energy(job.energy_uncertainty_j)} "
                f"({job.energy_basis}) · CO2e {fmt_co2e(job.co2e_kg)} operational")
    samples = job.counts.get("samples")
    if samples and job.energy_per_sample_j is not None:
        head.append(f" · {fmt_count(samples)} samples, {fmt_energy(job.energy_per_sample_j)} IT energy per sample")
    parts.append(head)
    if job.missing_ranks:
        parts.append(Text(f"ranks never reported: {_ranges(job.missing_ranks)}", style="yellow"))

    nodes = Table(title="energy by node", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("node", "ranks", "GPU", "CPU", "RAM", "total", "host measured by"):
        nodes.add_column(col, justify="left" if col in ("node", "ranks", "host measured by") else "right")
    host_owner: dict[str, int] = {}
    for n in job.nodes:
        owner = n.measured_by.get("cpu", n.measured_by.get("ram"))
        if owner is not None:
            host_owner.setdefault(n.host, owner)
    for n in job.nodes:
        owner = host_owner.get(n.host)
        by = "-" if owner is None else f"rank {owner}" + ("" if owner in n.ranks else " (same host)")
        nodes.add_row(user(n.node), _ranges(sorted(n.ranks)), *(fmt_energy(n.by_kind.get(k, 0.0))
                      for k in ("gpu", "cpu", "ram")), fmt_energy(n.energy_j), by)
    parts.append(nodes)

    all_gpus = [d for d in job.devices if d.kind == "gpu"]
    gpus = all_gpus if limit is None else _notable(all_gpus, job, limit)
    if gpus:
        title = "energy by GPU" + (f" ({len(gpus)} of {len(all_gpus)}: flagged ranks, highest and lowest energy; "
                                   "--all lists every one)" if len(gpus) < len(all_gpus) else "")
        dev = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("node", "GPU", "name", "rank", "energy", "method"):
            dev.add_column(col, justify="right" if col == "energy" else "left")
        for d in gpus:
            dev.add_row(user(d.node), d.key, user(d.name), str(d.rank), fmt_energy(d.energy_j), d.method)
        parts.append(dev)

    if job.phases:
        ph = Table(title="phases across ranks (energy summed; wall = slowest rank)", title_justify="left",
                   box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("phase", "ranks", "energy", "wall", "median", "fastest", "spread"):
            ph.add_column(col, justify="left" if col == "phase" else "right")
        for p in job.phases:
            ph.add_row(user(p.phase), str(p.ranks), fmt_energy(p.energy_j), f"{p.wall_s:.2f} s",
                       f"{p.median_s:.2f} s", f"{p.fastest_s:.2f} s", f"{p.spread:+.0%}")
        parts.append(ph)
    for s in job.stragglers:
        parts.append(Text(f"straggler: rank {s.rank} spent {s.slowest_s:.2f} s in {plain(s.phase)}, "
                          f"{s.excess:.0%} over the median rank ({s.median_s:.2f} s)", style="yellow"))

    rank_rows = job.rank_runs if limit is None else _notable(job.rank_runs, job, limit)
    shown = "" if len(rank_rows) == len(job.rank_runs) else f" ({len(rank_rows)} of {len(job.rank_runs)}; --all)"
    rk = Table(title=f"ranks{shown} (measures: the devices each rank counts for the job; - none of its own)",
               title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("rank", "run", "node", "status", "time", "energy", "measures"):
        rk.add_column(col, justify="right" if col in ("time", "energy") else "left")
    for r in rank_rows:
        rk.add_row(str(r.rank), r.run_id, user(r.node), Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                   f"{r.duration_s:.1f} s", fmt_energy(r.energy_j), ", ".join(r.owns) or "-")
    parts.append(rk)
    if job.impact is not None:
        cite = Citations()
        parts.append(impact_table(job.impact, cite))
        parts.append(notes(cite))
    for note in job.notes:
        parts.append(Text("note: ", style="yellow") + user(note))
    return Group(*parts)


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    spans: list[list[int]] = []  # [first, last] of each run of consecutive values
    for v in values:
        if spans and spans[-1][1] == v - 1:
            spans[-1][1] = v
        else:
            spans.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def print_job(job: JobSummary, console: Console | None = None, *, every_row: bool = False) -> None:
    (console or Console()).print(job_view(job, None if every_row else LIST_LIMIT))

