"""What every hardware reader provides: channels it can report and one read of them.

A sensor only reads. It owns no thread and no clock: the meter decides when to read and how to turn
readings into joules. A channel reports either a cumulative energy counter (joules since the sensor
opened, already unwrapped) or an instantaneous power; the meter differences the first and integrates
the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Kind = Literal["gpu", "cpu", "ram"]
Method = Literal["measured", "modelled", "simulated"]  # simulated: a scripted trace, no hardware read
# How the meter turns a channel's readings into joules:
#   energy-counter       cumulative joules: difference successive reads;
#   power-instant        watts at the moment of the read: trapezoid between reads;
#   power-interval-mean  mean watts since the previous read (utilization models): rectangle.
Signal = Literal["energy-counter", "power-instant", "power-interval-mean"]


@dataclass(frozen=True)
class Channel:
    """One thing whose energy we account separately (a GPU, a CPU package, modelled RAM)."""

    key: str  # unique within a run, e.g. "gpu:0", "cpu:package-0", "ram"
    kind: Kind
    name: str  # human name, e.g. "NVIDIA H100 80GB HBM3"
    method: Method
    source: str  # how it is obtained, e.g. "nvml-energy-counter", "rapl:package-0", "tdp×utilization"
    uncertainty_rel: float  # ± fraction, see constants.UNCERTAINTY_*
    signal: Signal = "energy-counter"


@dataclass(frozen=True)
class Reading:
    """One read of one channel. Exactly one of `energy_j` (cumulative) and `power_w` is set,
    unless `error` says why neither could be read this time."""

    key: str
    energy_j: float | None = None
    power_w: float | None = None
    error: str | None = None


@runtime_checkable
class Sensor(Protocol):
    """A reader of one kind of hardware."""

    def channels(self) -> list[Channel]: ...

    def read(self) -> list[Reading]: ...

    def close(self) -> None: ...
