"""Default figures used when nothing better is known, each with its source and year.

Figures that come in tables (grid intensity per zone, CPU TDP per model) live in data/*.csv; this
module holds the handful of single numbers. Change one only together with its citation.
"""

from __future__ import annotations

from dataclasses import dataclass

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Cited:
    """A constant with where it came from; `low`/`high` bound it where the source gives a range."""

    value: float
    unit: str
    source: str
    year: int
    low: float | None = None
    high: float | None = None


DEFAULT_PUE = Cited(
    1.56, "facility/IT",
    "Uptime Institute Global Data Center Survey 2024, industry-average annual PUE", 2024,
)

WORLD_INTENSITY = Cited(
    436.0, "gCO2e/kWh",
    "Ember Global Electricity Review 2023, world average carbon intensity of electricity, data year 2022",
    2023,
)

RAM_POWER_W_PER_GB = Cited(
    0.3725, "W/GB",
    "Green Algorithms (Lannelongue et al., Adv. Sci. 2021) memory power per GB; "
    "Cloud Carbon Footprint uses 0.392 W/GB",
    2021, low=0.3725 * 0.5, high=0.392 * 1.5,
)

# Cloud Carbon Footprint methodology, Appendix I (AWS fleet averages), used for CPUs whose model is
# not in data/cpu_tdp.csv (virtual machines often report only "AMD EPYC"):
# power per vCPU = min + utilization x (max - min).
VCPU_MIN_W = Cited(0.74, "W/vCPU", "Cloud Carbon Footprint methodology, AWS average minimum watts (0% CPU)", 2021)
VCPU_MAX_W = Cited(3.5, "W/vCPU", "Cloud Carbon Footprint methodology, AWS average maximum watts (100% CPU)", 2021)

# Relative uncertainty (±, fraction) we attach to each way of obtaining energy. These are the
# project's own stated assumptions, not measured error bars: a counter is trusted to a few percent
# (NVML documents ±5 % for power on recent boards); a utilization x TDP model is coarse.
UNCERTAINTY_MEASURED = 0.05
UNCERTAINTY_TDP_MODEL = 0.40
UNCERTAINTY_VCPU_MODEL = 0.50
UNCERTAINTY_RAM_MODEL = 0.50
