"""`track()`: measure a block of code or a function, store the run, and hand back its footprint.

Configuration problems raise at the start (before any compute is spent); once the block runs,
nothing raises into it. Persistence is the recorder's (recorder.py): the store is opened on a writer
thread, measured data reach it every `flush_interval_s`, and whatever the store cannot take (yet)
is kept in a spool file, so a fresh, locked, full or unreachable store neither delays nor loses a run.

A forked child (os.fork in user code, a pre-fork server) does not own its parent's runs: it can
neither finish nor save them; it may start runs of its own.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from . import impact, jobenv
from .config import Settings, load_settings
from .constants import J_PER_KWH
from .factors import place_for
from .forecast import Forecast
from .grid import Location, resolve_location
from .meter import Meter
from .ownership import Claims
from .phases import PhaseAccount, PhaseRecorder, within
from .record import MAX_PATH, clip, dumps, finite, now_iso, to_record
from .recorder import EXIT_WAIT_S, RunRecorder
from .sensors import Sensor, discover_sensors
from .store.spool import hostname
from .store.urls import check_url, display_url, to_url
from .watch import ProgressWatch

log = logging.getLogger("mlfootprint")
F = TypeVar("F", bound=Callable[..., Any])

_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()
_writers: weakref.WeakSet[RunRecorder] = weakref.WeakSet()
_shown_warnings: set[str] = set()  # a process running many runs (experiments) hears each warning once
_HOST = hostname()


def _warn(message: str) -> None:
    """A warning about the user's input, once per process: the API never raises into the loop."""
    if message not in _shown_warnings:
        _shown_warnings.add(message)
        log.warning("mlfootprint: %s", message)


class Run:
    """A run being measured (inside the `with`) or finished (after it). Figures are live."""

    def __init__(self, settings: Settings, origins: dict[str, str], location: Location, meter: Meter,
                 store_url: str, *, command: str | None, warnings: list[str],
                 job: jobenv.JobContext | None = None, claims: Claims | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.id = os.urandom(6).hex()  # 48 random bits, as uuid4().hex[:12] had, without importing uuid
        self.settings = settings
        self.location = location
        self.meter = meter
        self.store_url = store_url
        self.status = "running"
        self.exit_code: int | None = None
        self.started_at = now_iso()
        self.ended_at: str | None = None
        self.command = command
        self.warnings = warnings
        self.job = job  # the distributed job this run is a rank of, if any
        self.claims = claims or Claims()  # the devices it measures for that job
        self._owner_pid = os.getpid()
        values = {k: getattr(settings, k) for k in Settings.names()}
        values["store"] = display_url(store_url)  # never a database password in a record
        described = {k: {"value": v, "from": origins.get(k, "default")} for k, v in values.items()}
        for k, v in (extra or {}).items():  # what a wrapper adds about itself (serve: the counters it reads)
            described[k] = {"value": v, "from": "command line"}
        self._settings_json = json.dumps(described)
        self._phases = PhaseRecorder(meter.clock, _cuda_sync() if settings.sync_cuda else None)
        meter.phases = PhaseAccount(self._phases)
        self.counts: dict[str, float] = {}
        self.metrics: dict[str, float | None] = {}
        self.windows: list[dict[str, Any]] = []  # a served model's time windows (`mlfootprint serve`)
        self.watch = ProgressWatch(self.id, settings, location.intensity_g_per_kwh, warnings, self._projected_co2e_kg)
        self.place = place_for(settings, origins, location)
        self._series = None
        if settings.intensity_csv:
            from .grid.series import from_csv  # only then: it pulls in urllib and http

            self._series = from_csv(settings.intensity_csv, location.country or "")
        if self._series is not None and self._series.at(datetime.fromisoformat(self.started_at)) is None:
            _warn(f"the intensity series {self._series.source} does not cover the run's start ({self.started_at}; "
                  f"it covers {self._series.span()}): energy outside it is charged at the annual "
                  f"{location.intensity_g_per_kwh:g} gCO2e/kWh")
        self._series_j = 0.0  # sample energy matched to an hour of the series, and its CO2e
        self._series_co2e_kg = 0.0
        self._failed: set[str] = set()
        self._logical_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._tick_callbacks: list[Callable[[Run], None]] = []
        from .outputs import Outputs, build

        self.outputs = Outputs(build(settings.outputs))  # a bad output spec was refused by load_settings
        self.recorder = RunRecorder(self.id, store_url, self._static_row(), self._rows, settings.flush_interval_s,
                                    after_flush=lambda: self.outputs.flush(self))

    # -- phases, counts and quality ---------------------------------------------------------
    def phase(self, name: str, items: float | None = None) -> AbstractContextManager[Any]:
        """`with run.phase("forward"):` — energy of the block, by time overlap with sampled power.

        `items` counts what the block handled (requests, predictions) for energy per item. A bad
        name or count is reported once and the block runs unmeasured as a phase: never an exception.
        """
        try:
            return self._phases.marker(_phase_name(name), _items(items))
        except ValueError as exc:
            _warn(f"{exc}; the block runs outside phases")
            return nullcontext()

    def phase_enter(self, name: str, items: float | None = None, t: float | None = None) -> None:
        """Enter a phase from a callback that cannot use `with`; `t` (meter clock) backdates it."""
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
        """(energy_j, duration_s) of a phase so far, nested phases included."""
        rows = [r for r in self._phase_rows() if within(r["path"], name)]
        return sum(r["energy_j"] for r in rows), sum(r["duration_s"] for r in rows)

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

    # -- hooks -------------------------------------------------------------------------------
    def add_tick_callback(self, fn: Callable[[Run], None]) -> None:
        """Call `fn(run)` on the sampler thread after every sample (keep it short; errors are logged)."""
        self._tick_callbacks.append(fn)

    def on_over_budget(self, fn: Callable[[], None]) -> None:
        """Call `fn()` once when the forecast exceeds a budget and `stop_over_budget` is set."""
        self.watch.on_over_budget = fn

    def stop(self, status: str = "completed", exit_code: int | None = None) -> Run:
        """End the run (for notebooks and code that cannot use `with`). Ending twice does nothing."""
        self._finish(status, exit_code)
        return self

    def wait_stored(self, timeout_s: float | None = None) -> bool:
        """Block until the final record is in the store; False if it went to a spool file instead."""
        return self.recorder.wait(timeout_s)

    @property
    def rescue_path(self) -> Path | None:
        """The spool file holding what the store has not taken, if any."""
        return self.recorder.spool_path

    # -- live figures ----------------------------------------------------------------------
    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def duration_s(self) -> float:
        return self.meter.elapsed_s

    @property
    def energy_j(self) -> float:
        """IT energy of every measured or modelled component, in joules."""
        return sum(self.meter.totals_j().values())

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / J_PER_KWH

    @property
    def facility_energy_j(self) -> float:
        return impact.facility_energy_j(self.energy_j, self.settings.pue)

    @property
    def co2e_kg(self) -> float:
        """Operational, location-based; at each sample's hour when an intensity series was given."""
        return self._operational_co2e_kg(self.energy_j)

    def _projected_co2e_kg(self, energy_j: float) -> float:
        """CO2e of a projected total: with an intensity series, at the effective intensity the run has had
        so far (its hours matched to the series), not the annual figure."""
        so_far = self.energy_j
        if self._series is None or so_far <= 0:
            return self._operational_co2e_kg(energy_j)
        return self._operational_co2e_kg(so_far) * energy_j / so_far

    def _operational_co2e_kg(self, energy_j: float) -> float:
        if self._series is None:
            return impact.operational_co2e_kg(energy_j, self.settings.pue, self.location.intensity_g_per_kwh)
        unmatched_j = max(0.0, energy_j - self._series_j)
        return self._series_co2e_kg + impact.operational_co2e_kg(unmatched_j, self.settings.pue,
                                                                 self.location.intensity_g_per_kwh)

    @property
    def record(self) -> dict[str, Any]:
        """The same JSON record `mlfootprint show --json` prints."""
        fields, comps = self._snapshot()
        return to_record(dict(self._static_row(), **fields), comps, self._phase_rows(), self._value_rows(),
                         list(self.windows))

    def _phase_rows(self) -> list[dict[str, Any]]:
        assert self.meter.phases is not None
        with self.meter.lock:
            totals = self.meter.phases.snapshot()
        return [{"path": p.path, "duration_s": p.duration_s, "energy_j": sum(p.energy_j.values()),
                 "gpu_energy_j": p.energy_j.get("gpu", 0.0), "cpu_energy_j": p.energy_j.get("cpu", 0.0),
                 "ram_energy_j": p.energy_j.get("ram", 0.0), "entries": p.entries, "items": p.items}
                for p in totals]

    def _value_rows(self) -> list[dict[str, Any]]:
        # dict() copies in one step under the GIL: the host thread may add a key while we read
        rows = ([{"kind": "count", "name": k, "value": v} for k, v in dict(self.counts).items()]
                + [{"kind": "metric", "name": k, "value": v} for k, v in dict(self.metrics).items()])
        fc = self.forecast()
        if fc is not None:  # kept apart from measured totals, under kind "forecast"
            for name, value in (("progress", fc.progress), ("total_energy_j", fc.total_energy_j.value),
                                ("total_energy_j_low", fc.total_energy_j.low),
                                ("total_energy_j_high", fc.total_energy_j.high),
                                ("duration_s", fc.duration_s.value), ("duration_s_low", fc.duration_s.low),
                                ("duration_s_high", fc.duration_s.high)):
                rows.append({"kind": "forecast", "name": name, "value": value})
        return rows

    # -- rows for the recorder ---------------------------------------------------------------
    def _static_row(self) -> dict[str, Any]:
        return {
            "id": self.id, "project": self.project, "started_at": self.started_at,
            "pue": self.settings.pue, "country": self.location.country, "region": self.location.region,
            "intensity_g_per_kwh": self.location.intensity_g_per_kwh,
            "intensity_source": self.location.intensity_source, "scope": self.settings.scope,
            "interval_s": self.settings.interval_s, "host": _HOST, "pid": self._owner_pid,
            "command": self.command, "settings_json": self._settings_json,
            "warnings_json": json.dumps(self.warnings), "status": self.status, "heartbeat_at": now_iso(),
            "job_id": self.job.job_id if self.job else None, "job_rank": self.job.rank if self.job else None,
            "job_json": json.dumps(dict(self.job.as_dict(), owns=self.claims.owns(), ownership=self.claims.notes,
                                        host_gpus=self.claims.visible_gpus)) if self.job else None,
        }

    def _rows(self, drain: bool) -> dict[str, Any]:
        """Everything the recorder writes; `drain` takes the new samples from the meter."""
        if drain:
            samples = self.meter.drain_samples()
            if self._series is not None:
                self._match_series(samples)
        else:
            samples = self.meter.pending_samples()
        fields, comps = self._snapshot()
        return {"run": fields, "components": comps, "phases": self._phase_rows(), "values": self._value_rows(),
                "windows": list(self.windows),
                # the phase label is clipped to its column here: a long name must never fail a measured write
                "samples": [{"t_s": s.t_s, "key": s.key, "energy_j": s.energy_j, "power_w": s.power_w,
                             "phase": clip(s.phase, MAX_PATH) if s.phase else None}
                            for s in samples]}

    def _snapshot(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        totals = self.meter.totals_j()
        comps = []
        for key, state in self.meter.states.items():
            ch = state.channel
            notes = list(state.notes)
            if state.first_error:
                notes.append(f"{state.failed_reads} failed reads, first: {state.first_error}")
            if self.settings.scope == "process" and ch.kind == "gpu":
                notes.append("whole GPU charged when the tracked processes use it, or when NVML lists only "
                             "processes outside this PID namespace (NVML has no per-process energy)")
            comps.append({"key": key, "kind": ch.kind, "name": ch.name, "method": ch.method, "source": ch.source,
                          "uncertainty_rel": ch.uncertainty_rel, "energy_j": totals[key],
                          "note": "; ".join(notes) or None})
        energy_j = sum(totals.values())
        facility_j = impact.facility_energy_j(energy_j, self.settings.pue)
        fields = {
            "status": self.status, "ended_at": self.ended_at, "heartbeat_at": now_iso(),
            "duration_s": self.meter.elapsed_s, "energy_j": energy_j,
            "energy_uncertainty_j": impact.uncertainty_j([(c["energy_j"], c["uncertainty_rel"]) for c in comps]),
            "facility_energy_j": facility_j,
            "co2e_kg": self._operational_co2e_kg(energy_j),  # hour by hour when a series was given
            "exit_code": self.exit_code, "warnings_json": json.dumps(self.warnings),
        }
        try:
            fields["impact_json"] = dumps(self._impact(energy_j, fields["energy_uncertainty_j"], comps,
                                                       fields["co2e_kg"]))
        except Exception as exc:  # impact is derived; never let it stop measured data from being saved
            if "impact" not in self._failed:
                self._failed.add("impact")
                log.warning("mlfootprint: could not compute the impact figures (%s); energy is still recorded", exc)
        return fields, comps

    def _impact(self, energy_j: float, uncertainty_j: float, comps: list[dict[str, Any]],
                operational_co2e_kg: float) -> dict[str, Any]:
        series_co2e = series_source = None
        if self._series is not None:
            series_co2e = operational_co2e_kg
            share = self._series_j / energy_j if energy_j > 0 else 0.0
            series_source = (f"{self._series.source}, {share:.0%} of the energy matched to its hour"
                             + (f"; the rest at the annual {self.location.intensity_g_per_kwh:g} gCO2e/kWh"
                                if share < 0.999 else ""))
        # the hardware catalogue: loaded on the writer thread, not at start
        from .embodied import items_for_rank, items_for_run

        duration_s = self.meter.elapsed_s
        basis, detail = impact.energy_basis(comps)  # measured only if every component is
        if self.job is None:
            items = items_for_run(comps, self._logical_cpus)
        else:  # a rank: only the hardware it measures, so the job's ranks add up to each device once
            items = items_for_rank(comps, self._logical_cpus, owns_host=self.claims.host,
                                   host_gpus=self.claims.visible_gpus)
        return impact.assess((energy_j, max(0.0, energy_j - uncertainty_j), energy_j + uncertainty_j),
                             (duration_s, duration_s, duration_s), self.place, items,
                             basis, instance_price_per_hour=self.settings.instance_price_per_hour,
                             series_co2e_kg=series_co2e, series_source=series_source, basis_detail=detail)

    def _match_series(self, samples: list[Any]) -> None:
        """Charge each sample's energy at the intensity of its own hour, where the series covers it."""
        assert self._series is not None
        start = datetime.fromisoformat(self.started_at)
        for s in samples:
            intensity = self._series.at(start + timedelta(seconds=s.t_s))
            if intensity is not None:
                self._series_j += s.energy_j
                self._series_co2e_kg += impact.operational_co2e_kg(s.energy_j, self.settings.pue, intensity)

    # -- lifecycle -----------------------------------------------------------------------------
    def _on_tick(self, _meter: Meter) -> None:
        self.watch.observe(self.meter.elapsed_s, self.energy_j)
        for fn in self._tick_callbacks:
            try:
                fn(self)
            except Exception as exc:
                _warn(f"a tick callback failed ({exc!r}); measuring continues")

    def _start(self) -> None:
        self.meter.on_tick = self._on_tick
        self.meter.start()
        _open_runs.add(self)
        _writers.add(self.recorder)
        if self.outputs.outputs:
            self.outputs.start(self)
        self.recorder.start()  # last: its first job, loading the database layer, need not slow the start

    def _finish(self, status: str, exit_code: int | None = None) -> None:
        if self.status != "running" or os.getpid() != self._owner_pid:
            return  # finished already, or a forked child unwinding through its parent's `with`
        _open_runs.discard(self)
        try:
            self.meter.stop()
            self.watch.observe(self.meter.elapsed_s, self.energy_j)
        except Exception as exc:
            log.warning("mlfootprint: stopping the meter failed (%s)", exc)
        self.watch.close()
        self.status, self.exit_code, self.ended_at = status, exit_code, now_iso()
        try:
            self.recorder.finish()
            if self.outputs.outputs:
                self.outputs.end(self, self.record)
        finally:
            self.meter.close()
            self.claims.release()

    def __repr__(self) -> str:
        return (f"<Run {self.id} {self.status} {self.duration_s:.1f}s {self.energy_kwh:.6f} kWh "
                f"{self.co2e_kg * 1000:.3f} gCO2e>")


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


class track:
    """Measure the energy and carbon of a block or a function.

    >>> with track(project="demo", country="FR") as run:   # doctest: +SKIP
    ...     train()
    >>> run.energy_kwh, run.co2e_kg                          # doctest: +SKIP

    Used as a decorator (`@track(project="demo")` or bare `@track`), each call is its own run.
    Arguments left as None come from MLFOOTPRINT_* variables, the config file, or defaults
    (config.SETTINGS says what each one means and accepts).
    """

    def __init__(self, project: str | Callable[..., Any] | None = None, *, country: str | None = None,
                 region: str | None = None, pue: float | None = None, interval_s: float | None = None,
                 flush_interval_s: float | None = None, store: str | None = None, scope: str | None = None,
                 gpu: bool | None = None, sync_cuda: bool | None = None, budget_kwh: float | None = None,
                 budget_co2e_kg: float | None = None, stop_over_budget: bool | None = None,
                 progress_bar: bool | None = None, wue: float | None = None, price_per_kwh: float | None = None,
                 currency: str | None = None, instance_price_per_hour: float | None = None,
                 renewable_share: float | None = None, intensity_csv: str | None = None, job: str | None = None,
                 outputs: Sequence[str] | None = None,
                 command: str | None = None, sensors: Sequence[Sensor] | None = None, pid: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self._fn: Callable[..., Any] | None = None
        if callable(project):  # bare @track
            self._fn, project = project, None
            functools.update_wrapper(self, self._fn)
        arguments = dict(locals())
        self._overrides = {name: arguments[name] for name in Settings.names()}
        self._command = command
        self._sensors = sensors
        self._pid = pid  # process scope: the tree to charge (default: this process)
        self._extra = extra
        self._run: Run | None = None

    def start(self) -> Run:
        settings, origins = load_settings(self._overrides)
        location, warnings = resolve_location(settings.country, settings.region)
        url = to_url(settings.store)
        check_url(url)  # bad input is refused now; a store that is merely slow or down is the writer's problem
        job = jobenv.detect(override=settings.job)
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
            sensors, sensor_warnings, claims = discover_sensors(gpu=settings.gpu, job=job,
                                                                own_share_of_host=settings.scope == "process")
            warnings += sensor_warnings
        for w in warnings:
            _warn(w)
        meter = Meter(sensors, interval_s=settings.interval_s, scope=settings.scope, pid=self._pid)
        run = Run(settings, origins, location, meter, url, command=self._command or _command_line(), warnings=warnings,
                  job=job, claims=claims, extra=self._extra)
        run._start()
        self._run = run
        return run

    def stop(self, status: str = "completed", exit_code: int | None = None) -> Run:
        if self._run is None:
            raise RuntimeError("track.stop() called before start()")
        return self._run.stop(status, exit_code)

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._run is not None:
            interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
            self._run._finish("completed" if exc_type is None else "interrupted" if interrupted else "failed")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:  # @track(...) applied to a function
            fn = args[0]
            tracker = self

            @functools.wraps(fn)
            def wrapper(*a: Any, **kw: Any) -> Any:
                with track(**tracker._public_overrides()):
                    return fn(*a, **kw)
            return wrapper
        with track(**self._public_overrides()):
            return self._fn(*args, **kwargs)

    def _public_overrides(self) -> dict[str, Any]:
        return dict(self._overrides, command=self._command, sensors=self._sensors, pid=self._pid, extra=self._extra)


def _cuda_sync() -> Callable[[], None] | None:
    """torch.cuda.synchronize if CUDA is usable, so GPU work is charged to the phase that queued it."""
    try:
        import torch
    except ImportError:
        log.warning("mlfootprint: sync_cuda needs PyTorch; phase markers will not synchronize")
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.synchronize


def _command_line() -> str:
    return " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])


@atexit.register
def _finish_open_runs() -> None:
    """An interpreter exiting with a run still open (e.g. sys.exit in a thread) still saves it, and
    final records still on their way to the store get there (or stay in their spool files)."""
    for run in list(_open_runs):
        run._finish("interrupted")
    deadline = time.monotonic() + EXIT_WAIT_S
    for writer in list(_writers):
        if not writer.wait(max(0.0, deadline - time.monotonic())):
            writer.report_unstored()


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
    from .store import pending

    pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
