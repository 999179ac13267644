"""The Pareto plot of a `reduce` result: each strategy's energy against its quality, the front drawn.

One plot, used by `mlfootprint reduce --plot` (PNG) and by the HTML page of a result (SVG). It draws
the statistics the verdicts rest on: x is the strategy's energy relative to the baseline's from the
paired rounds (the geometric mean of the per-round ratios, 1 = the baseline), and each error bar is the
interval the verdict checked against the ±min_saving band, which is shaded. A point whose bar clears
the band on the left is a saving the verdict can stand behind; a bar across a band edge is a verdict
still open. Training-side strategies and inference-side ones (prune, quantize) get a panel each.

`pareto_plot()` works out what to draw (a `ParetoPlot`: the points, their intervals and the front) and
`draw()` draws exactly that, so a test can check both. Labels are placed where they cover no other
label or point, and every piece of user text (strategy and metric names) is drawn as plain text,
never as matplotlib's maths notation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..reduce.result import StrategyReport
from ..reduce.stats import pareto_front

ROLES = {  # decision -> how a point is drawn (colour, legend text)
    "reference": ("black", "baseline"),
    "saves": ("tab:green", "saving (recommended)"),
    "costs more": ("tab:red", "costlier, or quality lost"),
    "quality loss": ("tab:red", "costlier, or quality lost"),
    "no change": ("tab:gray", "no change"),
    "undecided": ("tab:blue", "undecided (bar across a band edge)"),
}


@dataclass(frozen=True)
class PlottedPoint:
    strategy: str
    x: float  # energy relative to the baseline's (1 = the baseline)
    x_low: float | None  # the interval the verdict rests on, where there is one
    x_high: float | None
    y: float  # quality (the judged metric)
    decision: str
    to_target: bool  # x compares the energy to reach the target (else training or inference energy)


@dataclass(frozen=True)
class PlottedPanel:
    x_label: str
    points: tuple[PlottedPoint, ...]
    front: tuple[str, ...]  # strategies on the Pareto front (lower energy and higher quality), by x


@dataclass(frozen=True)
class ParetoPlot:
    metric: str
    panels: tuple[PlottedPanel, ...]
    min_saving: float | None  # the band drawn around 1
    target: float | None  # the quality target drawn, if any


def _point(r: StrategyReport, base: StrategyReport | None, metric: str) -> PlottedPoint | None:
    if metric not in r.quality:
        return None
    decision = r.decision if r.decision in ROLES else "undecided"
    if decision == "undecided" and r.recommended:  # a result written before verdicts had a decision
        decision = "saves"
    if r.strategy == "baseline":
        return PlottedPoint(r.strategy, 1.0, None, None, r.quality[metric], "reference", False)
    to_target = bool(r.basis and r.basis.startswith("energy to reach"))
    if r.change_range is not None:
        c = r.change_range
        return PlottedPoint(r.strategy, 1 + c.value, 1 + c.low, 1 + c.high, r.quality[metric], decision, to_target)
    if r.change is not None:
        return PlottedPoint(r.strategy, 1 + r.change, None, None, r.quality[metric], decision, to_target)
    if r.energy_j and base is not None and base.energy_j:  # a result without intervals: medians' ratio, no bar
        return PlottedPoint(r.strategy, r.energy_j / base.energy_j, None, None, r.quality[metric], decision, False)
    return None


def pareto_plot(reports: Sequence[StrategyReport], metric: str | None = None,
                target: float | None = None) -> ParetoPlot | None:
    """What the plot shows for these strategies; None when no strategy has both an energy and a quality."""
    base = next((r for r in reports if r.strategy == "baseline"), None)
    if metric is None:
        metric = next(iter(sorted(base.quality)), None) if base else None
        metric = metric or next((m for r in reports for m in sorted(r.quality)), None)
    if metric is None:
        return None
    panels = []
    for label, inference in (("energy relative to the baseline's (1 = baseline): training energy, or energy to "
                              "reach the target (◆)", False),
                             ("inference energy per prediction relative to the baseline's (1 = baseline)", True)):
        chosen = [r for r in reports if r.intensity_note is None
                  and (r.strategy == "baseline" or (r.kind == "inference") == inference)]
        points = sorted((p for p in (_point(r, base, metric) for r in chosen) if p is not None),
                        key=lambda p: (p.x, p.strategy))
        if not points or (inference and all(p.strategy == "baseline" for p in points)):
            continue  # the training panel shows a lone baseline; the inference one needs a strategy of its own
        front = pareto_front([(p.x, p.y) for p in points])
        panels.append(PlottedPanel(label, tuple(points), tuple(points[i].strategy for i in front)))
    if not panels:
        return None
    min_saving = next((r.min_saving for r in reports if r.min_saving is not None), None)
    return ParetoPlot(metric, tuple(panels), min_saving, target)


def _pyplot() -> Any:
    from ..extras import need
    from .plots import pyplot

    need("the Pareto plot", "plots", ("matplotlib",))
    return pyplot()  # user text (strategy names) is text: maths notation off


def draw(plot: ParetoPlot) -> Any:
    """The matplotlib figure of `plot` (the caller saves and closes it)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(plot.panels), figsize=(6.8 * len(plot.panels), 5.4), squeeze=False)
    roles_seen: dict[str, str] = {}
    for ax, panel in zip(axes[0], plot.panels):
        if plot.min_saving:
            ax.axvspan(1 - plot.min_saving, 1 + plot.min_saving, color="0.88", zorder=0)
        ax.axvline(1.0, color="black", lw=0.6, zorder=1)
        for p in panel.points:
            colour, role = ROLES[p.decision]
            roles_seen.setdefault(role, colour)
            xerr = [[p.x - p.x_low], [p.x_high - p.x]] if p.x_low is not None and p.x_high is not None else None
            ax.errorbar(p.x, p.y, xerr=xerr, fmt="D" if p.to_target else "o", color=colour, capsize=3, zorder=3,
                        markerfacecolor="white" if p.decision == "undecided" else colour)
        by_name = {p.strategy: p for p in panel.points}
        front = [by_name[name] for name in panel.front]
        ax.plot([p.x for p in front], [p.y for p in front], "--", color="tab:orange", zorder=2, gid="pareto-front")
        if plot.target is not None:
            ax.axhline(plot.target, color="grey", lw=0.8, ls=":", zorder=1)
        xs = [v for p in panel.points for v in (p.x, p.x_low, p.x_high) if v is not None and v > 0]
        if xs and max(xs) / min(xs) > 4:
            ax.set_xscale("log")
        ax.margins(x=0.12, y=0.12)
        ax.set_xlabel(panel.x_label, fontsize=8)
        ax.set_ylabel(plot.metric, parse_math=False)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=role,
                      markerfacecolor="white" if role.startswith("undecided") else c) for role, c in roles_seen.items()]
    handles.append(Line2D([], [], ls="--", color="tab:orange", label="Pareto front"))
    if plot.min_saving:
        handles.append(Line2D([], [], lw=8, color="0.88", label=f"±{plot.min_saving * 100:g}% band"))
    if plot.target is not None:
        handles.append(Line2D([], [], ls=":", color="grey", label="quality target"))
    fig.suptitle("energy against quality; bars: the interval each verdict rests on (paired rounds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 0.97))
    legend = fig.legend(handles=handles, loc="lower center", ncol=3 if len(plot.panels) == 1 else 5, fontsize=8,
                        frameon=False)
    for text in legend.get_texts():
        text.set_parse_math(False)
    for ax, panel in zip(axes[0], plot.panels):
        _label(fig, ax, panel.points)
    return fig


# where a label may go, in points from its marker: right above first, then the other corners, then further out
_OFFSETS = [(dx * s, dy * s, "left" if dx > 0 else "right", "bottom" if dy > 0 else "top")
            for s in (1, 2.6, 4.2) for dx, dy in ((5, 4), (5, -4), (-5, 4), (-5, -4))]


def _label(fig: Any, ax: Any, points: Sequence[PlottedPoint]) -> None:
    """Name each point where its label overlaps no label or marker drawn so far (a readable plot when
    strategies land on the same spot); when no place is free, the least crowded one."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = []
    for p in points:
        cx, cy = ax.transData.transform((p.x, p.y))
        taken.append((cx - 4, cy - 4, cx + 4, cy + 4))
    for p in sorted(points, key=lambda q: (q.x, -q.y)):
        best: tuple[int, Any] | None = None
        for dx, dy, ha, va in _OFFSETS:
            text = ax.annotate(p.strategy, (p.x, p.y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=8, parse_math=False, zorder=4)
            box = text.get_window_extent(renderer)
            edges = (box.x0, box.y0, box.x1, box.y1)
            clashes = sum(_overlap(edges, t) for t in taken) + (0 if _inside(edges, frame) else 1)
            if best is None or clashes < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clashes, text)
                if clashes == 0:
                    break
            else:
                text.remove()
        assert best is not None
        box = best[1].get_window_extent(renderer)
        taken.append((box.x0, box.y0, box.x1, box.y1))


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: tuple[float, float, float, float], frame: Any) -> bool:
    return frame.x0 <= a[0] and a[2] <= frame.x1 and frame.y0 <= a[1] and a[3] <= frame.y1


def write_pareto_plot(reports: Sequence[StrategyReport], path: str, *, metric: str | None = None,
                      target: float | None = None) -> ParetoPlot | None:
    """Draw the plot into a PNG at `path`; returns what was drawn (None, and no file, when nothing can be)."""
    plot = pareto_plot(reports, metric, target)
    if plot is None:
        return None
    fig = draw(plot)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return plot


__all__ = ["ParetoPlot", "PlottedPanel", "PlottedPoint", "draw", "pareto_plot", "write_pareto_plot"]
