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
    "Uptime Institute Global Data Center Survey 2024, industry-average annual PUE; range low 1.10: Google's "
    "fleet-wide trailing-twelve-month PUE (2024 Environmental Report), the best large fleet; high 2.02: as far "
    "above the average as that fleet is below it (the 2007 survey's average was 2.5, so not a worst case)",
    2024, low=1.10, high=1.56 + (1.56 - 1.10),
)

# The world-average grid intensity (no location given) is the WORLD row of data/grid_zones.csv: the same
# source, basis and years as the country rows; its range is the countries' generation-weighted 10th-90th
# percentile (where a kWh drawn somewhere unknown likely came from).

# A zone's annual-average intensity applied to the hours a run actually drew power: the hour's figure
# differs from the year's (night and day, wind and sun, season). The project's stated assumption (±,
# fraction), like the energy uncertainties below; an hourly series (intensity_csv) replaces it.
UNCERTAINTY_ANNUAL_INTENSITY = 0.15

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

# -- embodied emissions -----------------------------------------------------------------------------
# A run is charged embodied x (run time / (lifetime x share of that lifetime the hardware is busy)).
DEFAULT_LIFETIME_YEARS = Cited(
    6.0, "years",
    "Luccioni et al. 2022 (BLOOM): 6-year replacement rate of the Jean Zay cluster; low 4 years: Cloud Carbon "
    "Footprint methodology's default server lifespan",
    2022, low=4.0, high=6.0,
)
DEFAULT_USAGE_RATE = Cited(
    0.85, "fraction of lifetime in use",
    "Luccioni et al. 2022 (BLOOM): 85% average usage of the Jean Zay cluster (IDRIS)", 2022,
)
DEFAULT_ACCELERATOR_EMBODIED_KG = Cited(
    150.0, "kgCO2e per accelerator",
    "Luccioni et al. 2022 (BLOOM): 150 kgCO2e per GPU, used for accelerators without a manufacturer figure", 2022,
)
SERVER_EMBODIED_KG = Cited(
    2500.0, "kgCO2e per server, without its accelerators",
    "Luccioni et al. 2022 (BLOOM): 2,500 kgCO2e per HPE Apollo 6500 Gen10 Plus node (CPUs, RAM, storage, "
    "chassis); such a node holds 8 GPUs",
    2022,
)
ACCELERATORS_PER_SERVER = 8  # the node above; HGX/DGX-class servers also hold 8
# CPU-only runs are charged the server share of the logical CPUs they could use, against a reference
# two-socket server of 2 x 64 logical CPUs (the project's assumption, stated in every record that uses it).
REFERENCE_SERVER_LOGICAL_CPUS = 128
# No cited embodied figure for a CPU-only server is used: the GPU node's chassis figure above stands in
# for one, an assumption the record states, with this relative range (low 0.25x, high 1.75x).
CPU_SERVER_EMBODIED_UNCERTAINTY = 0.75

# -- water ------------------------------------------------------------------------------------------
DEFAULT_WUE = Cited(
    1.8, "L/kWh of IT energy",
    "Shehabi et al. 2016, United States Data Center Energy Usage Report (LBNL): average on-site water "
    "usage effectiveness of US data centres",
    2016,
)
WORLD_WATER_INTENSITY = Cited(
    3.908, "L/kWh",
    "EcoLogits 0.11.3 electricity_mixes.json, world (WOR) water consumed per kWh generated", 2025,
)

# -- equivalents ------------------------------------------------------------------------------------
CAR_CO2E_KG_PER_KM = Cited(
    0.404 / 1.609344, "kgCO2e/km",
    "US EPA 2018, Greenhouse Gas Emissions from a Typical Passenger Vehicle: 404 gCO2 per mile", 2018,
)
CAR_YEAR_CO2E_KG = Cited(
    4600.0, "kgCO2e per car-year",
    "US EPA 2018, Greenhouse Gas Emissions from a Typical Passenger Vehicle: 4.6 tCO2 per vehicle per year", 2018,
)
SMARTPHONE_CHARGE_CO2E_KG = Cited(
    8.22e-3, "kgCO2e per full charge",
    "US EPA Greenhouse Gas Equivalencies Calculator (2019 revision): 8.22e-6 tCO2 per smartphone charged", 2019,
)
