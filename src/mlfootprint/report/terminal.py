"""A footprint in the terminal: a short summary after a run, the sourced tables one flag away.

`summary()` is what a run ends with (about ten lines: IT and facility energy, operational and total
CO2e with their ranges, where, how obtained, the figure to quote, where the details are);
`run_view()` is `show --details`: every component, every impact figure with its numbered source,
phases and quality. Labels and numbers come from report/model.py and report/format.py, the same as
the HTML report's and the statement's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..quality import OUTSIDE_PHASES
from ..ranges import Range
from . import model
from .format import fmt_co2e, fmt_count, fmt_duration, fmt_energy, fmt_range, fmt_share, plain, sig
from .model import Citations, Row

if TYPE_CHECKING:  # annotations only: `runs` draws its table without importing the record's parts (~16 ms)
    from ..impact import Impact
    from ..record import RunRecord, RunRow
    from ..serving.figures import Serving
    from ..store.reader import ChildTotals

__all__ = ["impact_table", "next_commands", "notes", "phase_table", "print_run", "run_view", "runs_table",
           "serving_table", "summary", "user"]


def user(text: Any) -> Text:
    """User text (a project name, a command, a metric name) as a table cell: never markup."""
    return Text(plain(text))


def notes(cite: Citations) -> Text:
    out = Text()
    for i, source in enumerate(cite.sources, 1):
        out.append(f"[{i}] ", style="dim").append(plain(source) + "\n")
    return out


def _ref(n: int | None) -> str:
    return f"[{n}]" if n else ""


def _rows_table(title: str, rows: Iterable[Row], cite_rows: Iterable[Row] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("figure", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("range", justify="right", no_wrap=True)
    table.add_column("basis", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    for row in rows:
        style = "bold" if row.strong else ""
        table.add_row(Text(row.label, style=style), Text(row.value, style=style), row.range, row.basis, _ref(row.ref))
    extra = list(cite_rows)
    if extra:
        table.add_section()
        for row in extra:
            table.add_row(row.label, row.value, row.range, row.basis, _ref(row.ref))
    return table


def impact_table(impact: Impact, cite: Citations) -> Table:
    """Facility energy, CO2e (operational and embodied apart), water, cost and plain equivalents."""
    return _rows_table(f"impact · IT energy {plain(impact.basis_detail or impact.basis)}",
                       model.impact_rows(impact, cite), model.equivalent_rows(impact, cite))


def _where(record: RunRecord) -> str:
    loc = record.location
    return (f"{record.where} {sig(loc.intensity_g_per_kwh)} gCO2e/kWh"
            + (" (no location set)" if not (loc.region or loc.country) else ""))


def _basis(record: RunRecord) -> str:
    if record.impact is not None:
        return record.impact.basis_detail or record.impact.basis
    return ", ".join(sorted({c.method for c in record.components})) or "nothing measured"


def summary(record: RunRecord) -> Group:
    """The short summary a run ends with: about ten lines, the figure to quote among them."""
    head = Text()
    head.append(f"run {record.id} · ").append(plain(record.project), style="bold").append(
        f" · {record.status} · {fmt_duration(record.duration_s)} · scope {record.scope}")
    lines: list[Any] = [head]
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    energy = model.energy_row(record.energy_j, record.energy_uncertainty_j, _basis(record))
    grid.add_row(model.IT_ENERGY, Text(energy.value, style="bold"), energy.range, plain(energy.basis))
    impact = record.impact
    if impact is not None:
        fac = impact.facility_energy_j
        grid.add_row(model.FACILITY_ENERGY, fmt_energy(fac.value), fmt_range(fac, fmt_energy), f"× PUE {record.pue:.3g}")
        op, total = impact.co2e_operational_kg, impact.co2e_total_kg
        grid.add_row("CO2e operational", Text(fmt_co2e(op.value), style="bold"), fmt_range(op, fmt_co2e),
                     plain(_where(record)))
        grid.add_row("CO2e total", fmt_co2e(total.value), fmt_range(total, fmt_co2e),
                     "+ the hardware's embodied share (estimated)")
    else:
        grid.add_row("CO2e operational", fmt_co2e(record.co2e_kg), "", plain(_where(record)))
    lines.append(grid)
    top = [p for p in record.phases if p.top_level and p.share]
    if top:
        shown = sorted(top, key=lambda p: -p.energy_j)[:5]
        lines.append(Text("phases: ") + user(", ".join(f"{p.phase} {fmt_share(p.share)}" for p in shown))
                     + Text(f" of the energy read{'; +' + str(len(top) - 5) + ' more' if len(top) > 5 else ''}"))
    if record.serving is not None and record.serving.energy_per_request_j.idle_included is not None:
        s = record.serving
        lines.append(Text(f"serving: {fmt_count(s.requests)} requests, "
                          f"{fmt_energy(s.energy_per_request_j.idle_included or 0.0)} IT energy per request "
                          "(idle included)"))
    fc = record.forecast
    if fc is not None and fc.progress is not None and fc.progress < 1.0 and fc.total_energy_j is not None:
        lines.append(Text(_forecast_line(record)))
    if record.parent_id and record.kind == "trial":
        lines.append(Text(f"a trial of experiment {record.parent_id} "
                          f"({command_hint(record, 'show', record.parent_id)})"))
    elif record.parent_id:
        lines.append(Text(f"nested in run {record.parent_id}: its devices are charged there "
                          f"({command_hint(record, 'show', record.parent_id)})", style="yellow"))
    if record.job is not None:
        lines.append(Text("rank ") + Text(str(record.job.rank)) + Text(" of job ") + user(record.job.id)
                     + Text(f" · the whole job: {command_hint(record, 'show', plain(record.job.id))}"))
    lines.append(Text("quote: ", style="bold") + Text(model.quote(impact, record.co2e_kg, record.where)))
    return Group(*lines)


def next_commands(record: RunRecord) -> list[Text]:
    """Where the details are: one command a line, to print with soft_wrap (never broken by us: a terminal
    copies a line it wrapped itself as one line)."""
    return [Text(f"{label}: {command_hint(record, *args)}", style="dim")
            for label, args in (("details", ("show", record.id, "--details")), ("HTML report", ("report", record.id)))]


def command_hint(record: RunRecord, *args: str) -> str:
    """A command line that works as printed: the `mlfootprint` of this interpreter (its venv's path when the
    venv is not on PATH, as under `make demo`), and the run's store when it is not the default one."""
    import os
    import shlex
    import shutil
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "mlfootprint"
    found = shutil.which("mlfootprint")
    program = "mlfootprint"
    if script.exists() and (found is None or Path(found).resolve() != script.resolve()):
        try:
            relative = os.path.relpath(script)
        except ValueError:
            relative = ".."
        program = str(script) if relative.startswith("..") else relative
    words = [program, *args]
    store = record.settings.get("store")
    if store is not None and store.origin != "default":
        shown = str(store.value)
        words += ["--store", shown[len("sqlite:///"):] if shown.startswith("sqlite:///") else shown]
    return shlex.join(words)


def run_view(record: RunRecord) -> Group:
    """Per component energy, totals and impact; where each number came from as numbered notes."""
    table = Table(title=f"run {record.id} · {plain(record.project)} · {record.status} · "
                        f"{fmt_duration(record.duration_s)} · scope {record.scope}", title_justify="left")
    table.add_column("component", overflow="fold")
    table.add_column("IT energy", justify="right", no_wrap=True)
    table.add_column("±", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("how", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    cite = Citations()
    read = record.energy_j + sum(c.energy_j for c in record.components if c.charged_to)
    for c in record.components:
        source = c.source + (f" — {c.note}" if c.note else "") + (
            f" — charged to run {c.charged_to}" if c.charged_to else "")
        table.add_row(user(f"{c.kind} · {c.name}"), fmt_energy(c.energy_j), f"{c.uncertainty_rel:.0%}",
                      fmt_share(c.energy_j / read) if read > 0 else "-", c.method, _ref(cite(source)))
    table.add_section()
    table.add_row(Text(model.IT_ENERGY + (" charged here" if record.parent_id and record.kind != "trial" else ""), style="bold"),
                  Text(fmt_energy(record.energy_j), style="bold"), fmt_energy(record.energy_uncertainty_j), "", "sum",
                  "")
    parts: list[Any] = [table]
    if record.impact is not None:
        parts.append(impact_table(record.impact, cite))
    else:  # runs recorded before impact figures existed: the bare operational figure
        loc = record.location
        parts.append(Text(f"{model.CO2E_OPERATIONAL}: {fmt_co2e(record.co2e_kg)} — facility energy × "
                          f"{sig(loc.intensity_g_per_kwh)} gCO2e/kWh for {record.where}: {plain(loc.intensity_source)}"))
    parts.append(notes(cite))
    if record.phases:
        parts.append(phase_table(record))
    quality = quality_text(record)
    if quality.plain:
        parts.append(quality)
    return Group(*parts)


def phase_table(record: RunRecord) -> Table:
    """Energy per pipeline phase (inclusive of nested phases), by time overlap with sampled power."""
    table = Table(title="phases (IT energy by time overlap with sampled power; nested phases included in their "
                        "parent)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("phase", "time", "IT energy", "share", "entries", "per item"):
        table.add_column(col, justify="left" if col == "phase" else "right", no_wrap=col != "phase")
    for p in record.phases:
        name = "  " * p.depth + p.phase.rsplit("/", 1)[-1] if p.phase != OUTSIDE_PHASES else p.phase
        per_item = fmt_energy(p.energy_per_item_j) if p.energy_per_item_j is not None else ""
        share = f"{p.share:.1%}" if p.share is not None else "-"
        table.add_row(user(name), fmt_duration(p.duration_s), fmt_energy(p.energy_j), share, str(p.entries or ""),
                      per_item)
    return table


def quality_text(record: RunRecord) -> Text:
    text = Text()
    for per, label, key in ((record.energy_per_sample_j, "sample", "samples"),
                            (record.energy_per_token_j, "token", "tokens")):
        if per is not None:
            text.append(f"IT energy per {label}: {fmt_energy(per)} ({fmt_count(record.counts[key])} {key})\n")
    if record.metrics:
        text.append("quality: " + ", ".join(f"{plain(k)} {'not a number' if v is None else format(v, '.4g')}"
                                            for k, v in sorted(record.metrics.items())) + "\n")
    for name, gap in record.generalization_gap.items():
        text.append(f"generalization gap ({plain(name)}, train minus held-out): {gap:+.4g}\n")
    fc = record.forecast
    if fc is not None and fc.progress is not None and fc.progress < 1.0 and fc.total_energy_j is not None:
        text.append(_forecast_line(record) + "\n")
    for w in record.warnings:
        if w.startswith("over budget"):
            text.append(f"{plain(w)}\n", style="red")
    return text


def _forecast_line(record: RunRecord) -> str:
    """Where a run that ended early was heading: estimated, never part of its measured totals."""
    fc = record.forecast
    assert fc is not None and fc.total_energy_j is not None
    low, high = fc.total_energy_j_low or fc.total_energy_j, fc.total_energy_j_high or fc.total_energy_j
    return (f"forecast at {fc.progress or 0.0:.0%} done (estimated, not measured): IT energy "
            f"{fmt_energy(fc.total_energy_j)} ({fmt_range(Range(fc.total_energy_j, low, high), fmt_energy)}) over "
            f"{fmt_duration(fc.duration_s or 0.0)} in all")


def serving_table(serving: Serving) -> Table:
    """IT energy per request and per token of a served model, with how each figure is defined."""
    window = fmt_duration(serving.window_s) if serving.window_s else "-"
    table = Table(title=f"serving · {serving.windows} windows of {window} · {fmt_count(serving.requests)} requests "
                        f"({sig(serving.requests_per_s or 0.0)}/s) · IT energy {serving.basis}", title_justify="left")
    for name in ("IT energy per", "idle included", "idle excluded", "above idle", "p50", "p95"):
        table.add_column(name, justify="left" if name == "IT energy per" else "right")
    for label, figures in (("request", serving.energy_per_request_j), ("token", serving.energy_per_token_j)):
        if figures is not None and not (label == "token" and serving.tokens == serving.requests):
            table.add_row(label, *(fmt_energy(v) if v is not None else "-" for v in
                                   (figures.idle_included, figures.idle_excluded, figures.above_idle, figures.p50,
                                    figures.p95)))
    caption = [f"idle share {serving.idle_share:.0%}" if serving.idle_share is not None else "",
               f"idle power {sig(serving.idle_power_w)} W" if serving.idle_power_w is not None else
               "no idle window: idle power unknown"]
    if serving.requests_per_kwh:
        caption.append(f"{fmt_count(serving.requests_per_kwh)} requests per kWh of IT energy")
    if serving.co2e_per_1000_requests_kg is not None:
        caption.append(f"CO2e operational per 1,000 requests {fmt_co2e(serving.co2e_per_1000_requests_kg)}")
    est = serving.estimate
    if est is not None and est.error:
        caption.append(f"no estimate: {plain(est.error)}")
    elif est is not None and est.energy_per_token_j is not None:
        level = f"{est.range_level:.0%} " if est.range_level else ""
        rng = ""
        if len(est.energy_j_range) == 2 and est.tokens:
            rng = (f" ({level}range {fmt_energy(est.energy_j_range[0] / est.tokens)}–"
                   f"{fmt_energy(est.energy_j_range[1] / est.tokens)})")
        caption.append(f"estimate on {est.hardware}: {fmt_energy(est.energy_per_token_j)} per token{rng}, "
                       f"measured/estimate x{sig(est.measured_to_estimate or 0.0)} (idle excluded)")
    table.caption = " · ".join(c for c in caption if c)
    table.caption_justify = "left"
    return table


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def experiment_view(record: RunRecord, trials: Sequence[RunRow], width: int = 120) -> Group:
    """An experiment's entry (`reduce`): what its trials used in all, and the trials. The entry measures
    nothing itself (its own figures are 0 J); each trial is a run of its own, charged its devices."""
    energy_j, co2e_kg = sum(t.energy_j for t in trials), sum(t.co2e_kg for t in trials)
    head = (Text("experiment ", style="bold") + Text(record.id) + Text(f" ({plain(record.project)}, "
            f"{record.status}): {_count(len(trials), 'trial')}, {fmt_energy(energy_j)} {model.IT_ENERGY}, "
            f"{fmt_co2e(co2e_kg)} operational CO2e in all (each trial is a run of its own: show TRIAL_ID)"))
    return Group(head, runs_table(trials[::-1], width) if trials else Text("no trials stored"))  # newest first, as `runs`


def print_run(record: RunRecord, console: Console | None = None, *, details: bool = False,
              show_warnings: bool = True) -> None:
    """The summary (or with `details`, every table) of a run."""
    console = console or Console()
    if not details:
        console.print(summary(record))
        for line in next_commands(record):
            console.print(line, soft_wrap=True)
    else:
        console.print(run_view(record))
        if record.serving is not None:
            console.print(serving_table(record.serving))
        if record.job is not None:
            job = record.job
            owns = ", ".join(job.owns) or "nothing"
            line = Text(f"rank {job.rank} of job ") + user(job.id) + Text(f" ({job.launcher}): measures {owns}")
            for note in job.ownership:
                line += Text("; ") + user(note)
            console.print(line)
            console.print(Text(f"the whole job: {command_hint(record, 'show', plain(job.id))}"), soft_wrap=True)
    if show_warnings:
        for w in record.warnings:
            console.print(Text("note: ", style="yellow") + user(w))


# -- the list of runs ------------------------------------------------------------------------------------
RUN_COLUMNS = ("id", "project", "status", "started UTC", "time", "IT energy", "CO2e op.", "where")
_FIGURES = {"time", "IT energy", "CO2e op."}


def runs_table(rows: Sequence[RunRow], width: int = 120, nested: Mapping[str, ChildTotals] | None = None) -> Table:
    """One line per run. The energy and CO2e columns are never dropped or cut: at any width down to 80,
    the command is shortened first (then left out), then the project and place, then the date goes.
    `nested`: the runs nested in a listed run (or the trials of a listed experiment), counted in its line."""
    style = {"completed": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}
    nested = nested or {}
    lines = []
    for r in rows:
        inner = nested.get(r.id)
        extra = (f" (+{_count(inner.children, 'trial') if r.kind == 'experiment' else f'{inner.children:,} nested'})"
                 if inner else "")
        lines.append([r.id, plain(r.project) + extra, r.status, r.started_at[5:16].replace("T", " "),
                      fmt_duration(r.duration_s), fmt_energy(r.energy_j + (inner.energy_j if inner else 0.0)),
                      fmt_co2e(r.co2e_kg + (inner.co2e_kg if inner else 0.0)), plain(r.region or r.country or "world")])
    natural = {col: max([len(col), *(len(line[i]) for line in lines)]) for i, col in enumerate(RUN_COLUMNS)}
    commands = [plain(r.command or "") for r in rows]
    command_width = max([len("command"), *(len(c) for c in commands)])
    # (project cap, where cap, with the date, command width): tried in order until the table fits
    plans = [(natural["project"], natural["where"], True, min(command_width, w)) for w in (command_width, 60, 40, 24)]
    # then narrower project and place columns keep a short command; only then does the command go
    plans += [(min(natural["project"], p), min(natural["where"], w), True, min(command_width, c))
              for p, w, c in ((16, natural["where"], 24), (16, 12, 24), (12, 8, 20))]
    plans += [(min(natural["project"], p), min(natural["where"], w), d, 0)
              for p, w, d in ((natural["project"], natural["where"], True), (16, natural["where"], True),
                              (12, 8, True), (12, 8, False), (8, 6, False))]
    for project_w, where_w, with_date, cmd_w in plans:
        table = _runs(rows, lines, commands, style, project_w, where_w, with_date, cmd_w, natural)
        if _measure(table) <= width:
            return table
    return table


def _runs(rows: Sequence[RunRow], lines: list[list[str]], commands: list[str], style: dict[str, str], project_w: int,
          where_w: int, with_date: bool, command_w: int, natural: dict[str, int]) -> Table:
    table = Table(title="runs (newest first; IT energy and operational CO2e)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    caps = dict(natural, project=project_w, where=where_w)
    shown = [c for c in RUN_COLUMNS if with_date or c != "started UTC"]
    for col in shown:
        figure = col in _FIGURES
        table.add_column(col, justify="right" if figure else "left", no_wrap=True,
                         overflow="fold" if figure else "ellipsis", min_width=caps[col],
                         max_width=None if figure else caps[col])
    if command_w:
        table.add_column("command", overflow="ellipsis", no_wrap=True, max_width=command_w)
    for r, line, command in zip(rows, lines, commands):
        cells: list[Any] = [Text(c) for i, c in enumerate(line) if RUN_COLUMNS[i] in shown]
        cells[2] = Text(line[2], style=style.get(r.status, ""))
        table.add_row(*cells, *([Text(command)] if command_w else []))
    return table


def _measure(table: Table) -> int:
    """The width `table` takes when nothing limits it."""
    import io

    console = Console(width=10_000, record=True, file=io.StringIO())
    console.print(table)
    return max((len(line.rstrip()) for line in console.export_text().splitlines()), default=0)
