"""The accelerator catalogue (data/hardware.csv) and the MFU defaults by family (data/mfu.csv).

One table serves the meter (embodied CO2e of the GPUs a run used, matched by NVML's device name) and
the estimator (peak FLOP/s, TDP, memory). Unknown cells stay None: callers must ask the user rather
than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .constants import Cited
from .data import number, rows
from .data import text as data_text
from .errors import ConfigError

PRECISIONS = ("fp32", "tf32", "bf16", "fp8")
# Short names for the form factor most large training runs use (SXM); say -pcie for the other.
ALIASES = {"v100": "v100-sxm2", "a100": "a100-80gb", "h100": "h100-sxm", "a100-sxm": "a100-80gb"}


@dataclass(frozen=True)
class Accelerator:
    key: str
    name: str
    family: str
    year: int
    tdp_w: float | None
    memory_gb: float | None
    memory_tb_s: float | None  # peak memory bandwidth per chip: what bounds small-batch decoding
    peak_tflops: dict[str, float | None]  # by precision, dense
    embodied_kg: float | None
    match: str
    source: str
    embodied_source: str | None

    def peak_flops(self, precision: str) -> float | None:
        tflops = self.peak_tflops.get(precision)
        return None if tflops is None else tflops * 1e12


def _sources(filename: str) -> dict[str, str]:
    """The `#   key: text` legend lines at the top of a data file."""
    legend: dict[str, str] = {}
    last = None
    for line in data_text(filename).splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        for part in re.split(r"(?<=\.)\s+(?=[a-z0-9-]+: )", body):
            m = re.match(r"([a-z0-9-]+): (.+)", part)
            if m:
                last = m.group(1)
                legend[last] = m.group(2)
            elif last and line.startswith("#     "):
                legend[last] += " " + body
    return legend


@lru_cache(maxsize=1)
def accelerators() -> dict[str, Accelerator]:
    legend = _sources("hardware.csv")
    table = {}
    for r in rows("hardware.csv"):
        table[r["key"]] = Accelerator(
            key=r["key"], name=r["name"], family=r["family"], year=int(r["year"]), tdp_w=number(r["tdp_w"]),
            memory_gb=number(r["memory_gb"]), memory_tb_s=number(r["memory_tb_s"]), peak_tflops={p: number(r[f"{p}_tflops"]) for p in PRECISIONS},
            embodied_kg=number(r["embodied_kg"]), match=r["match"],
            source=legend.get(r["source"], r["source"]),
            embodied_source=legend.get(r["embodied_source"], r["embodied_source"]) or None)
    return table


@lru_cache(maxsize=1)
def mfu_defaults() -> dict[str, Cited]:
    return {r["family"]: Cited(float(r["mfu"]), "fraction", r["source"], int(r["year"]),
                               number(r["low"]), number(r["high"]))
            for r in rows("mfu.csv")}


def get(key: str) -> Accelerator:
    """The catalogue row for `key` (e.g. "a100-80gb"); a clear error lists the known keys."""
    table = accelerators()
    norm = key.strip().lower().replace("_", "-").replace(" ", "-")
    norm = ALIASES.get(norm, norm)
    if norm in table:
        return table[norm]
    raise ConfigError(f"unknown hardware {key!r}: known accelerators are {', '.join(table)} "
                      "('mlfootprint hardware' shows their figures)")


def match_device(device_name: str) -> Accelerator | None:
    """The row whose `match` pattern fits a device name as NVML reports it ("NVIDIA H100 80GB HBM3")."""
    for acc in accelerators().values():
        if re.search(acc.match, device_name, re.IGNORECASE):
            return acc
    return None
