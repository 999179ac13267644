"""Rich tables for the terminal. Units are converted here, for display only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..constants import J_PER_KWH

# C0 and C1 control characters (ESC starts terminal escape sequences), DEL, and the bidirectional
# overrides that can make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: Any) -> str:
    """User text made safe for a terminal: control characters become '?' (shown, not obeyed)."""
    return _CONTROL.sub("?", str(text))


def user(text: Any) -> Text:
    """User text (a project name, a command, a metric name) as a table cell: never markup."""
    return Text(plain(text))


def fmt_sig(x: float) -> str:
    """Three significant figures without an exponent, thousands separated: 1,175 / 30.7 / 4.25."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def fmt_range(low: float, high: float, fmt: Callable[[float], str]) -> str:
    """A range as "low – high", or one number when both ends print the same (an exact figure)."""
    lo, hi = fmt(low), fmt(high)
    return lo if lo == hi else f"{lo} – {hi}"


def fmt_energy(energy_j: float) -> str:
    if energy_j < 0.1:
        return f"{energy_j * 1000:,.3g} mJ"
    if energy_j >= 1e6 * J_PER_KWH:
        return f"{fmt_sig(energy_j / J_PER_KWH / 1e6)} GWh"
    if energy_j >= 1e4 * J_PER_KWH:
        return f"{fmt_sig(energy_j / J_PER_KWH / 1000)} MWh"
    if energy_j >= J_PER_KWH:
        return f"{fmt_sig(energy_j / J_PER_KWH)} kWh"
    if energy_j >= 3600:
        return f"{fmt_sig(energy_j / 3600)} Wh"
    return f"{energy_j:,.1f} J" if energy_j >= 10 else f"{energy_j:.3g} J"


def fmt_co2e(co2e_kg: float) -> str:
    if co2e_kg >= 10_000:
        return f"{fmt_sig(co2e_kg / 1000)} t"
    if co2e_kg >= 1:
        return f"{fmt_sig(co2e_kg)} kg"
    grams = co2e_kg * 1000
    return f"{grams:.3g} g" if grams >= 0.1 else f"{grams * 1000:.3g} mg"


class Citations:
    """Numbered sources for a table: `cite(text)` gives "[n]", `notes()` lists them under it."""

    def __init__(self) -> None:
        self.sources: list[str] = []

    def __call__(self, text: str) -> str:
        if text not in self.sources:
            self.sources.append(text)
        return f"[{self.sources.index(text) + 1}]"

    def notes(self) -> Text:
        notes = Text()
        for i, source in enumerate(self.sources, 1):
            notes.append(f"[{i}] ", style="dim").append(plain(source) + "\n")
        return notes


def run_view(record: dict[str, Any]) -> Group:
    """Per component energy, totals and impact; where each number came from as numbered notes."""
    table = Table(title=f"run {record['id']} · {escape(plain(record['project']))} · {record['status']} · "
                        f"{record['duration_s']:.1f} s · scope {record['scope']}", title_justify="left")
    table.add_column("component", overflow="fold")
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("±", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("how", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    cite = Citations()

    total = record["energy_j"] or 0.0
    for c in record["components"]:
        share = f"{c['energy_j'] / total:.0%}" if total > 0 else "-"
        source = c["source"] + (f" — {c['note']}" if c.get("note") else "")
        table.add_row(user(f"{c['kind']} · {c['name']}"), fmt_energy(c["energy_j"]), f"{c['uncertainty_rel']:.0%}",
                      share, c["method"], cite(source))
    table.add_section()
    table.add_row("[b]IT energy[/]", f"[b]{fmt_energy(total)}[/]", fmt_energy(record["energy_uncertainty_j"]),
                  "", "sum", "")
    pue_from = record["settings"].get("pue", {}).get("from", "default")
    pue_note = "Uptime Institute 2024 industry average" if pue_from == "default" else f"set by {pue_from}"
    facility = (record.get("impact") or {}).get("facility_energy_j") or {}
    table.add_row("facility energy", fmt_energy(record["facility_energy_j"]), "", "", "modelled",
                  cite(facility.get("source") or f"IT energy × PUE {record['pue']:g} ({pue_note})"))
    loc = record["location"]
    where = loc["region"] or loc["country"] or "world average"
    if not record.get("impact"):  # runs recorded before impact_json: the bare operational figure
        table.add_row("[b]CO2e[/]", f"[b]{fmt_co2e(record['co2e_kg'])}[/]", "", "", "modelled",
                  cite(f"facility energy × {loc['intensity_g_per_kwh']:g} gCO2e/kWh for {where}: "
                       f"{loc['intensity_source']}"))
    parts: list[Any] = [table]
    if record.get("impact"):
        parts.append(impact_table(record["impact"], cite))
    parts.append(cite.notes())
    if record.get("phases"):
        parts.append(phase_table(record))
    quality = quality_text(record)
    if quality.plain:
        parts.append(quality)
    return Group(*parts)


def fmt_water(water_l: float) -> str:
    if water_l >= 1000:
        return f"{fmt_sig(water_l / 1000)} m³"
    return f"{water_l:,.3g} L" if water_l >= 0.1 else f"{water_l * 1000:.3g} mL"


def fmt_money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}" if amount >= 0.01 else f"{amount:.2g} {currency}"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}" if n >= 100 else f"{n:.3g}"


_IMPACT_ROWS: list[tuple[str, str, Callable[[float, dict[str, Any]], str]]] = [
    ("co2e_operational_kg", "CO2e operational (location-based)", lambda v, f: fmt_co2e(v)),
    ("co2e_market_kg", "CO2e operational (market-based)", lambda v, f: fmt_co2e(v)),
    ("co2e_embodied_kg", "CO2e embodied (hardware share)", lambda v, f: fmt_co2e(v)),
    ("co2e_total_kg", "CO2e total", lambda v, f: fmt_co2e(v)),
    ("water_onsite_l", "water on-site (cooling)", lambda v, f: fmt_water(v)),
    ("water_offsite_l", "water off-site (generation)", lambda v, f: fmt_water(v)),
    ("water_l", "water total", lambda v, f: fmt_water(v)),
    ("electricity_cost", "electricity cost", lambda v, f: fmt_money(v, f["unit"])),
    ("instance_cost", "machine cost", lambda v, f: fmt_money(v, f["unit"])),
]


def impact_table(impact: dict[str, Any], cite: Callable[[str], str]) -> Table:
    """CO2e (operational and embodied, apart), water, cost and plain equivalents, each with its range."""
    table = Table(title=f"impact · energy {escape(impact.get('basis_detail') or impact['basis'])}", title_justify="left")
    for name, kw in (("figure", {}), ("value", {"justify": "right"}), ("range", {"justify": "right"}),
                     ("basis", {}), ("src", {"justify": "right"})):
        table.add_column(name, no_wrap=name != "figure", **kw)  # type: ignore[arg-type]
    for key, label, fmt in _IMPACT_ROWS:
        fig = impact.get(key)
        if not fig:
            continue
        bold = key in ("co2e_total_kg", "water_l")
        figure: dict[str, Any] = fig
        value = fmt(figure["value"], figure)
        table.add_row(f"[b]{label}[/]" if bold else label, f"[b]{value}[/]" if bold else value,
                      fmt_range(figure["low"], figure["high"], lambda v: fmt(v, figure)), figure.get("basis", ""),
                      cite(figure["source"]))
    if impact.get("electricity_cost") is None:
        table.add_row("electricity cost", "-", "", "", cite("no cited price for this zone: give --price-per-kwh and --currency"))
    table.add_section()
    for key, fig in impact.get("equivalents", {}).items():
        label = {"car_km": "≈ km driven by a car", "car_years": "≈ cars driven for a year",
                 "smartphone_charges": "≈ smartphone charges"}.get(key, key)
        table.add_row(label, fmt_count(fig["value"]),
                      fmt_range(fig["low"], fig["high"], fmt_count), fig.get("basis", ""), cite(fig["source"]))
    return table


def phase_table(record: dict[str, Any]) -> Table:
    """Energy per pipeline phase (inclusive of nested phases), by time overlap with sampled power."""
    table = Table(title="phases (energy by time overlap with sampled power; nested phases included in their parent)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("phase", "time", "energy", "share", "entries", "per item"):
        table.add_column(col, justify="left" if col == "phase" else "right", no_wrap=col != "phase")
    for p in record["phases"]:
        depth = p["phase"].count("/")
        name = "  " * depth + p["phase"].rsplit("/", 1)[-1] if p["phase"] != "(outside phases)" else p["phase"]
        per_item = f"{fmt_energy(p['energy_per_item_j'])}" if p.get("energy_per_item_j") is not None else ""
        share = f"{p['share']:.1%}" if p.get("share") is not None else "-"
        table.add_row(user(name), f"{p['duration_s']:.2f} s", fmt_energy(p["energy_j"]), share, str(p["entries"] or ""),
                      per_item)
    return table


def quality_text(record: dict[str, Any]) -> Text:
    text = Text()
    for key, label in (("energy_per_sample_j", "sample"), ("energy_per_token_j", "token")):
        if record.get(key) is not None:
            text.append(f"energy per {label}: {fmt_energy(record[key])} "
                        f"({record['counts'][label + 's']:,.0f} {label}s)\n")
    if record.get("metrics"):
        text.append("quality: " + ", ".join(f"{plain(k)} {'not a number' if v is None else format(v, '.4g')}"
                                            for k, v in sorted(record["metrics"].items())) + "\n")
    for name, gap in record.get("generalization_gap", {}).items():
        text.append(f"generalization gap ({plain(name)}, train minus held-out): {gap:+.4g}\n")
    fc = record.get("forecast")
    if fc and fc.get("progress", 1.0) < 1.0:  # a run that ended early: where it was heading
        text.append(f"forecast at {fc['progress']:.0%} done (estimated, not measured): "
                    f"{fmt_energy(fc['total_energy_j'])} ({fmt_energy(fc['total_energy_j_low'])}–"
                    f"{fmt_energy(fc['total_energy_j_high'])}) over {fc['duration_s']:.0f} s in all\n")
    for w in record.get("warnings", []):
        if w.startswith("over budget"):
            text.append(f"{plain(w)}\n", style="red")
    return text


def runs_table(rows: list[dict[str, Any]], width: int = 120) -> Table:
    """One line per run; the command column only where the terminal has room, taking what is left."""
    table = Table(title="runs (newest first)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    style = {"completed": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}
    lines = [[r["id"], plain(r["project"]), r["status"], r["started_at"][5:16].replace("T", " "),
              f"{r['duration_s']:.1f} s", fmt_energy(r["energy_j"]), fmt_co2e(r["co2e_kg"]),
              plain(r["region"] or r["country"] or "world")] for r in rows]
    headers = ["id", "project", "status", "started UTC", "time", "energy", "CO2e", "where"]
    caps = {"project": 24, "where": 20}  # longer ones end in "…"
    for i, col in enumerate(headers):
        natural = max([len(col), *(len(line[i]) for line in lines)])
        table.add_column(col, justify="right" if col in ("time", "energy", "CO2e") else "left", no_wrap=True,
                         min_width=min(natural, caps.get(col, natural)), overflow="ellipsis")
    with_command = width >= 120
    if with_command:  # takes what the other columns leave, never squeezes them
        table.add_column("command", overflow="ellipsis", no_wrap=True, ratio=1)
    for r, line in zip(rows, lines):
        cells: list[Any] = [Text(c) for c in line]
        cells[2] = Text(line[2], style=style.get(r["status"], ""))
        table.add_row(*cells, *([user(r["command"] or "")] if with_command else []))
    return table


def serving_table(serving: dict[str, Any]) -> Table:
    """Energy per request and per token of a served model, with how each figure is defined."""
    window = f"{serving['window_s']:.3g} s" if serving.get("window_s") else "-"
    table = Table(title=f"serving · {serving['windows']} windows of {window} · {fmt_count(serving['requests'])} "
                        f"requests ({serving['requests_per_s'] or 0:.3g}/s) · energy {serving.get('basis', 'modelled')}",
                  title_justify="left")
    for name in ("per", "idle included", "idle excluded", "above idle", "p50", "p95"):
        table.add_column(name, justify="left" if name == "per" else "right")
    for label, key in (("request", "energy_per_request_j"), ("token", "energy_per_token_j")):
        figures = serving.get(key)
        if figures:
            table.add_row(label, *(fmt_energy(figures[k]) if figures.get(k) is not None else "-"
                                   for k in ("idle_included", "idle_excluded", "above_idle", "p50", "p95")))
    table.caption = (f"idle share {serving['idle_share']:.0%}" if serving.get("idle_share") is not None else "") + (
        f" · idle power {serving['idle_power_w']:.3g} W" if serving.get("idle_power_w") is not None else
        " · no idle window: idle power unknown") + (
        f" · {fmt_count(serving['requests_per_kwh'])} requests per kWh" if serving.get("requests_per_kwh") else "") + (
        f" · CO2e per 1,000 requests {fmt_co2e(serving['co2e_per_1000_requests_kg'])}"
        if serving.get("co2e_per_1000_requests_kg") is not None else "")
    est = serving.get("estimate")
    if est and est.get("error"):
        table.caption += f" · no estimate: {plain(est['error'])}"
    elif est:
        table.caption += (f" · estimate on {est['hardware']}: {fmt_energy(est['energy_per_token_j'])} per token, "
                          f"measured/estimate x{est['measured_to_estimate']:.3g} (idle excluded)")
    table.caption_justify = "left"
    return table


def print_run(record: dict[str, Any], console: Console | None = None, *, show_warnings: bool = True) -> None:
    console = console or Console()
    console.print(run_view(record))
    if record.get("serving"):
        console.print(serving_table(record["serving"]))
    job = record.get("job")
    if job:
        owns = ", ".join(job.get("owns", [])) or "nothing"
        line = Text(f"rank {job.get('rank')} of job ") + user(job["id"]) + Text(f" ({job.get('launcher')}): measures {owns}")
        for note in job.get("ownership", []):
            line += Text("; ") + user(note)
        console.print(line)
        console.print(Text("the whole job: mlfootprint show ") + user(job["id"]))
    if show_warnings:
        for w in record.get("warnings", []):
            console.print(Text("note: ", style="yellow") + user(w))
