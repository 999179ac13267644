"""The metrics every live output publishes, each declared once: name, unit, what it means.

Prometheus (and its textfile variant) and the experiment trackers (MLflow, W&B) publish the same
quantities under names that suit each: Prometheus' conventions (base units, `_total` for counters)
and a `mlfootprint/...` path for trackers. Both names come from here, so one quantity is never two
metrics that drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..live import LiveFigures


@dataclass(frozen=True)
class Metric:
    prometheus: str  # without the `_total` suffix prometheus_client adds to counters
    tracker: str  # MLflow / W&B key
    unit: str
    kind: str  # counter | gauge
    help: str


IT_ENERGY = Metric("mlfootprint_energy_joules", "mlfootprint/it_energy_j", "J", "counter",
                   "IT energy (GPU, CPU, RAM) so far")
FACILITY_ENERGY = Metric("mlfootprint_facility_energy_joules", "mlfootprint/facility_energy_j", "J", "counter",
                         "facility energy (IT energy x PUE) so far")
POWER = Metric("mlfootprint_power_watts", "mlfootprint/power_w", "W", "gauge",
               "IT power over the last sampling interval")
CO2E = Metric("mlfootprint_co2e_kilograms", "mlfootprint/co2e_operational_kg", "kg", "counter",
              "operational CO2e so far (location-based)")
PHASE_ENERGY = Metric("mlfootprint_phase_energy_joules", "mlfootprint/phase_it_energy_j", "J", "counter",
                      "IT energy per phase (exclusive)")
RUN_INFO = Metric("mlfootprint_run_info", "", "", "gauge", "the run's labels")
COMPONENT_ENERGY = "mlfootprint/component_it_energy_j"  # + "/<component>" for trackers
OUTSIDE_PHASES = "(outside phases)"


def tracker_metrics(live: LiveFigures) -> dict[str, float]:
    """The live figures as MLflow / W&B metrics."""
    out = {IT_ENERGY.tracker: live.energy_j, FACILITY_ENERGY.tracker: live.facility_energy_j,
           CO2E.tracker: live.co2e_kg, POWER.tracker: live.power_w}
    for ch in live.channels:
        out[f"{COMPONENT_ENERGY}/{ch.key.replace(':', '_')}"] = ch.energy_j
    return out


__all__ = ["CO2E", "COMPONENT_ENERGY", "FACILITY_ENERGY", "IT_ENERGY", "Metric", "PHASE_ENERGY", "POWER",
           "RUN_INFO", "tracker_metrics"]
