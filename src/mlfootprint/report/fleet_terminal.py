"""The fleet result as terminal tables: groups with energy and CO2e, served models, what was found."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..fleet.result import FleetResult
from .format import fmt_co2e, fmt_energy, plain
from .model import Citations
from .terminal import notes, user

MAX_ROWS = 40


def print_fleet(result: FleetResult, console: Console) -> None:
    citations = Citations()

    def cite(source: str | None) -> str:
        n = citations(source)
        return f" [{n}]" if n else ""

    t = result.totals
    table = Table(title=f"fleet · {plain(result.prometheus)} · {result.start} to {result.end} · "
                        f"by {', '.join(result.by) or '(nothing)'}", title_justify="left")
    market = t.impact.co2e_market_kg is not None  # only where every site states its contractual instruments
    table.add_column("group", min_width=18, overflow="fold")
    for name in ("IT energy", "share", "GPU-h", "CO2e loc.", *(("CO2e mkt",) if market else ()), "embodied"):
        table.add_column(name, justify="right", no_wrap=True)
    for g in result.groups[:MAX_ROWS]:
        i = g.impact
        mkt = [fmt_co2e(i.co2e_market_kg.value) if i.co2e_market_kg else "-"] if market else []
        table.add_row(user(g.name), fmt_energy(g.energy_j), f"{g.share:.1%}", f"{g.device_hours:,.0f}",
                      fmt_co2e(i.co2e_location_kg.value), *mkt, fmt_co2e(i.co2e_embodied_kg.value))
    if len(result.groups) > MAX_ROWS:
        table.add_row(f"… {len(result.groups) - MAX_ROWS} more groups (--json lists all)")
    table.add_section()
    i = t.impact
    mkt = [fmt_co2e(i.co2e_market_kg.value) + cite(i.co2e_market_kg.source)] if i.co2e_market_kg else []
    table.add_row("total", fmt_energy(t.energy_j), "100%", f"{t.device_hours:,.0f}",
                  fmt_co2e(i.co2e_location_kg.value) + cite(i.co2e_location_kg.source), *mkt,
                  fmt_co2e(i.co2e_embodied_kg.value) + cite(i.co2e_embodied_kg.source))
    console.print(table)
    console.print(f"IT energy {i.energy.basis} ({plain(', '.join(s.name for s in result.sources))}) · "
                  f"idle (unallocated) share {t.unallocated_share:.1%} · facility energy "
                  f"{fmt_energy(i.facility_energy_j.value)} · CO2e total {fmt_co2e(i.co2e_total_kg.value)} "
                  f"({fmt_co2e(i.co2e_total_kg.low)}–{fmt_co2e(i.co2e_total_kg.high)}) · water {i.water_l.value:,.0f} L",
                  markup=False, highlight=False)
    if result.serving and result.serving.models:
        models = Table(title="served models", title_justify="left")
        for name in ("model", "requests", "J / 1k requests", "J / M tokens", "CO2e / 1k requests"):
            models.add_column(name, justify="left" if name == "model" else "right")
        for m in result.serving.models:
            models.add_row(user(m.model), f"{m.requests:,.0f}", fmt_energy(m.j_per_1k_requests) if m.j_per_1k_requests
                           else "-", fmt_energy(m.j_per_million_tokens) if m.j_per_million_tokens else "-",
                           fmt_co2e(m.co2e_kg_per_1k_requests) if m.co2e_kg_per_1k_requests is not None else "-")
        console.print(models)
        console.print(plain(result.serving.how), style="dim", markup=False, highlight=False)
    found = [f"{len(result.gaps) + result.gaps_not_listed} scrape gap(s)", f"{len(result.resets) + result.resets_not_listed} "
             "counter reset(s)", f"{sum(q.calls for q in result.queries)} queries in {result.elapsed_s:.1f} s"]
    console.print(" · ".join(found) + " (--json lists them)", style="dim", markup=False, highlight=False)
    for w in result.warnings:
        console.print(f"note: {plain(w)}", style="yellow", markup=False, highlight=False)
    console.print(notes(citations))
