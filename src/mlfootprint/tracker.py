"""`track()`: measure a block of code or a function, store the run, and hand back its footprint.

Configuration problems raise at the start (before any compute is spent); once the block runs,
nothing raises into it. Persistence is the recorder's (recorder.py): the store is opened on a writer
thread, measured data reach it every `flush_interval_s`, and whatever the store cannot take (yet)
is kept in a spool file, so a fresh, locked, full or unreachable store neither delays nor loses a run.
Outputs (outputs/) run on a thread of their own and receive snapshots, never the run.

Threads, and what each may call (nothing outside this module reads a `Run`'s private state):

| thread                         | what runs there                                                          |
| ------------------------------ | ------------------------------------------------------------------------ |
| host (any thread of the user's | `Run.phase`/`phase_enter`/`phase_exit` (markers only), `count`,          |
| program)                       | `progress`, `log_metrics`, `add_window`, `stop`/`__exit__` -> `_finish`  |
| any thread                     | `snapshot()`, `sample_now()`, `record`, the live properties: each takes  |
|                                | the meter's lock once and works on the immutable snapshot it returns     |
| sampler (meter.py)             | `Meter.sample`, then `Run._on_tick` -> ProgressWatch.observe, callbacks  |
| writer (recorder.py)           | `Run._rows(drain=True)` -> RunAccounting (series matching, impact), the  |
|                                | store, then `Outputs.flush(snapshot)`                                    |
| outputs (outputs/__init__.py)  | every output's `start(live)`, `flush(live)`, `end(record)`               |
| interpreter exit (atexit)      | `_finish_open_runs`: open runs finished as interrupted, writers and      |
|                                | outputs waited for (bounded)                                             |

Nesting: a run started while another run measures the same machine — in this process, or under a
wrapper (`mlfootprint track` / `serve` name their run in MLFOOTPRINT_PARENT_RUN for the command) — is
nested in it: it keeps its phases, counts and metrics, and its devices are charged to the outer run, so
a sum over stored runs counts each device once.

A forked child (os.fork in user code, a pre-fork server) does not own its parent's runs: it can
neither finish nor save them; it may start runs of its own.
"""

from __future__ import annotations

import atexit
import enum
import functools
import json
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import impact, jobenv
from .accounting import RunAccounting
from .config import SETTINGS, Settings, load_settings
from .constants import J_PER_KWH
from .factors import place_for
from .forecast import Forecast
from .grid import Location, resolve_location
from .live import ChannelLive, LiveFigures
from .meter import Meter, MeterSnapshot
from .ownership import Claims, measured_sensors
from .phases import PhaseAccount, PhaseRecorder, within
from .record import (MAX_PATH, ForecastFigures, PhaseRow, RunKind, RunRecord, RunRow, RunRows, SampleRow, ValueRow, WindowRow, clip, dumps,
                     finite, now_iso, to_record)
from .recorder import EXIT_WAIT_S, RunRecorder
from .sensors import Sensor
from .shapes import to_json
from .store.spool import hostname
from .store.urls import check_url, display_url, to_url
from .urlmask import mask_text
from .watch import ProgressWatch

if TYPE_CHECKING:
    from .outputs import Outputs
    from .serving.figures import ServingEstimate

log = logging.getLogger("mlfootprint")
F = TypeVar("F", bound=Callable[..., Any])

PARENT_ENV = "MLFOOTPRINT_PARENT_RUN"  # "RUN_ID@HOST": the run a wrapper measures its command in

_open_runs: list[Run] = []  # started and not finished, oldest first (the innermost is the last)
_open_lock = threading.Lock()
_writers: weakref.WeakSet[RunRecorder] = weakref.WeakSet()
_outputs: weakref.WeakSet[Outputs] = weakref.WeakSet()
_shown_warnings: set[str] = set()  # a process running many runs (experiments) hears each warning once
_HOST = hostname()


def _warn(message: str) -> None:
    """A warning about the user's input, once per process: the API never raises into the loop."""
    if message not in _shown_warnings:
        _shown_warnings.add(message)
        log.warning("mlfootprint: %s", message)


class RunState(enum.Enum):
    """A run's lifecycle: RUNNING until it ends in exactly one of the other states (its stored status)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @classmethod
    def ended(cls, status: str | RunState) -> RunState:
        state = cls(status) if isinstance(status, str) else status
        if state is cls.RUNNING:
            raise ValueError("a run ends as completed, failed or interrupted, not running")
        return state


class Run:
    """A run being measured (inside the `with`) or finished (after it). Figures are live."""

    def __init__(self, settings: Settings, origins: Mapping[str, str], location: Location, meter: Meter,
                 store_url: str, *, command: str | None, warnings: list[str], job: jobenv.JobContext | None = None,
                 claims: Claims | None = None, extra: Mapping[str, Any] | None = None,
                 parent_id: str | None = None, charged_to: str | None = None, measures_machine: bool = False,
                 kind: RunKind = "run") -> None:
        self.id = os.urandom(6).hex()  # 48 random bits, as uuid4().hex[:12] had, without importing uuid
        self.settings = settings
        self.location = location
        self.store_url = store_url
        self.state = RunState.RUNNING
        self.exit_code: int | None = None
        self.started_at = now_iso()
        self.ended_at: str | None = None
        self.command = mask_text(command) if command else command  # a URL's password never in a record
        self.warnings = warnings
        self.job = job  # the distributed job this run is a rank of, if any
        self.claims = claims or Claims()  # the devices it measures for that job
        self.parent_id = parent_id  # nested in that run (its devices are charged there), or a trial of that experiment
        # run | experiment (an entry its trials are grouped under, measuring nothing) | trial (of an experiment)
        self.kind = kind
        # the run this one's devices are charged to: the run it is nested in; for an experiment's entry or a
        # trial, a measuring run around it (`mlfootprint track -- mlfootprint reduce ...`), if any
        charged_to = parent_id if kind == "run" else charged_to
        self.origins = dict(origins)  # where each setting that is not a default came from
        self._meter = meter
        self._owner_pid = os.getpid()
        values = dict(settings.flat(), store=display_url(store_url))  # never a database password in a record
        described = {k: {"value": v, "from": origins.get(k, "default")} for k, v in values.items()}
        for k, v in (extra or {}).items():  # what a wrapper adds about itself (serve: the counters it reads)
            described[k] = {"value": v, "from": "command line"}
        self._settings_json = dumps(described)
        self._phases = PhaseRecorder(meter.clock, _cuda_sync() if settings.sampling.sync_cuda else None)
        self._markers = self._phases.markers  # name -> its reusable marker
        meter.phases = PhaseAccount(self._phases)
        self.counts: dict[str, float] = {}
        self.metrics: dict[str, float | None] = {}
        self._windows: list[WindowRow] = []  # a served model's time windows (`mlfootprint serve`)
        self._serving_estimate: ServingEstimate | None = None
        series = None
        if settings.site.intensity_csv:
            from .grid.series import from_csv  # only then: it pulls in urllib and http

            series = from_csv(settings.site.intensity_csv, location.country or "")
            if series.at(datetime.fromisoformat(self.started_at)) is None:
                _warn(f"the intensity series {series.source} does not cover the run's start ({self.started_at}; it "
                      f"covers {series.span()}): energy outside it is charged at the annual "
                      f"{location.intensity_g_per_kwh:g} gCO2e/kWh")
        from .sensors.procfs import logical_cpus  # one count of CPUs for the CPU model and the embodied share
        self._accounting = RunAccounting(settings, location, place_for(settings, origins, location), series,
                                         self.started_at, job_rank=job is not None, claims=self.claims,
                                         logical_cpus=logical_cpus(), charged_to=charged_to,
                                         uses_hardware=kind != "experiment")
        self._static = self._static_row()
        self.watch = ProgressWatch(self.id, settings, warnings, self._co2e_of_projection)
        if settings.budget.progress_bar:
            from .report.progress import attach

            attach(self.watch)
        self._tick_callbacks: list[Callable[[Run], None]] = []
        from .outputs import Outputs, build

        self._outputs = Outputs(build(settings.recording.outputs, self._stored_samples))
        self._recorder = RunRecorder(self.id, store_url, self._rows, settings.sampling.flush_interval_s,
                                     after_flush=self._flush_outputs)
        if charged_to is not None:
            self.warnings.append(f"nested in run {charged_to}, which measures this machine: this run's devices are "
                                 "charged there (its phases, counts and metrics are its own)")
        self.overlaps: list[str] = []  # unrelated runs measuring this machine at the same time (overlap.py)
        self._registry = None
        if measures_machine and charged_to is None and settings.sampling.scope == "machine":
            from .overlap import MachineRegistry

            self._registry = MachineRegistry(self.id, settings.project, self.started_at)
            self._note_overlaps()

    # -- phases, counts and quality ---------------------------------------------------------
    def phase(self, name: str, items: float | None = None) -> AbstractContextManager[Any]:
        """`with run.phase("forward"):` — energy of the block, by time overlap with sampled power.

        `items` counts what the block handled (requests, predictions) for energy per item. A bad
        name or count is reported once and the block runs unmeasured as a phase: never an exception.
        """
        if items is None:  # the common case, in the training loop: one dict lookup
            marker = self._markers.get(name)
            if marker is not None:
                return marker
        try:
            return self._phases.marker(_phase_name(name), _items(items))
        except ValueError as exc:
            _warn(f"{exc}; the block runs outside phases")
            return nullcontext()

    def phase_enter(self, name: str, items: float | None = None, t: float | None = None) -> None:
        """Enter a phase from a callback that cannot use `with`; `t` (the run's `clock()`) backdates it."""
        try:
            self._phases.enter(_phase_name(name), _items(items), t)
        except ValueError as exc:
            _warn(f"{exc}; phase not entered")

    def phase_exit(self, name: str | None = None) -> None:
        """Leave the innermost phase, or the innermost one called `name`."""
        self._phases.exit(name if isinstance(name, str) else None)

    def current_phase(self) -> str | None:
        """The innermost phase's path, or None outside phases."""
        return self._phases.current()

    def phase_totals(self, name: str) -> tuple[float, float]:
        """(IT energy_j, duration_s) of a phase so far, nested phases included."""
        rows = [p for p in self._meter.snapshot().phases if within(p.path, name)]
        return sum(sum(p.energy_j.values()) for p in rows), sum(p.duration_s for p in rows)

    def count(self, samples: float = 0, tokens: float = 0, **other: float) -> None:
        """Add to the run's work counters, for energy per sample and per token."""
        for name, value in (("samples", samples), ("tokens", tokens), *other.items()):
            x = finite(value)
            if x is None or x < 0:
                _warn(f"count {name}={value!r} is not a finite number >= 0; not counted")
                continue
            if x:
                self.counts[name] = self.counts.get(name, 0.0) + x

    def progress(self, step: float, total: float | None = None) -> bool:
        """Report progress (e.g. epochs done of total). Cheap: the sampler thread pairs it with energy.

        Returns False once the run should stop: its forecast exceeds a budget and
        `stop_over_budget` is set — `if not run.progress(epoch + 1, epochs): break`.
        """
        s, t = finite(step), (finite(total) if total is not None else None)
        if s is None or s < 0 or (total is not None and (t is None or t <= 0)):
            _warn(f"progress({step!r}, {total!r}): expected a step >= 0 and a total > 0; ignored")
            return not self.watch.stop_requested
        return self.watch.report(s, t)

    def forecast(self) -> Forecast | None:
        """Projected totals from the progress so far (None before enough progress is reported)."""
        return self.watch.forecast()

    @property
    def over_budget(self) -> str | None:
        """Why the forecast exceeds a budget, once it does."""
        return self.watch.over_budget

    def log_metrics(self, **metrics: float) -> None:
        """Record model quality (e.g. accuracy=0.95, train_accuracy=0.99) beside the footprint.

        A value that is not a finite number (a diverged loss) is recorded as not-a-number (null)."""
        for name, value in metrics.items():
            try:
                x = float(value)
            except (TypeError, ValueError, OverflowError):
                _warn(f"metric {name}={value!r} is not a number; not recorded")
                continue
            self.metrics[name] = x if math.isfinite(x) else None

    def add_window(self, t_s: float, duration_s: float, energy_j: float, requests: float,
                   tokens: float | None = None) -> None:
        """A served model's time window (serving/monitor.py): the energy measured in it and the requests
        (and tokens) its counters rose by. Values that are not finite numbers >= 0 are not recorded."""
        values = [finite(v) for v in (t_s, duration_s, energy_j, requests)]
        if any(v is None or v < 0 for v in values) or (tokens is not None and not (finite(tokens) or 0) >= 0):
            _warn(f"serving window ({t_s!r}, {duration_s!r}, {energy_j!r}, {requests!r}, {tokens!r}) holds a value "
                  "that is not a finite number >= 0; window not recorded")
            return
        t, d, e, r = (float(v or 0.0) for v in values)
        self._windows.append(WindowRow(len(self._windows), t, d, e, r, finite(tokens) if tokens is not None else None))

    def set_serving_estimate(self, estimate: ServingEstimate | None) -> None:
        """The estimator's figure beside the served model's measurement, stored with the record."""
        self._serving_estimate = estimate

    # -- hooks -------------------------------------------------------------------------------
    def add_tick_callback(self, fn: Callable[[Run], None]) -> None:
        """Call `fn(run)` on the sampler thread after every sample (keep it short; errors are logged)."""
        self._tick_callbacks.append(fn)

    def on_over_budget(self, fn: Callable[[], None]) -> None:
        """Call `fn()` once when the forecast exceeds a budget and `stop_over_budget` is set."""
        self.watch.on_over_budget = fn

    def stop(self, status: str | RunState = RunState.COMPLETED, exit_code: int | None = None) -> Run:
        """End the run (for notebooks and code that cannot use `with`). Ending twice does nothing."""
        self._finish(RunState.ended(status), exit_code)
        return self

    def wait_stored(self, timeout_s: float | None = None) -> bool:
        """Block until the final record is in the store; False if it went to a spool file instead."""
        return self._recorder.wait(timeout_s)

    def wait_outputs(self, timeout_s: float | None = None) -> bool:
        """Block until every output (MLflow, W&B, files) has taken the final record; False on timeout.
        A run's end waits for them at most a second, so a server that does not answer delays nothing."""
        return self._outputs.wait(timeout_s if timeout_s is not None else 3600.0)

    @property
    def rescue_path(self) -> Path | None:
        """The spool file holding what the store has not taken, if any."""
        return self._recorder.spool_path

    # -- live figures ----------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.state.value

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        """The sensors this run reads (what a reduce trial checks for other processes' load)."""
        return tuple(self._meter.sensors)

    def clock(self) -> float:
        """The run's clock (the meter's), for `phase_enter(..., t=)`."""
        return self._meter.clock()

    @property
    def duration_s(self) -> float:
        return self._meter.elapsed_s

    @property
    def it_energy_j(self) -> float:
        """IT energy (GPU, CPU, RAM) charged to this run so far, in joules: what the devices drew."""
        return self._accounting.totals(self._meter.snapshot(), with_impact=False).energy_j

    energy_j = it_energy_j  # the name every record uses for IT energy

    @property
    def it_energy_kwh(self) -> float:
        return self.it_energy_j / J_PER_KWH

    energy_kwh = it_energy_kwh

    @property
    def facility_energy_j(self) -> float:
        """IT energy x PUE: what the facility drew for it (cooling, power conversion)."""
        return impact.facility_energy_j(self.it_energy_j, self.settings.site.pue)

    @property
    def facility_energy_kwh(self) -> float:
        return self.facility_energy_j / J_PER_KWH

    @property
    def co2e_operational_kg(self) -> float:
        """Operational CO2e, location-based: facility energy x grid intensity (hour by hour with a series)."""
        return self._accounting.co2e_kg(self.it_energy_j)

    co2e_kg = co2e_operational_kg

    def snapshot(self) -> LiveFigures:
        """The run's figures now, consistent with each other (one meter lock); never changes afterwards."""
        return self._live(self._meter.snapshot())

    def sample_now(self) -> LiveFigures:
        """Read every sensor now (closing the sampling interval here), then `snapshot()`: energy up to this
        moment, e.g. at an epoch or a serving window's boundary."""
        self._meter.sample()
        return self.snapshot()

    def _live(self, snap: MeterSnapshot) -> LiveFigures:
        totals = self._accounting.totals(snap, with_impact=False)
        charged = {c.key for c in totals.components if c.charged_to is None}
        return LiveFigures(
            run_id=self.id, project=self.project, host=_HOST, job_id=self.job.job_id if self.job else None,
            t_s=snap.elapsed_s,
            channels=tuple(ChannelLive(c.key, c.kind, c.name, c.method, c.energy_j, c.power_w)
                           for c in snap.channels if c.key in charged),
            energy_j=totals.energy_j, facility_energy_j=totals.facility_energy_j, co2e_kg=totals.co2e_kg,
            phase_energy_j={p.path: sum(p.energy_j.values()) for p in snap.phases})

    @property
    def record(self) -> RunRecord:
        """The record as `mlfootprint show --json` prints it (`record.to_json()` for the JSON)."""
        rows = self._rows(drain=False)
        return to_record(rows.run, rows.components, rows.phases, rows.values, rows.windows)

    # -- rows for the writer --------------------------------------------------------------------
    def _static_row(self) -> RunRow:
        settings = self.settings
        job_json = None
        if self.job:
            job_json = json.dumps(dict(self.job.as_dict(), owns=self.claims.owns(), ownership=self.claims.notes,
                                       host_gpus=self.claims.visible_gpus))
        return RunRow(
            id=self.id, project=settings.project, status=self.status, started_at=self.started_at, ended_at=None,
            heartbeat_at=self.started_at, duration_s=0.0, energy_j=0.0, energy_uncertainty_j=0.0,
            facility_energy_j=0.0, pue=settings.site.pue, co2e_kg=0.0, country=self.location.country,
            region=self.location.region, intensity_g_per_kwh=self.location.intensity_g_per_kwh,
            intensity_source=self.location.intensity_source, scope=settings.sampling.scope,
            interval_s=settings.sampling.interval_s, host=_HOST, pid=self._owner_pid, command=self.command,
            exit_code=None, settings_json=self._settings_json, warnings_json=json.dumps(self.warnings),
            impact_json=None, job_id=self.job.job_id if self.job else None,
            job_rank=self.job.rank if self.job else None, job_json=job_json, parent_id=self.parent_id, kind=self.kind)

    def _rows(self, drain: bool) -> RunRows:
        """Everything the recorder writes; `drain` takes the new samples from the meter (the writer
        thread only: each sample is handed over once)."""
        snap = self._meter.snapshot(drain)
        if drain:
            self._accounting.match_series(snap.samples)
            self._note_overlaps()
        totals = self._accounting.totals(snap)
        estimate = self._serving_estimate
        run = replace(self._static, status=self.status, ended_at=self.ended_at, heartbeat_at=now_iso(),
                      duration_s=snap.elapsed_s, energy_j=totals.energy_j,
                      energy_uncertainty_j=totals.uncertainty_j, facility_energy_j=totals.facility_energy_j,
                      co2e_kg=totals.co2e_kg, exit_code=self.exit_code, warnings_json=json.dumps(self.warnings),
                      impact_json=dumps(totals.impact) if totals.impact is not None else None,
                      serving_estimate_json=dumps(estimate) if estimate is not None else None,
                      overlaps_json=json.dumps(self.overlaps) if self.overlaps else None)
        phases = [PhaseRow(p.path, p.duration_s, sum(p.energy_j.values()), p.energy_j.get("gpu", 0.0),
                           p.energy_j.get("cpu", 0.0), p.energy_j.get("ram", 0.0), p.entries, p.items)
                  for p in snap.phases]
        # the phase label is clipped to its column here: a long name must never fail a measured write
        samples = [SampleRow(s.t_s, s.key, s.energy_j, s.power_w, clip(s.phase, MAX_PATH) if s.phase else None)
                   for s in snap.samples]
        return RunRows(run=run, components=totals.components, samples=samples, phases=phases,
                       values=self._value_rows(), windows=list(self._windows))

    def _value_rows(self) -> list[ValueRow]:
        # dict() copies in one step under the GIL: the host thread may add a key while we read
        rows = ([ValueRow("count", k, v) for k, v in dict(self.counts).items()]
                + [ValueRow("metric", k, v) for k, v in dict(self.metrics).items()])
        fc = self.forecast()
        if fc is not None:  # kept apart from measured totals, under kind "forecast" (record.ForecastFigures)
            figures = ForecastFigures(
                progress=fc.progress, total_energy_j=fc.total_energy_j.value, total_energy_j_low=fc.total_energy_j.low,
                total_energy_j_high=fc.total_energy_j.high, duration_s=fc.duration_s.value,
                duration_s_low=fc.duration_s.low, duration_s_high=fc.duration_s.high)
            rows += [ValueRow("forecast", name, value) for name, value in to_json(figures).items()
                     if isinstance(value, float)]
        return rows

    def _note_overlaps(self) -> None:
        """Name the unrelated machine-scope runs measuring this machine now (at the start, then each flush)."""
        if self._registry is None:
            return
        for other in self._registry.others():
            self.overlaps.append(other.run_id)
            self.warnings.append(f"run {other.run_id} ({other.project}, pid {other.pid}) measured this machine at "
                                 "the same time, unrelated to this run: each record holds the whole machine's energy, "
                                 "so a sum over both counts it twice")

    def _co2e_of_projection(self, energy_j: float) -> float:
        return self._accounting.projected_co2e_kg(energy_j, self.it_energy_j)

    def _flush_outputs(self) -> None:
        self._outputs.flush(self.snapshot())

    def _stored_samples(self, run_id: str) -> list[SampleRow]:
        """The run's samples from the store, once its final record is there (the HTML report's plot)."""
        if not self.wait_stored(10):
            return []
        from .record import row
        from .store import open_store

        return [row(SampleRow, s) for s in open_store(self.store_url).samples(run_id)]

    # -- lifecycle -----------------------------------------------------------------------------
    def _on_tick(self, _meter: Meter) -> None:
        self.watch.observe(self._meter.elapsed_s, self.it_energy_j)
        for fn in self._tick_callbacks:
            try:
                fn(self)
            except Exception as exc:
                _warn(f"a tick callback failed ({exc!r}); measuring continues")

    def _start(self) -> None:
        self._meter.on_tick = self._on_tick
        self._meter.start()
        with _open_lock:
            _open_runs.append(self)
        _writers.add(self._recorder)
        if self._outputs.outputs:
            _outputs.add(self._outputs)
            self._outputs.start(self.snapshot())  # returns at once: outputs start on their own thread
        self._recorder.start()  # last: its first job, loading the database layer, need not slow the start

    def _finish(self, state: RunState, exit_code: int | None = None) -> None:
        if self.state is not RunState.RUNNING or os.getpid() != self._owner_pid:
            return  # finished already, or a forked child unwinding through its parent's `with`
        with _open_lock:
            if self in _open_runs:
                _open_runs.remove(self)
        try:
            self._meter.stop()
            self.watch.observe(self._meter.elapsed_s, self.it_energy_j)
        except Exception as exc:
            log.warning("mlfootprint: stopping the meter failed (%s)", exc)
        self.watch.close()
        self.state, self.exit_code, self.ended_at = state, exit_code, now_iso()
        try:
            self._recorder.finish()
            if self._outputs.outputs:
                self._outputs.flush(self.snapshot())
                self._outputs.end(self.record)  # waits at most END_WAIT_S; the outputs' thread goes on
        finally:
            self._meter.close()
            self.claims.release()
            if self._registry is not None:
                self._registry.close()

    def __repr__(self) -> str:
        return (f"<Run {self.id} {self.status} {self.duration_s:.1f}s IT {self.it_energy_kwh:.6f} kWh "
                f"{self.co2e_operational_kg * 1000:.3f} gCO2e operational>")


def _phase_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"phase name {name!r} is not text")
    return name


def _items(items: Any) -> float | None:
    if items is None:
        return None
    x = finite(items)
    if x is None or x < 0:
        _warn(f"phase items={items!r} is not a finite number >= 0; items not counted")
        return None
    return x


def _open_run(run_id: str) -> Run | None:
    """The open run of this process with this id, if any (a trial's experiment entry)."""
    with _open_lock:
        return next((r for r in _open_runs if r.id == run_id and r._owner_pid == os.getpid()), None)


def _nesting_parent() -> tuple[str | None, Run | None]:
    """(id, run) of the run this process's new run is nested in: the innermost open run of this process,
    else (id, None) for the run a wrapper on this host named in MLFOOTPRINT_PARENT_RUN."""
    with _open_lock:
        mine = [r for r in _open_runs if r._owner_pid == os.getpid() and r.state is RunState.RUNNING
                and r.kind != "experiment"]  # an experiment's entry measures nothing: never charged another run
    if mine:
        return mine[-1].id, mine[-1]
    run_id, _, host = os.environ.get(PARENT_ENV, "").partition("@")
    return (run_id, None) if run_id and host == _HOST else (None, None)


# what a nested run takes from the run it is nested in, unless given: where it runs, and where it is stored
INHERITED = ("country", "region", "pue", "wue", "renewable_share", "price_per_kwh", "currency",
             "instance_price_per_hour", "intensity_csv", "store")


def parent_environment(run: Run) -> dict[str, str]:
    """The variables a wrapper sets for its command, so runs the command starts are nested in `run`."""
    return {PARENT_ENV: f"{run.id}@{_HOST}"}


class track:
    """Measure the energy and carbon of a block or a function.

    >>> with track(project="demo", country="FR") as run:   # doctest: +SKIP
    ...     train()
    >>> run.it_energy_kwh, run.co2e_operational_kg          # doctest: +SKIP

    Used as a decorator (`@track(project="demo")` or bare `@track`), each call is its own run.
    Settings are keyword arguments named as in config.SETTINGS (`country`, `pue`, `interval_s`, ...);
    those left out come from MLFOOTPRINT_* variables, the config file, or defaults. `command` names what
    ran, `sensors` replaces the machine's (tests, simulations), `pid` is the process tree to charge in
    process scope, `extra` adds entries to the record's settings, and `parent_id` nests the run in another
    (found by itself when it runs inside another run or under `mlfootprint track`/`serve`).
    `kind="experiment"` opens an entry that groups trials (`reduce` opens one, with `sensors=[]`: it
    measures nothing itself); `trial_of` makes the run a trial of such an entry: listed under it, and
    charged its own devices (unlike a nested run, whose devices are charged to the run around it).
    """

    def __init__(self, project: str | Callable[..., Any] | None = None, *, command: str | None = None,
                 sensors: Sequence[Sensor] | None = None, pid: int | None = None,
                 extra: Mapping[str, Any] | None = None, parent_id: str | None = None, kind: RunKind = "run",
                 trial_of: str | None = None, **settings: Any) -> None:
        self._fn: Callable[..., Any] | None = None
        if callable(project):  # bare @track
            self._fn, project = project, None
            functools.update_wrapper(self, self._fn)
        unknown = [k for k in settings if k not in SETTINGS or k == "project"]
        if unknown:
            from .errors import ConfigError

            raise ConfigError(f"track() got an unknown setting {unknown[0]!r}; known settings: "
                              f"{', '.join(n for n in SETTINGS if n != 'project')}, and command, sensors, pid, "
                              "extra, parent_id, kind, trial_of")
        if kind not in ("run", "experiment"):
            raise ValueError(f"track(): kind must be 'run' or 'experiment', got {kind!r}")
        if trial_of is not None and (kind != "run" or parent_id is not None):
            raise ValueError("track(): trial_of names the experiment a run is a trial of; it goes with neither "
                             "kind='experiment' nor parent_id")
        self._overrides: dict[str, Any] = dict(settings, project=project)
        self._command = command
        self._sensors = sensors
        self._pid = pid  # process scope: the tree to charge (default: this process)
        self._extra = extra
        self._parent_id = parent_id
        self._kind: RunKind = "trial" if trial_of is not None else kind
        self._trial_of = trial_of
        self._run: Run | None = None

    def given_settings(self) -> dict[str, Any]:
        """The settings given to this tracker as arguments (what a wrapper passes on to its command)."""
        return {k: v for k, v in self._overrides.items() if v is not None}

    def start(self) -> Run:
        outer_id, outer = _nesting_parent()  # the measuring run around this one (never an experiment's entry)
        entry = None
        if self._kind == "run":
            parent_id, parent = (self._parent_id, None) if self._parent_id else (outer_id, outer)
            charged_to = parent_id
        else:  # an experiment's entry, or a trial of one: grouped, and charged to a measuring run around it
            entry = _open_run(self._trial_of) if self._trial_of else None
            parent_id = self._trial_of if self._kind == "trial" else outer_id
            parent, charged_to = entry or outer, outer_id
        overrides = self._overrides
        if parent is not None:  # in a run of this process: where it runs, stored with it (a trial: in its project)
            flat = dict(parent.settings.flat(), store=parent.store_url)
            given = {k: flat[k] for k in INHERITED if k in parent.origins or k == "store"}
            if entry is not None:
                given["project"] = flat["project"]
            overrides = dict(given, **{k: v for k, v in overrides.items() if v is not None})
        settings, origins = load_settings(overrides)
        location, warnings = resolve_location(settings.site.country, settings.site.region)
        url = to_url(settings.recording.store)
        check_url(url)  # bad input is refused now; a store that is merely slow or down is the writer's problem
        job = jobenv.detect(override=settings.recording.job, warnings=warnings)
        if job is not None and job.note:
            warnings.append(job.note)
        if job is not None:
            from .store.placement import check_store_for_job

            placement = check_store_for_job(url, job)
            if placement:
                warnings.append(placement)
        if self._sensors is not None:
            sensors, claims = list(self._sensors), Claims()
        else:
            sensors, sensor_warnings, claims = measured_sensors(
                job, gpu=settings.sampling.gpu, own_share_of_host=settings.sampling.scope == "process")
            warnings += sensor_warnings
        for w in warnings:
            _warn(w)
        meter = Meter(sensors, interval_s=settings.sampling.interval_s, scope=settings.sampling.scope, pid=self._pid)
        run = Run(settings, origins, location, meter, url, command=self._command or _command_line(),
                  warnings=warnings, job=job, claims=claims, extra=self._extra, parent_id=parent_id,
                  charged_to=charged_to, measures_machine=self._sensors is None, kind=self._kind)
        run._start()
        self._run = run
        return run

    def stop(self, status: str | RunState = RunState.COMPLETED, exit_code: int | None = None) -> Run:
        if self._run is None:
            raise RuntimeError("track.stop() called before start()")
        return self._run.stop(status, exit_code)

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._run is not None:
            interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
            self._run._finish(RunState.COMPLETED if exc_type is None else
                              RunState.INTERRUPTED if interrupted else RunState.FAILED)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:  # @track(...) applied to a function
            fn = args[0]
            tracker = self

            @functools.wraps(fn)
            def wrapper(*a: Any, **kw: Any) -> Any:
                with tracker._again():
                    return fn(*a, **kw)
            return wrapper
        with self._again():
            return self._fn(*args, **kwargs)

    def _again(self) -> track:
        """A fresh tracker with the same arguments: each call of a decorated function is its own run."""
        settings = {k: v for k, v in self._overrides.items() if k != "project"}
        return track(self._overrides.get("project"), command=self._command, sensors=self._sensors, pid=self._pid,
                     extra=self._extra, parent_id=self._parent_id,
                     kind="run" if self._kind == "trial" else self._kind, trial_of=self._trial_of, **settings)


def _cuda_sync() -> Callable[[], None] | None:
    """torch.cuda.synchronize if CUDA is usable, so GPU work is charged to the phase that queued it."""
    try:
        import torch
    except ImportError:
        log.warning("mlfootprint: sync_cuda needs PyTorch; phase markers will not synchronize")
        return None
    if not torch.cuda.is_available():
        return None
    sync: Callable[[], None] = torch.cuda.synchronize
    return sync


def _command_line() -> str:
    return " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])


@atexit.register
def _finish_open_runs() -> None:
    """An interpreter exiting with a run still open (e.g. sys.exit in a thread) still saves it, and
    final records and outputs still on their way get there (or stay in their spool files), bounded."""
    with _open_lock:
        still_open = list(_open_runs)
    for run in reversed(still_open):
        run._finish(RunState.INTERRUPTED)
    deadline = time.monotonic() + EXIT_WAIT_S
    for writer in list(_writers):
        if not writer.wait(max(0.0, deadline - time.monotonic())):
            writer.report_unstored()
    for outputs in list(_outputs):
        if not outputs.wait(max(0.0, deadline - time.monotonic())):
            log.warning("mlfootprint: an output did not finish before the process exited (a server that does not "
                        "answer?); its figures may be incomplete there")


# -- fork: never copy a lock mid-transaction into a child, and let the child own nothing of ours ----
_fork_held: list[threading.Lock] = []


def _before_fork() -> None:
    for writer in list(_writers):
        writer.not_importing.wait(5.0)  # bounded: a fork waits at most this for a writer's imports
        if not writer.stored and writer.io_lock.acquire(timeout=2.0):  # and for a transaction to end
            _fork_held.append(writer.io_lock)


def _after_fork_in_parent() -> None:
    while _fork_held:
        _fork_held.pop().release()


def _after_fork_in_child() -> None:
    """The parent's runs are not the child's: without this, its exit would 'finish' them."""
    while _fork_held:
        _fork_held.pop().release()
    _open_runs.clear()
    _writers.clear()
    _outputs.clear()
    from .store import pending

    pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)

__all__ = ["PARENT_ENV", "Run", "RunState", "parent_environment", "track"]
