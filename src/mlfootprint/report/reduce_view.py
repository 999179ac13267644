"""A `reduce` result in the terminal: one row per strategy, then each verdict in words, then the notes.

The change column is the figure the verdict rests on (the paired per-round change against the
baseline) with its interval, the same numbers the Pareto plot draws; the energy column is the median
of the strategy's repeats, for scale. Strategy names are the user's text: they are printed as text,
never as rich markup.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..reduce.result import Result, StrategyReport
from ..reduce.verdict import pct
from .terminal import fmt_co2e, fmt_energy


def _change(r: StrategyReport) -> str:
    if r.change_range is not None and not r.change_range.is_exact:
        c = r.change_range
        return f"{pct(c.value)} [{pct(c.low)}, {pct(c.high)}]"
    return pct(r.change) if r.change is not None else "-"


def result_table(result: Result) -> Table:
    metric = result.metric
    table = Table(title="strategies by training energy; change: against the baseline, paired by round [interval]",
                  title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    columns = ["strategy", "energy", "change", "rounds", "to target", "time", "CO2e", metric or "quality"]
    if result.design.measures_inference:
        columns.append("J/1k pred")
    for c in columns:
        table.add_column(c, justify="left" if c == "strategy" else "right", no_wrap=c != "strategy")
    for row in sorted(result.reports, key=lambda r: (r.energy_j is None, r.energy_j or 0.0)):
        cells: list[Any] = [
            Text(row.strategy, style="green" if row.recommended else ""),
            "-" if row.energy_j is None else fmt_energy(row.energy_j),
            _change(row),
            str(row.rounds) if row.rounds else ("-" if row.strategy != "baseline" else str(row.repeats)),
            fmt_energy(row.energy_to_target_j) if row.energy_to_target_j is not None else
            (f"{row.reached_target}/{row.repeats} runs" if result.design.target and row.repeats else "-"),
            f"{row.duration_s:.1f} s" if row.duration_s is not None else "-",
            fmt_co2e(row.co2e_kg) if row.co2e_kg is not None else "-",
            f"{row.quality[metric]:.4f}" if metric and metric in row.quality else "-"]
        if result.design.measures_inference:
            cells.append(fmt_energy(row.inference_j_per_1000) if row.inference_j_per_1000 is not None else "-")
        table.add_row(*cells)
    return table


def print_result(result: Result, console: Console | None = None) -> None:
    """The table, every verdict in words (✓ recommended), the notes, and how the energy was obtained."""
    console = console or Console()
    console.print(result_table(result))
    for row in sorted(result.reports, key=lambda r: (r.energy_j is None, r.energy_j or 0.0)):
        line = Text("✓ " if row.recommended else "· ", style="green" if row.recommended else "")
        line.append(f"{row.strategy}: {row.verdict}")
        console.print(line)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow", markup=False, highlight=False)
    methods = sorted({m for r in result.reports for m in r.methods})
    console.print(f"energy is {' and '.join(methods) or 'not measured'} (`mlfootprint show RUN` gives each trial's "
                  "sources); evaluations during training are not counted as training energy", style="dim",
                  markup=False, highlight=False)


__all__ = ["print_result", "result_table"]
