"""From what the meter read to what a run is charged: component rows, totals, CO2e hour by hour, impact.

`RunAccounting` is the part of a run that the writer thread drives: it turns an immutable
`MeterSnapshot` into the stored figures. It owns the hourly-series matching (each drained sample
charged at its own hour's intensity), which only the writer updates; other threads read the matched
pair through one attribute holding an immutable tuple, so a reader never sees half an update.

A nested run (its devices charged to an outer run that measures the same machine) still reads the
sensors, so its phases get their energy, but every component is charged to the outer run: its rows
say so (`charged_to`) and its totals are zero, so sums over stored runs count each device once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import impact
from .config import Settings
from .grid import Location
from .impact import Impact, Place
from .meter import ChannelFigures, MeterSnapshot, Sample
from .ownership import Claims
from .ranges import Range
from .record import ComponentRow

if TYPE_CHECKING:
    from .grid.series import IntensitySeries  # urllib and http come with it: not on a run's start path

log = logging.getLogger("mlfootprint")

PROCESS_GPU_NOTE = ("whole GPU charged when the tracked processes use it, or when NVML lists only processes outside "
                    "this PID namespace (NVML has no per-process energy)")


@dataclass(frozen=True)
class Totals:
    """A run's charged totals at one snapshot."""

    components: list[ComponentRow]
    energy_j: float  # IT energy charged to this run
    read_j: float  # IT energy the run read, charged here or elsewhere
    uncertainty_j: float
    facility_energy_j: float
    co2e_kg: float  # operational, hour by hour where a series was matched
    impact: Impact | None


class RunAccounting:
    def __init__(self, settings: Settings, location: Location, place: Place, series: IntensitySeries | None,
                 started_at: str, *, job_rank: bool, claims: Claims, logical_cpus: int,
                 charged_to: str | None = None, uses_hardware: bool = True) -> None:
        self.settings, self.location, self.place, self.series = settings, location, place, series
        self._uses_hardware = uses_hardware  # False: an experiment's entry (its trials are charged the hardware)
        self._start = datetime.fromisoformat(started_at)
        self._job_rank = job_rank
        self._claims = claims
        self._logical_cpus = logical_cpus
        self.charged_to = charged_to
        self._matched: tuple[float, float] = (0.0, 0.0)  # (sample energy matched to an hour, its CO2e)
        self._impact_failed = False

    # -- CO2e --------------------------------------------------------------------------------------
    def match_series(self, samples: tuple[Sample, ...]) -> None:
        """Charge each sample's energy at its own hour's intensity, where the series covers it (writer thread)."""
        if self.series is None or self.charged_to is not None:
            return
        energy_j, co2e_kg = self._matched
        pue = self.settings.site.pue
        for s in samples:
            intensity = self.series.at(self._start + timedelta(seconds=s.t_s))
            if intensity is not None:
                energy_j += s.energy_j
                co2e_kg += impact.operational_co2e_kg(s.energy_j, pue, intensity)
        self._matched = (energy_j, co2e_kg)  # one assignment: readers see the old pair or the new one

    def co2e_kg(self, energy_j: float) -> float:
        """Operational CO2e of `energy_j` of the run's IT energy (any thread)."""
        pue, intensity = self.settings.site.pue, self.location.intensity_g_per_kwh
        if self.series is None:
            return impact.operational_co2e_kg(energy_j, pue, intensity)
        matched_j, matched_co2e = self._matched
        return matched_co2e + impact.operational_co2e_kg(max(0.0, energy_j - matched_j), pue, intensity)

    def projected_co2e_kg(self, energy_j: float, so_far_j: float) -> float:
        """CO2e of a projected total: with a series, at the effective intensity the run has had so far."""
        if self.series is None or so_far_j <= 0:
            return self.co2e_kg(energy_j)
        return self.co2e_kg(so_far_j) * energy_j / so_far_j

    # -- totals --------------------------------------------------------------------------------------
    def component_rows(self, channels: tuple[ChannelFigures, ...]) -> list[ComponentRow]:
        rows = []
        for ch in channels:
            notes = list(ch.notes)
            if self.settings.sampling.scope == "process" and ch.kind == "gpu":
                notes.append(PROCESS_GPU_NOTE)
            rows.append(ComponentRow(ch.key, ch.kind, ch.name, ch.method, ch.source, ch.uncertainty_rel, ch.energy_j,
                                     "; ".join(notes) or None, self.charged_to))
        return rows

    def totals(self, snap: MeterSnapshot, with_impact: bool = True) -> Totals:
        comps = self.component_rows(snap.channels)
        charged = [c for c in comps if c.charged_to is None]
        energy_j = sum(c.energy_j for c in charged)
        uncertainty_j = impact.uncertainty_j([(c.energy_j, c.uncertainty_rel) for c in charged])
        co2e = self.co2e_kg(energy_j)
        assessed = self._impact(energy_j, uncertainty_j, charged, co2e, snap.elapsed_s) if with_impact else None
        return Totals(comps, energy_j, sum(c.energy_j for c in comps), uncertainty_j,
                      impact.facility_energy_j(energy_j, self.settings.site.pue), co2e, assessed)

    def _impact(self, energy_j: float, uncertainty_j: float, comps: list[ComponentRow], operational_co2e_kg: float,
                duration_s: float) -> Impact | None:
        try:
            return self._assess(energy_j, uncertainty_j, comps, operational_co2e_kg, duration_s)
        except Exception as exc:  # impact is derived; never let it stop measured data from being saved
            if not self._impact_failed:
                self._impact_failed = True
                log.warning("mlfootprint: could not compute the impact figures (%s); energy is still recorded", exc)
            return None

    def _assess(self, energy_j: float, uncertainty_j: float, comps: list[ComponentRow], operational_co2e_kg: float,
                duration_s: float) -> Impact:
        series_co2e = series_source = None
        if self.series is not None:
            series_co2e = operational_co2e_kg
            matched_j = self._matched[0]
            share = matched_j / energy_j if energy_j > 0 else 0.0
            series_source = (f"{self.series.source}, {share:.0%} of the energy matched to its hour"
                             + (f"; the rest at the annual {self.location.intensity_g_per_kwh:g} gCO2e/kWh"
                                if share < 0.999 else ""))
        # the hardware catalogue: loaded on the writer thread, not at start
        from .embodied import items_for_rank, items_for_run

        kinds = [(c.kind, c.name) for c in comps]
        basis, detail = impact.energy_basis((c.method, c.kind) for c in comps)  # measured only if every one is
        if not self._job_rank:
            items = (items_for_run(kinds, self._logical_cpus)
                     if comps or (self.charged_to is None and self._uses_hardware) else [])
        else:  # a rank: only the hardware it measures, so the job's ranks add up to each device once
            items = items_for_rank(kinds, self._logical_cpus, owns_host=self._claims.host,
                                   host_gpus=self._claims.visible_gpus)
        return impact.assess(Range(energy_j, max(0.0, energy_j - uncertainty_j), energy_j + uncertainty_j),
                             Range.exact(duration_s), self.place, items, basis,
                             instance_price_per_hour=self.settings.site.instance_price_per_hour,
                             series_co2e_kg=series_co2e, series_source=series_source, basis_detail=detail)


__all__ = ["RunAccounting", "Totals"]
