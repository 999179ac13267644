"""The plots of the HTML report and the dashboard, as inline SVG (text drawn as paths: no fonts, no
scripts, no network).

User text (project, phase and component names) reaches a plot as text, never as matplotlib's maths
notation: a name such as `$\\frac{$` is drawn as typed (every text artist is made with
parse_math=False). Colours are distinct (a qualitative palette), legends sit outside the data.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..record import SampleRow

if TYPE_CHECKING:
    from ..store.reader import ProjectDay

# Tableau 10: distinct to colour-blind readers as far as ten colours can be
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]
MIXED = "(mixed)"  # samples/phase: several phases shared the interval (meter.MIXED_PHASE)
# the projects chart names this many, each in its own colour, and stacks the rest as "N other projects" in
# the palette's last colour (Tableau's grey): no two bands share a colour
PROJECTS_SHOWN = len(PALETTE) - 1
OTHER_COLOUR = PALETTE[-1]

__all__ = ["OTHER_COLOUR", "PALETTE", "PROJECTS_SHOWN", "Segment", "bar_plot", "energy_unit", "power_plot",
           "project_segments", "projects_plot", "pyplot", "svg"]


def pyplot() -> Any:
    """matplotlib.pyplot, set up for inline SVG; one place, for every plot of the package."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: no font needed to view the file
    matplotlib.rcParams["text.parse_math"] = False  # user text is text (matplotlib >= 3.5)
    import matplotlib.pyplot as plt

    return plt


def svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inline


def power_plot(samples: Sequence[SampleRow], title: str) -> str | None:
    """IT power per device over time; behind it, the phase that held each interval (at least 80 % of it).
    Intervals that several phases shared are left unshaded: their mix is below the sampling resolution."""
    if not samples:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.4))
    keys = sorted({s.key for s in samples})
    for i, key in enumerate(keys):
        pts = [(s.t_s, s.power_w) for s in samples if s.key == key]
        # each sample is the mean power over the interval that ends at its time: draw it over that interval
        starts = [0.0] + [t for t, _ in pts[:-1]]
        ax.step(starts + [pts[-1][0]], [p for _, p in pts] + [pts[-1][1]], where="post", label=key,
                color=PALETTE[i % len(PALETTE)], linewidth=1.3)
    spans = _phase_spans(samples, keys[0])
    energy: dict[str, float] = defaultdict(float)
    for s in samples:
        if s.phase and s.phase != MIXED:
            energy[s.phase] += s.energy_j
    phases = sorted(energy, key=lambda p: -energy[p])  # by energy, largest first
    labelled: set[str] = set()
    for a, b, phase in spans:
        if phase and phase != MIXED:
            colour = PALETTE[(len(keys) + phases.index(phase)) % len(PALETTE)]
            ax.axvspan(a, b, color=colour, alpha=0.18, linewidth=0,
                       label=None if phase in labelled else f"phase: {phase}")
            labelled.add(phase)
    mixed_s = sum(b - a for a, b, phase in spans if phase == MIXED)
    ax.set_xlabel("seconds since the start")
    ax.set_ylabel("IT power (W)")
    if labelled:  # the shading is explained only where there is shading
        title += "; shaded: the phase that held the interval"
        title += f"; unshaded: no single phase held it ({mixed_s:.0f} s)" if mixed_s else ""
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    order = list(range(len(keys))) + sorted(range(len(keys), len(labels)),
                                            key=lambda i: phases.index(labels[i][len("phase: "):]))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_ylim(bottom=0)
    return svg(fig)


def _phase_spans(samples: Sequence[SampleRow], key: str) -> list[tuple[float, float, str | None]]:
    spans: list[tuple[float, float, str | None]] = []
    previous_t = 0.0
    for s in samples:
        if s.key != key:
            continue
        if spans and spans[-1][2] == s.phase:
            spans[-1] = (spans[-1][0], s.t_s, s.phase)
        else:
            spans.append((previous_t, s.t_s, s.phase))
        previous_t = s.t_s
    return spans


def bar_plot(labels: list[str], values: list[float], title: str = "", quantity: str = "IT energy") -> str | None:
    """Horizontal bars of energies, largest first, each label once, in a unit that fits the largest. No
    title when the page's heading already says it (the default): a label is not repeated."""
    if not labels:
        return None
    plt = pyplot()
    pairs = sorted(zip(labels, values), key=lambda p: -p[1])
    factor, unit = energy_unit(max((v for _, v in pairs), default=0.0))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(pairs) + 0.9))
    ax.barh(range(len(pairs)), [v * factor for _, v in pairs], color=PALETTE[0])
    ax.set_yticks(range(len(pairs)), [lab for lab, _ in pairs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{quantity} ({unit})")
    if title:
        ax.set_title(title, fontsize=10)
    return svg(fig)


def energy_unit(peak_j: float) -> tuple[float, str]:
    """(factor, unit) for an axis of joules whose largest value is `peak_j`: no 0.0001 kWh or 2e6 J ticks."""
    for factor, unit, below in ((1e6, "µJ", 1e-3), (1e3, "mJ", 1.0), (1.0, "J", 1e4), (1e-3, "kJ", 1e7),
                                (1 / 3.6e6, "kWh", 3.6e9)):
        if peak_j < below:
            return factor, unit
    return 1 / 3.6e9, "MWh"


@dataclass(frozen=True)
class Segment:
    """One project's band of the projects chart (or the projects left unnamed, together)."""

    label: str
    colour: str
    energy_j_by_day: dict[str, float]  # UTC day (YYYY-MM-DD) -> IT energy


def project_segments(days: Sequence[ProjectDay]) -> list[Segment]:
    """The largest PROJECTS_SHOWN projects by IT energy, each in its own colour, then the rest as one
    "N other projects" band in OTHER_COLOUR: never two bands of one colour, never a legend longer than
    the chart. A day that is not a date (a hand-made import) is left out: it has no place on a time axis."""
    from datetime import date

    by: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d in days:
        try:
            date.fromisoformat(d.day)
        except ValueError:
            continue
        by[d.project][d.day] += d.energy_j
    totals = sorted(by, key=lambda p: (-sum(by[p].values()), p))
    named, rest = totals[:PROJECTS_SHOWN], totals[PROJECTS_SHOWN:]
    segments = [Segment(p if len(p) <= 40 else p[:39] + "…", PALETTE[i], dict(by[p])) for i, p in enumerate(named)]
    if rest:
        other: dict[str, float] = defaultdict(float)
        for p in rest:
            for day, energy_j in by[p].items():
                other[day] += energy_j
        segments.append(Segment(f"{len(rest)} other project{'s' if len(rest) > 1 else ''}", OTHER_COLOUR,
                                dict(other)))
    return segments


def projects_plot(days: Sequence[ProjectDay]) -> str | None:
    """IT energy per project per day, stacked: where the footprint goes over time (project_segments says
    which projects are named). Drawn as stacked steps (one shape per project, whatever the number of
    days: a year of days draws as fast as a week)."""
    from datetime import date, datetime, timedelta

    segments = project_segments(days)
    if not segments:
        return None
    stored = sorted({day for s in segments for day in s.energy_j_by_day})
    first = date.fromisoformat(stored[0])
    axis = [first + timedelta(days=i) for i in range((date.fromisoformat(stored[-1]) - first).days + 1)]
    keys = [x.isoformat() for x in axis]
    factor, unit = energy_unit(max(sum(s.energy_j_by_day.get(k, 0.0) for s in segments) for k in keys))
    values = [[s.energy_j_by_day.get(k, 0.0) * factor for k in keys] for s in segments]
    colors = [s.colour for s in segments]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if len(axis) == 1:  # one day: a stacked bar
        bottom = 0.0
        for s, heights, color in zip(segments, values, colors):
            ax.bar(axis, heights, bottom=bottom, label=s.label, color=color, width=0.6)
            bottom += heights[0]
        ax.set_xticks(axis, keys)
        ax.set_xlim(first - timedelta(days=3), first + timedelta(days=3))
    else:  # each day's step spans that day, [00:00, 24:00), and is labelled at its middle
        edges = [*axis, axis[-1] + timedelta(days=1)]
        ax.stackplot(edges, *[v + v[-1:] for v in values], labels=[s.label for s in segments], colors=colors,
                     step="post")
        ax.set_xlim(edges[0], edges[-1])
        shown = axis[::max(1, -(-len(axis) // 10))]  # at most ten dates on the axis
        ax.set_xticks([datetime.combine(d, datetime.min.time()) + timedelta(hours=12) for d in shown],
                      [d.isoformat() for d in shown])
    ax.set_ylabel(f"IT energy ({unit} per day)")
    ax.set_title("IT energy per project per day (UTC; nested runs counted in their parent)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    fig.autofmt_xdate()
    return svg(fig)
