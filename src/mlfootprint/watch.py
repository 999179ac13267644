"""Progress → forecast → budget → progress bar, for one run.

The host only stores its latest (step, total) with `report()`; the sampler thread calls `observe()`
after each sample, which feeds the forecaster, checks the budgets (warning once) and redraws the
bar. Stopping is opt-in and never raises into the host: `report()` returns False, and an
`on_over_budget` hook lets the CLI end a wrapped command.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from . import impact
from .config import Settings
from .constants import J_PER_KWH
from .forecast import Forecast, Forecaster

log = logging.getLogger("mlfootprint")
MIN_PROGRESS_FOR_BUDGET = 0.10  # budgets are checked against forecasts made after this share of the steps


class ProgressWatch:
    def __init__(self, run_id: str, settings: Settings, intensity_g_per_kwh: float, warnings: list[str],
                 co2e_kg_of: Callable[[float], float] | None = None) -> None:
        self.run_id, self.settings, self.intensity_g_per_kwh = run_id, settings, intensity_g_per_kwh
        # IT energy -> operational CO2e, as the run charges it (hour by hour with an intensity series)
        self._co2e_kg_of = co2e_kg_of
        self.warnings = warnings  # the run's list: a budget warning lands in its record
        self.step: tuple[float, float | None] | None = None
        self.over_budget: str | None = None
        self.stop_requested = False
        self.on_over_budget: Callable[[], None] | None = None
        self._forecaster: Forecaster | None = None
        self._lock = threading.Lock()
        self._bar: Any = None
        self._bar_task: Any = None
        self._energy_j = 0.0
        if settings.progress_bar:  # imported here, not on the sampler thread (imports and fork: see recorder)
            import rich.progress  # noqa: F401

            from .report import terminal  # noqa: F401

    def report(self, step: float, total: float | None) -> bool:
        self.step = (float(step), float(total) if total else None)
        return not self.stop_requested

    def forecast(self) -> Forecast | None:
        with self._lock:
            return self._forecaster.forecast() if self._forecaster else None

    def observe(self, elapsed_s: float, energy_j: float) -> None:
        if self.step is None:
            return
        step, total = self.step
        with self._lock:
            if total and (self._forecaster is None or self._forecaster.total_steps != total):
                self._forecaster = Forecaster(total)
            if self._forecaster is None:
                return
            self._forecaster.observe(step, elapsed_s, energy_j)
        self._energy_j = energy_j
        fc = self.forecast()
        if fc is not None:
            self._check_budget(fc)
        self._update_bar(fc)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _co2e_kg(self, it_energy_j: float) -> float:
        if self._co2e_kg_of is not None:
            return self._co2e_kg_of(it_energy_j)
        return impact.operational_co2e_kg(it_energy_j, self.settings.pue, self.intensity_g_per_kwh)

    def _check_budget(self, fc: Forecast) -> None:
        # a projection from the first few steps swings with one slow step (a lazy import, a cache miss)
        if self.over_budget or fc.progress < MIN_PROGRESS_FOR_BUDGET:
            return
        s = self.settings
        facility_kwh = impact.facility_energy_j(fc.total_energy_j.value, s.pue) / J_PER_KWH
        co2e = self._co2e_kg(fc.total_energy_j.value)
        if s.budget_kwh is not None and facility_kwh > s.budget_kwh:
            self.over_budget = f"forecast {facility_kwh:.4g} kWh exceeds the budget of {s.budget_kwh:g} kWh"
        elif s.budget_co2e_kg is not None and co2e > s.budget_co2e_kg:
            self.over_budget = f"forecast {co2e:.4g} kg CO2e exceeds the budget of {s.budget_co2e_kg:g} kg"
        if not self.over_budget:
            return
        action = "stopping the run" if s.stop_over_budget else "continuing (set stop_over_budget to stop)"
        log.warning("mlfootprint: run %s at %.0f%%: %s; %s", self.run_id, fc.progress * 100, self.over_budget, action)
        self.warnings.append(f"over budget at {fc.progress:.0%}: {self.over_budget}")
        if s.stop_over_budget:
            self.stop_requested = True
            if self.on_over_budget:
                self.on_over_budget()

    def _update_bar(self, fc: Forecast | None) -> None:
        if not self.settings.progress_bar or self.step is None:
            return
        from .report.terminal import fmt_co2e, fmt_energy

        step, total = self.step
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[energy]}"),
                                 console=Console(stderr=True), transient=False)
            self._bar.start()
            self._bar_task = self._bar.add_task(self.settings.project, total=total or 1, energy="")
        text = f"{fmt_energy(self._energy_j)} measured"
        if fc is not None:
            e = fc.total_energy_j
            text += (f" · forecast {fmt_energy(e.value)} ({fmt_energy(e.low)}–{fmt_energy(e.high)}), "
                     f"{fmt_co2e(self._co2e_kg(e.value))} CO2e")
        if self.over_budget:
            text += " · [red]over budget[/]"
        self._bar.update(self._bar_task, completed=step, total=total or step, energy=text)
