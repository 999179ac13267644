"""What NVML and AMD SMI sensors share: the visible GPUs they read, and how each becomes a channel.

A vendor sensor says how to read one GPU's energy counter and, where a GPU has none, its power; this
class holds the GPUs, narrows them to a rank's own (`only`), names the channels and turns a failed read
into an error reading rather than an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..constants import UNCERTAINTY_MEASURED
from .base import Channel, Reading


@dataclass
class Gpu:
    index: int
    handle: Any
    name: str
    uuid: str
    has_counter: bool

    @property
    def key(self) -> str:
        return f"gpu:{self.index}"


class GpuSensor:
    """Base of the vendor sensors. Subclasses set the names and implement `_energy_j` and `_power_w`."""

    LIBRARY = ""  # as named in error readings, e.g. "NVML"
    COUNTER_METHOD = ""  # the channel's method for a GPU with an energy counter
    POWER_METHOD = ""  # and for one sampled by power

    def __init__(self, lib: ModuleType, gpus: list[Gpu]) -> None:
        self._lib = lib
        self._gpus = gpus

    def _energy_j(self, g: Gpu) -> float:
        raise NotImplementedError

    def _power_w(self, g: Gpu) -> float:
        raise NotImplementedError

    def gpu_ids(self) -> list[tuple[int, str]]:
        """(index, UUID) of every GPU this sensor reads."""
        return [(g.index, g.uuid) for g in self._gpus]

    def only(self, indices: list[int]) -> Any:
        """The same sensor reading only these GPUs (a rank's own, in a distributed job); None if none."""
        gpus = [g for g in self._gpus if g.index in indices]
        return type(self)(self._lib, gpus) if gpus else None

    def channels(self) -> list[Channel]:
        return [Channel(g.key, "gpu", g.name, "measured", self.COUNTER_METHOD if g.has_counter else self.POWER_METHOD,
                        UNCERTAINTY_MEASURED, "energy-counter" if g.has_counter else "power-instant")
                for g in self._gpus]

    def read(self) -> list[Reading]:
        readings = []
        for g in self._gpus:
            try:
                if g.has_counter:
                    readings.append(Reading(g.key, energy_j=self._energy_j(g)))
                else:
                    readings.append(Reading(g.key, power_w=self._power_w(g)))
            except Exception as exc:
                readings.append(Reading(g.key, error=f"{self.LIBRARY} read of GPU {g.index} failed: {exc}"))
        return readings

    def close(self) -> None:
        pass  # the library stays initialized for the next run of this process; shut down at exit (library.py)
