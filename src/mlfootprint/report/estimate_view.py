"""How an estimate is shown: its table of assumptions, ranges with their level, the sweep table and plot.

Presentation only: the numbers come from `mlfootprint.estimate` (an `Estimate` each). Every range is
printed with its nominal level and the inputs that widened it, so a reader knows how far to trust it;
a range whose ends are equal prints as one number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..constants import J_PER_KWH
from ..estimate import Estimate, PublishedEstimate
from ..estimate.result import RangeNote
from ..ranges import Range
from .format import fmt_co2e, fmt_energy, plain
from .format import fmt_range as _fmt_range
from .format import sig as fmt_sig
from .model import Citations
from .terminal import impact_table, notes


def fmt_range(low: float, high: float, fmt: Any) -> str:
    """'low–high' (one number when the ends are equal once formatted)."""
    return _fmt_range(Range(low, low, high), fmt)


def _hours(h: float) -> str:
    return f"{h:,.0f}" if h >= 10 else f"{h:.3g}"


def level_text(note: RangeNote) -> str:
    """"90 % range" or what the range is when it claims no level."""
    return f"{note.level:.0%} range" if note.level is not None else "range"


def range_line(note: RangeNote) -> Text:
    """The range's level, how it was made, and what widened it: one paragraph under the tables."""
    what = (f"ranges: nominal {note.level:.0%} (meant to hold {note.level:.0%} of cases like this one)"
            if note.level is not None else "ranges: no calibrated level")
    text = Text(what, style="bold") + Text(f"; {plain(note.source)}")
    if note.widened_by:
        text += Text("; widened by: " + "; ".join(plain(w) for w in note.widened_by))
    return text


def estimate_view(est: Estimate) -> Group:
    cite = Citations()
    title = f"estimate · {plain(est.label or est.hardware or '')} · {est.workload}"
    table = Table(title=title, title_justify="left")
    table.add_column("assumption")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    for a in est.assumptions:
        v = a.value
        shown = f"{v:,.4g} {a.unit}".strip() if isinstance(v, (int, float)) else plain(str(v))
        n = cite(a.source)
        table.add_row(a.name, shown, f"[{n}]" if n else "")
    table.add_section()
    lo, hi = est.accelerator_hours_range
    table.add_row("[b]accelerator-hours[/]", f"[b]{_hours(est.accelerator_hours)}[/]", "")
    if _hours(lo) != _hours(hi):
        table.add_row(f"  {level_text(est.range)}", fmt_range(lo, hi, _hours), "")
    if est.wall_time_s:
        days = est.wall_time_s / 86400
        table.add_row("wall time", f"{fmt_sig(days)} days" if days >= 1 else f"{fmt_sig(est.wall_time_s / 3600)} h", "")
    energy_lo, energy_hi = est.impact.energy_j.low, est.impact.energy_j.high
    table.add_row("[b]IT energy[/]", f"[b]{fmt_energy(est.energy_j)}[/]", "")
    if fmt_energy(energy_lo) != fmt_energy(energy_hi):
        table.add_row(f"  {level_text(est.range)}", fmt_range(energy_lo, energy_hi, fmt_energy), "")
    parts: list[Any] = [table, impact_table(est.impact, cite), range_line(est.range)]
    if isinstance(est, PublishedEstimate) and est.published is not None:
        pub = est.published
        segments = []
        if pub.accelerator_hours:
            segments.append(f"{pub.accelerator_hours:,.0f} accelerator-hours")
        if pub.co2e_kg:
            note = "" if pub.place_published else (", at our default place: the publication gives no PUE or grid "
                                                   "intensity")
            segments.append(f"{fmt_co2e(pub.co2e_kg)} CO2e" + (
                f" (this estimate {pub.co2e_difference:+.0%}{note})" if pub.co2e_difference is not None else ""))
        size = pub.from_params_and_tokens
        if size:
            level = level_text(size.range_note) if size.range_note else "range"
            against = (f", {size.hours_difference:+.0%} against the published hours"
                       if size.hours_difference is not None else "")
            segments.append(f"from parameters and tokens alone: {_hours(size.accelerator_hours)} h "
                            f"({fmt_range(size.range[0], size.range[1], _hours)}, {level}){against}")
        parts.append(Text("published: ", style="bold") + Text("; ".join(segments)))
        parts.append(Text(f"source: {plain(pub.source)}", style="dim"))
    return Group(*parts, notes(cite))


def sweep_table(results: Sequence[Estimate]) -> Table:
    level = level_text(results[0].range) if results else "range"
    table = Table(title="estimate sweep (training, estimated)", title_justify="left")
    for col in ("params", "tokens", "accel-hours", level, "IT energy", "CO2e oper.", "CO2e emb."):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        lo, hi = r.accelerator_hours_range
        table.add_row(f"{r.params or 0:.2g}", f"{r.tokens or 0:.2g}", _hours(r.accelerator_hours),
                      fmt_range(lo, hi, _hours), fmt_energy(r.energy_j), fmt_co2e(r.co2e_kg), fmt_co2e(r.co2e_embodied_kg))
    return table


def print_estimate(est: Estimate, console: Console) -> None:
    console.print(estimate_view(est))


def sweep_note(results: Sequence[Estimate]) -> RangeNote:
    """One range note for a sweep: what widened every point's range, and at how many sizes more did."""
    common = set.intersection(*(set(r.range.widened_by) for r in results))
    wider = sum(1 for r in results if set(r.range.widened_by) - common)
    extra = (f"{wider} of {len(results)} sizes: their size is outside the fitted span or far from its middle",) \
        if wider else ()
    first = results[0].range
    return RangeNote(first.level, first.source, tuple(w for w in first.widened_by if w in common) + extra)


def print_sweep(results: Sequence[Estimate], plot: Path, console: Console) -> None:
    console.print(sweep_table(results))
    if results:
        console.print(range_line(sweep_note(results)))
    console.print(f"plot: {plot}", highlight=False)


MWH_J = 1000 * J_PER_KWH


class SweepPoint(NamedTuple):
    params: float
    energy_mwh: tuple[float, float, float]  # value, low, high
    co2e_t: tuple[float, float, float]
    water_m3: float


def sweep_points(results: Sequence[Estimate]) -> list[SweepPoint]:
    out = []
    for r in results:
        e_lo, e_hi = r.impact.energy_j.low, r.impact.energy_j.high
        c_lo, c_hi = r.impact.co2e_total_kg.low, r.impact.co2e_total_kg.high
        out.append(SweepPoint(r.params or 0.0, (r.energy_j / MWH_J, e_lo / MWH_J, e_hi / MWH_J),
                              (r.co2e_total_kg / 1000, c_lo / 1000, c_hi / 1000), r.water_l / 1000))
    return out


def estimates_from_json(rows: Sequence[dict[str, Any]]) -> list[Estimate]:
    """The estimates of an `estimate --json` sweep read back (files written before ranges had levels too)."""
    from ..shapes import from_json

    return [from_json(Estimate, {"range": {"level": None, "source": "not recorded"}, **row}) for row in rows]


def sweep_points_from_json(rows: Sequence[dict[str, Any]]) -> tuple[list[SweepPoint], RangeNote | None]:
    """The points of an `estimate --json` sweep read back."""
    estimates = estimates_from_json(rows)
    return sweep_points(estimates), (estimates[0].range if estimates else None)


def sweep_figure(points: Sequence[SweepPoint], note: RangeNote | None) -> Any:
    """Energy, CO2e and water against model size, each estimate's range shaded: a matplotlib Figure."""
    import matplotlib.pyplot as plt

    params = [p.params for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for series, label, marker, colour in ((lambda p: p.energy_mwh, "IT energy (MWh)", "o-", "#4e79a7"),
                                          (lambda p: p.co2e_t, "CO2e total (t)", "s-", "#f28e2b")):
        values = [series(p) for p in points]
        ax.loglog(params, [v[0] for v in values], marker, label=label, color=colour)
        ax.fill_between(params, [v[1] for v in values], [v[2] for v in values], color=colour, alpha=0.18, linewidth=0)
    ax.loglog(params, [p.water_m3 for p in points], "^-", label="water (m³)", color="#59a14f")
    ax.set_xlabel("parameters")
    band = (f"shaded: IT energy's nominal {note.level:.0%} range" if note is not None and note.level is not None
            else "shaded: IT energy's range (no calibrated level)") + "; CO2e adds the place's uncertainty"
    ax.set_title(f"Estimated training footprint against model size (estimated, not measured)\n{band}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_sweep_png(results: Sequence[Estimate], path: Path) -> None:
    """The sweep plot as a PNG at `path` (raises OSError where it cannot be written)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = sweep_figure(sweep_points(results), results[0].range if results else None)
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
