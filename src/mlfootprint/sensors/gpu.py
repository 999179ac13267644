"""What NVML and AMD SMI sensors share: the visible GPUs they read, and how each becomes a channel.

A vendor sensor says how to read one GPU's energy counter and, where a GPU has none, its power; this
class holds the GPUs, narrows them to a rank's own (`only`), names the channels and turns a failed read
into an error reading rather than an exception.

It also controls the one setting an experiment may change, the power limit (as Zeus's GPU classes
do): `power_limits_w()` reads each GPU's current, default and allowed limits, `set_power_limit_w()`
caps them, and `reset_power_limit()` puts back what each GPU had before the first change. A refusal
raises a typed error (`GpuPermissionError`: it needs root; `GpuNotSupportedError`: the board cannot),
so a caller can say why in one line. Reading never changes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..constants import UNCERTAINTY_MEASURED
from ..errors import MlfootprintError
from .base import Channel, Reading


class GpuControlError(MlfootprintError):
    """A GPU setting could not be read or changed; the message names the GPU and why."""


class GpuPermissionError(GpuControlError):
    """The driver refused the change: it needs root (or CAP_SYS_ADMIN)."""


class GpuNotSupportedError(GpuControlError):
    """This GPU (or its driver) does not offer the setting."""


@dataclass(frozen=True)
class PowerLimits:
    """One GPU's power limits, in watts: the one in force, the board's default, and the range allowed."""

    index: int
    current_w: float
    default_w: float
    min_w: float
    max_w: float


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
        self._limits_before_w: dict[int, float] = {}  # GPU index -> its limit before our first change

    def _energy_j(self, g: Gpu) -> float:
        raise NotImplementedError

    def _power_w(self, g: Gpu) -> float:
        raise NotImplementedError

    def _limits_w(self, g: Gpu) -> tuple[float, float, float, float]:
        """(current, default, min, max) power limit of one GPU, in watts."""
        raise NotImplementedError

    def _write_limit_w(self, g: Gpu, watts: float) -> None:
        raise NotImplementedError

    def _error_kind(self, exc: Exception) -> type[GpuControlError]:
        """The typed error for a library exception (permission, not supported, other)."""
        return GpuControlError

    # -- the power limit ------------------------------------------------------------------------
    def _control(self, g: Gpu, what: str, action: Any) -> Any:
        try:
            return action()
        except GpuControlError:
            raise
        except Exception as exc:
            kind = self._error_kind(exc)
            hint = (": it needs root (or CAP_SYS_ADMIN); run with sudo, or ask an admin for the limit"
                    if kind is GpuPermissionError else "")
            raise kind(f"{self.LIBRARY}: {what} of GPU {g.index} ({g.name}) was refused ({exc}){hint}") from None

    def power_limits_w(self) -> list[PowerLimits]:
        """Every GPU's current, default and allowed power limits (watts). Reads only."""
        out = []
        for g in self._gpus:
            current, default, low, high = self._control(g, "reading the power limits", lambda g=g: self._limits_w(g))
            out.append(PowerLimits(g.index, current, default, low, high))
        return out

    def set_power_limit_w(self, watts: float | dict[int, float]) -> None:
        """Cap every GPU (a number) or the GPUs named by index (a dict) at `watts`. Each value must lie
        within the GPU's allowed range; nothing is changed when one does not. `reset_power_limit()` undoes it."""
        targets = {g.index: watts for g in self._gpus} if not isinstance(watts, dict) else dict(watts)
        known = {g.index: g for g in self._gpus}
        unknown = sorted(set(targets) - set(known))
        if unknown:
            raise GpuControlError(f"no GPU {unknown[0]} among this sensor's ({', '.join(map(str, known)) or 'none'})")
        limits = {p.index: p for p in self.power_limits_w() if p.index in targets}
        for index, w in targets.items():
            p = limits[index]
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or not p.min_w <= w <= p.max_w:
                raise GpuControlError(f"power limit {w!r} W for GPU {index}: expected a number of watts between "
                                      f"{p.min_w:g} and {p.max_w:g}")
        for index, w in targets.items():
            g = known[index]
            self._limits_before_w.setdefault(index, limits[index].current_w)
            self._control(g, f"setting the power limit to {w:g} W", lambda g=g, w=w: self._write_limit_w(g, float(w)))

    def reset_power_limit(self) -> None:
        """Put back the limit each GPU had before this sensor's first change (nothing if none changed).
        Every GPU is tried; the first refusal is raised after the others were put back."""
        known = {g.index: g for g in self._gpus}
        first: GpuControlError | None = None
        for index, w in list(self._limits_before_w.items()):
            try:
                self._control(known[index], f"restoring the power limit to {w:g} W",
                              lambda g=known[index], w=w: self._write_limit_w(g, w))
                del self._limits_before_w[index]
            except GpuControlError as exc:
                first = first or exc
        if first is not None:
            raise first

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
