"""The sampler: reads every sensor on one background thread and integrates readings into joules.

The host program only pays for `start()` and `stop()`; reads happen off its hot path. Nothing here
raises into the host: a sensor that fails is logged once and its channel keeps what it measured.
Time comes from a monotonic clock that tests can replace, and `sample()` can be driven by hand, so
integration is tested deterministically on scripted traces.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .phases import PhaseAccount, PhaseTotals
from .sensors.base import Channel, Reading, Sensor

log = logging.getLogger("mlfootprint")

Scope = Literal["machine", "process"]
POLL_S = 60.0  # counters are read at least this often between samples (RAPL wraps in ~20 min at 200 W)
# A sample is labelled with the phase that held at least this share of its interval; when phases alternate
# faster than the interval (forward/backward of every step), none did, and the label says so.
DOMINANT_SHARE = 0.8
MIXED_PHASE = "(mixed)"


@dataclass(frozen=True)
class Sample:
    """Energy of one channel over one sampling interval (attributed to the scope)."""

    t_s: float  # end of the interval, seconds since the meter started
    key: str
    energy_j: float
    power_w: float
    phase: str | None = None  # the phase that held >= DOMINANT_SHARE of the interval, MIXED_PHASE, or None


@dataclass
class ChannelState:
    channel: Channel
    energy_j: float = 0.0
    last_t: float | None = None
    last_counter_j: float | None = None
    last_power_w: float | None = None
    interval_power_w: float | None = None  # mean attributed power over the last interval (live outputs)
    failed_reads: int = 0
    first_error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChannelFigures:
    """One channel as of a snapshot: its totals and how it was obtained."""

    key: str
    kind: str
    name: str
    method: str
    source: str
    uncertainty_rel: float
    energy_j: float  # attributed to the scope, since the start
    power_w: float | None  # mean attributed power over the last interval
    notes: tuple[str, ...]  # counter resets, failed reads
    signal: str


@dataclass(frozen=True)
class MeterSnapshot:
    """What the meter knew at one moment, taken under its lock: nothing in it changes afterwards."""

    elapsed_s: float
    channels: tuple[ChannelFigures, ...]
    samples: tuple[Sample, ...]  # the samples handed over with this snapshot (drained or peeked)
    phases: tuple[PhaseTotals, ...]  # exclusive totals per path, outside-of-phases last

    @property
    def energy_j(self) -> float:
        return sum(c.energy_j for c in self.channels)


class Meter:
    """The sampler. Threads: `start`/`stop` on the host; `_loop` (and `on_tick`) on its own thread;
    `sample()` and `snapshot()` from any thread, each under `lock`."""

    def __init__(self, sensors: Sequence[Sensor], *, interval_s: float = 1.0, scope: Scope = "machine",
                 pid: int | None = None, clock: Callable[[], float] = time.monotonic,
                 on_tick: Callable[[Meter], None] | None = None, phases: PhaseAccount | None = None) -> None:
        self.sensors = list(sensors)
        self.interval_s = interval_s
        self.scope: Scope = scope
        self.clock = clock
        self.on_tick = on_tick
        self.phases = phases
        self.states: dict[str, ChannelState] = {}
        for sensor in self.sensors:
            for ch in sensor.channels():
                self.states[ch.key] = ChannelState(ch)
        self._tree = None
        if scope == "process":
            from .attribution import ProcessTree  # psutil: only runs measured in process scope need it

            self._tree = ProcessTree(pid)
        self._pending: list[Sample] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0: float = 0.0
        self.elapsed_s: float = 0.0
        self._warned: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, background: bool = True) -> None:
        self._t0 = self.clock()
        if self._tree:
            self._tree.cpu_share()  # sets the baseline for the first interval
        self.sample()
        if background:
            self._thread = threading.Thread(target=self._loop, name="mlfootprint-meter", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=max(5.0, 2 * self.interval_s))
        self.sample()

    def _loop(self) -> None:
        next_sample = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, min(next_sample - time.monotonic(), POLL_S))):
            if time.monotonic() < next_sample:  # a long interval: let counters unwrap in between
                self._poll()
                continue
            next_sample = time.monotonic() + self.interval_s
            self.sample()
            if self.on_tick:
                try:
                    self.on_tick(self)
                except Exception as exc:  # a callback failed: keep measuring
                    self._warn_once("tick", f"mlfootprint: a periodic task failed ({exc}); measuring continues")

    def _poll(self) -> None:
        with self.lock:
            for sensor in self.sensors:
                poll = getattr(sensor, "poll", None)
                if poll is not None:
                    try:
                        poll()
                    except Exception as exc:
                        self._warn_once(f"poll:{id(sensor)}", f"mlfootprint: polling a sensor failed ({exc!r})")

    # -- measurement -----------------------------------------------------------------------
    def sample(self) -> None:
        """Read every sensor once and integrate since the previous read."""
        with self.lock:
            try:
                self._sample_locked()
            except Exception as exc:  # never raise into the host
                self._warn_once("sample", f"mlfootprint: sampling failed ({exc!r}); continuing")

    def _sample_locked(self) -> None:
        now = self.clock()
        previous = self._t0 + self.elapsed_s  # the previous sample's time (the start, at the first one)
        t = now - self._t0
        self.elapsed_s = t
        readings: list[Reading] = []
        for sensor in self.sensors:
            try:
                readings.extend(sensor.read())
            except Exception as exc:
                readings.extend(Reading(ch.key, error=str(exc)) for ch in sensor.channels())
        shares = self._shares()
        durations: dict[int, float] = {}
        if self.phases is not None:
            # phase markers carry the raw clock, so the interval is given on that clock too
            durations = self.phases.split(previous, now)
        phase = self._dominant(durations)  # once per interval, for every channel's sample
        for reading in readings:
            state = self.states.get(reading.key)
            if state is not None:
                self._integrate(state, reading, t, shares.get(state.channel.key, shares.get(state.channel.kind, 1.0)),
                                durations, phase)

    def _integrate(self, state: ChannelState, reading: Reading, t: float, share: float,
                   durations: dict[int, float], phase: str | None) -> None:
        value = reading.energy_j if reading.energy_j is not None else reading.power_w
        if reading.error is None and (value is None or not math.isfinite(value)):
            reading = Reading(reading.key, error=f"the sensor returned {value!r}, not a finite number")
        if reading.error is not None:
            state.failed_reads += 1
            if state.first_error is None:
                state.first_error = reading.error
                self._warn_once(state.channel.key, f"mlfootprint: {state.channel.key} read failed at "
                                f"t={t:.1f}s ({reading.error}); keeping the {state.energy_j:.1f} J measured so far")
            if state.channel.signal != "energy-counter":
                state.last_t, state.last_power_w = None, None  # do not bridge a gap with a guess
            return
        signal = state.channel.signal
        delta_j = 0.0
        dt = (t - state.last_t) if state.last_t is not None else 0.0
        if signal == "energy-counter":
            assert reading.energy_j is not None
            if state.last_counter_j is not None:
                delta_j = reading.energy_j - state.last_counter_j
                if delta_j < 0:  # counter reset (driver reload): count nothing rather than a negative
                    state.notes.append(f"counter reset at t={t:.1f}s")
                    delta_j = 0.0
            state.last_counter_j = reading.energy_j
        else:
            assert reading.power_w is not None
            if state.last_t is not None and dt > 0:
                if signal == "power-instant" and state.last_power_w is not None:
                    delta_j = (state.last_power_w + reading.power_w) / 2 * dt
                else:
                    delta_j = reading.power_w * dt
            state.last_power_w = reading.power_w
        had_previous = state.last_t is not None
        state.last_t = t
        if had_previous and dt > 0:
            attributed = delta_j * share
            state.energy_j += attributed
            if self.phases is not None:
                self.phases.charge(durations, state.channel.kind, attributed)
            state.interval_power_w = attributed / dt
            self._pending.append(Sample(t, state.channel.key, attributed, attributed / dt, phase))

    def _dominant(self, durations: dict[int, float]) -> str | None:
        if not durations or self.phases is None:
            return None
        pid = max(durations, key=durations.__getitem__)
        total = sum(durations.values())
        if total > 0 and durations[pid] < DOMINANT_SHARE * total:
            return MIXED_PHASE
        return self.phases.recorder.paths[pid] or None

    def _shares(self) -> dict[str, float]:
        """Per kind (or per channel key) share of machine energy charged to the tracked scope."""
        if self._tree is None:
            return {}
        shares: dict[str, float] = {"cpu": self._tree.cpu_share(), "ram": self._tree.ram_share()}
        tree_pids = self._tree.pids()
        for sensor in self.sensors:
            pids_by_key = getattr(sensor, "pids_by_key", None)
            if pids_by_key is None:
                continue
            for key, pids in pids_by_key().items():
                shares[key] = 1.0 if pids is None or (pids & tree_pids) or _foreign(pids) else 0.0
        return shares

    # -- results ---------------------------------------------------------------------------
    def drain_samples(self) -> list[Sample]:
        with self.lock:
            pending, self._pending = self._pending, []
        return pending

    def pending_samples(self) -> list[Sample]:
        """The samples not drained yet, left in place (for a spool file written from another thread)."""
        with self.lock:
            return list(self._pending)

    def totals_j(self) -> dict[str, float]:
        with self.lock:
            return {k: s.energy_j for k, s in self.states.items()}

    def snapshot(self, drain: bool = False) -> MeterSnapshot:
        """Every channel's totals, the phases' totals and the new samples, in one consistent view.
        `drain` hands the samples over (only the writer thread does); otherwise they stay pending."""
        with self.lock:
            if drain:
                samples, self._pending = self._pending, []
            else:
                samples = list(self._pending)
            channels = tuple(_figures(state) for state in self.states.values())
            phases = tuple(PhaseTotals(p.path, p.duration_s, dict(p.energy_j), p.entries, p.items)
                           for p in self.phases.snapshot()) if self.phases is not None else ()
            return MeterSnapshot(self.elapsed_s, channels, tuple(samples), phases)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def close(self) -> None:
        for sensor in self.sensors:
            try:
                sensor.close()
            except Exception:
                pass


def _figures(state: ChannelState) -> ChannelFigures:
    ch = state.channel
    notes = list(state.notes)
    if state.first_error:
        notes.append(f"{state.failed_reads} failed reads, first: {state.first_error}")
    return ChannelFigures(ch.key, ch.kind, ch.name, ch.method, ch.source, ch.uncertainty_rel, state.energy_j,
                          state.interval_power_w, tuple(notes), ch.signal)


def _foreign(pids: set[int]) -> bool:
    """True when a GPU's processes all live outside our PID namespace (a container: NVML reports
    host PIDs), so we cannot tell whose they are; the whole GPU is then charged rather than 0 J."""
    import psutil

    return bool(pids) and not any(psutil.pid_exists(p) for p in pids)
