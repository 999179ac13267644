"""The progress bar of a run with progress reports: facility energy so far and the forecast.

It listens to the run's ProgressWatch (watch.py), which tells it after each sample; it shows the same
energy a budget is set in (facility energy, IT energy x PUE) and the forecast's operational CO2e, so
the bar and a budget warning never disagree about which energy they mean.
"""

from __future__ import annotations

from typing import Any

from ..watch import Progress, ProgressWatch
from .terminal import fmt_co2e, fmt_energy


class ProgressBar:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[energy]}"),
                                 console=Console(stderr=True), transient=False)
        self._task: Any = None

    def update(self, p: Progress) -> None:
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(p.project, total=p.total or 1, energy="")
        text = f"facility energy {fmt_energy(p.facility_energy_j)}"
        if p.forecast_facility_j is not None:
            e = p.forecast_facility_j
            text += f" · forecast {fmt_energy(e.value)} ({fmt_energy(e.low)}–{fmt_energy(e.high)})"
            if p.forecast_co2e_kg is not None:
                text += f", {fmt_co2e(p.forecast_co2e_kg)} CO2e operational"
        if p.over_budget:
            text += " · [red]over budget[/]"
        self._bar.update(self._task, completed=p.step, total=p.total or p.step, energy=text)

    def close(self) -> None:
        if self._task is not None:
            self._bar.stop()


def attach(watch: ProgressWatch) -> ProgressBar:
    """A bar that follows `watch` (imports rich now, on the host's thread, not on the sampler's)."""
    bar = ProgressBar()
    watch.on_update.append(bar.update)
    watch.on_close.append(bar.close)
    return bar
