"""Modelled memory power: a cited watts-per-GB figure × memory in use.

DRAM power depends mostly on capacity populated and refresh, little on traffic, so the model is
coarse; a RAPL `dram` counter, where readable, replaces it.
"""

from __future__ import annotations

from ..constants import RAM_POWER_W_PER_GB, UNCERTAINTY_RAM_MODEL
from .base import Channel, Reading
from .procfs import memory_used_bytes

BYTES_PER_GB = 1e9


class RamModelSensor:
    key = "ram:modelled"

    def channels(self) -> list[Channel]:
        source = f"{RAM_POWER_W_PER_GB.value} W/GB × GB in use ({RAM_POWER_W_PER_GB.source.split(';')[0]})"
        return [Channel(self.key, "ram", "system memory", "modelled", source, UNCERTAINTY_RAM_MODEL,
                        "power-instant")]

    def read(self) -> list[Reading]:
        used_gb = memory_used_bytes() / BYTES_PER_GB
        return [Reading(self.key, power_w=used_gb * RAM_POWER_W_PER_GB.value)]

    def close(self) -> None:
        pass
