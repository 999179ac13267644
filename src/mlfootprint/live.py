"""A run's figures at one moment, as outputs (Prometheus, MLflow, W&B, textfiles) receive them.

A `LiveFigures` is taken under the meter's lock and never changes afterwards, so an output can read
it on its own thread, at its own pace, without reaching into the run (CodeCarbon's EmissionsData
plays the same part). Outputs get one at the start and after every write to the store, and the
finished `RunRecord` at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLive:
    key: str  # e.g. gpu:0, cpu:package-0, ram
    kind: str  # gpu | cpu | ram
    name: str
    method: str  # measured | modelled | simulated
    energy_j: float  # IT energy since the start, attributed to the run's scope
    power_w: float | None  # mean power over the last sampling interval


@dataclass(frozen=True)
class LiveFigures:
    run_id: str
    project: str
    host: str
    job_id: str | None
    t_s: float  # seconds since the run started
    channels: tuple[ChannelLive, ...]
    energy_j: float  # IT energy charged to the run so far
    facility_energy_j: float  # IT energy x PUE
    co2e_kg: float  # operational (location-based) CO2e so far
    phase_energy_j: Mapping[str, float]  # exclusive energy per phase path ("" = outside every phase)

    @property
    def power_w(self) -> float:
        """The run's power over the last interval (channels that have one)."""
        return sum(c.power_w or 0.0 for c in self.channels)


__all__ = ["ChannelLive", "LiveFigures"]
