"""The one Pareto plot of a reduce result: the points and the front it draws are the verdicts' own numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from mlfootprint.reduce import Design, Strategy, Trial, strategies as s, summarize  # noqa: E402
from mlfootprint.reduce.result import Result  # noqa: E402
from mlfootprint.report.pareto import draw, pareto_plot, write_pareto_plot  # noqa: E402


def result(energies: dict[str, list[float]], accuracy: dict[str, float], kinds: dict[str, str] | None = None,
           inference: dict[str, list[float]] | None = None) -> Result:
    strategies, trials = [], []
    for name, values in energies.items():
        strategy = s.baseline() if name == "baseline" else Strategy()
        strategy.name, strategy.kind = name, (kinds or {}).get(name, "training")
        strategies.append(strategy)
        for i, e in enumerate(values):
            trials.append(Trial(name, strategy.kind, i, energy_j=e, quality={"accuracy": accuracy[name]}, pue=1.2,
                                inference_j_per_1000=(inference or {}).get(name, [None] * 9)[i]))
    return summarize(Design({"accuracy": 0.9}), strategies, trials)


def test_the_plot_draws_the_verdicts_intervals_and_the_front(tmp_path: Path) -> None:
    r = result({"baseline": [100, 110, 90], "cheap": [70, 78, 62], "costly": [130, 142, 118],
                "$\\alpha$ worse": [60, 66, 54]},
               {"baseline": 0.96, "cheap": 0.955, "costly": 0.97, "$\\alpha$ worse": 0.90})
    drawn = write_pareto_plot(r.reports, str(tmp_path / "p.png"))
    assert drawn is not None and (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [panel] = drawn.panels
    points = {p.strategy: p for p in panel.points}
    assert set(points) == {"baseline", "cheap", "costly", "$\\alpha$ worse"}
    cheap = r.report("cheap")
    assert points["cheap"].x == pytest.approx(1 + cheap.change)  # type: ignore[operator]
    assert (points["cheap"].x_low, points["cheap"].x_high) == pytest.approx(
        (1 + cheap.change_range.low, 1 + cheap.change_range.high))  # type: ignore[union-attr]
    assert points["baseline"].x == 1.0 and points["baseline"].decision == "reference"
    # by energy: the 40 % cheaper but worse one, cheap, the baseline (better than cheap), the costly but best one
    assert panel.front == ("$\\alpha$ worse", "cheap", "baseline", "costly")
    assert points["cheap"].decision == "saves" and points["costly"].decision == "costs more"


def test_the_figure_holds_what_the_plot_says_it_drew() -> None:
    r = result({"baseline": [100, 100, 100], "a": [70, 71, 69], "b": [120, 121, 119]},
               {"baseline": 0.96, "a": 0.95, "b": 0.97})
    plot = pareto_plot(r.reports)
    assert plot is not None
    fig = draw(plot)
    ax = fig.axes[0]
    front = next(line for line in ax.get_lines() if line.get_gid() == "pareto-front")
    by_name = {p.strategy: p for p in plot.panels[0].points}
    assert list(front.get_xdata()) == [by_name[n].x for n in plot.panels[0].front]
    labels = {t.get_text(): t for t in ax.texts}
    assert set(labels) == {"baseline", "a", "b"}
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), "labels do not overprint"


@pytest.mark.parametrize("name", ["$x^2$", "$\\frac{$"])
def test_user_text_is_drawn_as_text_not_maths(name: str) -> None:
    """A strategy or metric name with dollars is the user's text: drawn as typed, never parsed as maths
    (an invalid formula would raise, and the PNG, the HTML page and the command would fail with it)."""
    from mlfootprint.report.html import pareto_plot as html_plot

    r = result({"baseline": [100, 100, 100], name: [70, 70, 70]}, {"baseline": 0.96, name: 0.96})
    plot = pareto_plot(r.reports, metric="accuracy")
    assert plot is not None
    fig = draw(plot)
    texts = [t for t in fig.axes[0].texts if "$" in t.get_text()]
    assert texts and all(not t.get_parse_math() for t in texts)
    fig.canvas.draw()  # would raise on malformed maths if it were parsed
    svg = html_plot(r.reports, "accuracy")
    assert svg is not None and svg.startswith("<svg")


def test_labels_of_strategies_on_the_same_spot_stay_apart() -> None:
    """The newcomer's blob: adamw, baseline and batch 128 at nearly the same energy and quality."""
    names = ["baseline", "adamw", "batch 128", "lr cosine", "bf16"]
    r = result({n: [100 + i * 0.5] * 3 for i, n in enumerate(names)}, {n: 0.955 for n in names})
    plot = pareto_plot(r.reports)
    assert plot is not None
    fig = draw(plot)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts]
    assert len(boxes) == len(names)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_inference_strategies_get_their_own_panel() -> None:
    r = result({"baseline": [100, 100, 100], "prune 50%": [100, 100, 100], "batch 128": [70, 70, 70]},
               {"baseline": 0.96, "prune 50%": 0.95, "batch 128": 0.96}, kinds={"prune 50%": "inference"},
               inference={"baseline": [2.0, 2.0, 2.0], "prune 50%": [1.0, 1.1, 0.9]})
    plot = pareto_plot(r.reports)
    assert plot is not None and len(plot.panels) == 2
    training, inference = plot.panels
    assert {p.strategy for p in training.points} == {"baseline", "batch 128"}
    assert {p.strategy for p in inference.points} == {"baseline", "prune 50%"}
    prune = next(p for p in inference.points if p.strategy == "prune 50%")
    assert prune.x == pytest.approx(math.exp(sum(math.log(v / 2.0) for v in (1.0, 1.1, 0.9)) / 3))


def test_a_json_file_written_by_reduce_draws_the_same_plot(tmp_path: Path) -> None:
    from mlfootprint.reduce.result import StrategyReport
    from mlfootprint.shapes import from_json

    r = result({"baseline": [100, 102, 98], "a": [70, 71, 69]}, {"baseline": 0.96, "a": 0.95})
    back = [from_json(StrategyReport, row) for row in json.loads(json.dumps(r.records()))]
    assert pareto_plot(back) == pareto_plot(r.reports)
