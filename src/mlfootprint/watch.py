"""Progress → forecast → budget, for one run.

The host only stores its latest (step, total) with `report()`; the sampler thread calls `observe()`
after each sample, which feeds the forecaster, checks the budgets (warning once) and tells the
listeners (`on_update`: the progress bar of report/progress.py, when one is asked for). Stopping is
opt-in and never raises into the host: `report()` returns False, and an `on_over_budget` hook lets the
CLI end a wrapped command.

The budget and the bar speak of the same energy: facility energy (IT energy x PUE), the energy a
`budget_kwh` is set in, and operational CO2e.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import impact
from .config import Settings
from .constants import J_PER_KWH
from .forecast import Forecast, Forecaster
from .ranges import Range

log = logging.getLogger("mlfootprint")
MIN_PROGRESS_FOR_BUDGET = 0.10  # budgets are checked against forecasts made after this share of the steps


@dataclass(frozen=True)
class Progress:
    """What a progress display shows after a sample: the step, the facility energy so far and the forecast."""

    project: str
    step: float
    total: float | None
    facility_energy_j: float  # so far
    forecast_facility_j: Range | None  # projected total, facility energy
    forecast_co2e_kg: float | None  # projected total, operational
    over_budget: str | None


class ProgressWatch:
    def __init__(self, run_id: str, settings: Settings, warnings: list[str],
                 co2e_kg_of: Callable[[float], float]) -> None:
        self.run_id, self.settings = run_id, settings
        # IT energy -> operational CO2e, as the run charges it (hour by hour with an intensity series)
        self._co2e_kg_of = co2e_kg_of
        self.warnings = warnings  # the run's list: a budget warning lands in its record
        self.step: tuple[float, float | None] | None = None
        self.over_budget: str | None = None
        self.stop_requested = False
        self.on_over_budget: Callable[[], None] | None = None
        self._forecaster: Forecaster | None = None
        self._lock = threading.Lock()
        self.on_update: list[Callable[[Progress], None]] = []
        self.on_close: list[Callable[[], None]] = []

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
        fc = self.forecast()
        if fc is not None:
            self._check_budget(fc)
        if self.on_update:
            pue = self.settings.site.pue
            progress = Progress(self.settings.project, step, total, impact.facility_energy_j(energy_j, pue),
                                fc.total_energy_j.scaled_by(pue) if fc is not None else None,
                                self._co2e_kg_of(fc.total_energy_j.value) if fc is not None else None,
                                self.over_budget)
            for listener in self.on_update:
                listener(progress)

    def close(self) -> None:
        for listener in self.on_close:
            listener()

    def _check_budget(self, fc: Forecast) -> None:
        # a projection from the first few steps swings with one slow step (a lazy import, a cache miss)
        if self.over_budget or fc.progress < MIN_PROGRESS_FOR_BUDGET:
            return
        s = self.settings.budget
        facility_kwh = impact.facility_energy_j(fc.total_energy_j.value, self.settings.site.pue) / J_PER_KWH
        co2e = self._co2e_kg_of(fc.total_energy_j.value)
        if s.budget_kwh is not None and facility_kwh > s.budget_kwh:
            self.over_budget = (f"forecast facility energy {facility_kwh:.4g} kWh exceeds the budget of "
                                f"{s.budget_kwh:g} kWh")
        elif s.budget_co2e_kg is not None and co2e > s.budget_co2e_kg:
            self.over_budget = (f"forecast operational CO2e {co2e:.4g} kg exceeds the budget of "
                                f"{s.budget_co2e_kg:g} kg")
        if not self.over_budget:
            return
        action = "stopping the run" if s.stop_over_budget else "continuing (set stop_over_budget to stop)"
        log.warning("mlfootprint: run %s at %.0f%%: %s; %s", self.run_id, fc.progress * 100, self.over_budget, action)
        self.warnings.append(f"over budget at {fc.progress:.0%}: {self.over_budget}")
        if s.stop_over_budget:
            self.stop_requested = True
            if self.on_over_budget:
                self.on_over_budget()
