"""`track()`: measure a block of code or a function, store the run, and hand back its footprint.

Configuration and store problems raise at the start (before any compute is spent); once the block
runs, nothing raises into it. Measured data reaches the store every `flush_interval_s`; if the
store fails at the end, the record is written to a JSON file beside the working directory instead.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from . import impact
from .config import Settings, load_settings
from .constants import J_PER_KWH
from .embodied import items_for_run
from .factors import place_for
from .forecast import Forecast
from .grid import Location, resolve_location
from .grid.series import from_csv
from .meter import Meter
from .phases import Marker, PhaseAccount, PhaseRecorder, within
from .sensors import Sensor, discover_sensors
from .store import Store, open_store
from .store.db import now_iso, to_record
from .watch import ProgressWatch

log = logging.getLogger("mlfootprint")
F = TypeVar("F", bound=Callable[..., Any])

_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()
_shown_warnings: set[str] = set()  # a process running many runs (experiments) hears each warning once


class Run:
    """A run being measured (inside the `with`) or finished (after it). Figures are live."""

    def __init__(self, settings: Settings, origins: dict[str, str], location: Location, meter: Meter,
                 store: Store, *, command: str | None, warnings: list[str]) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.settings = settings
        self.location = location
        self.meter = meter
        self.store = store
        self.status = "running"
        self.exit_code: int | None = None
        self.started_at = now_iso()
        self.ended_at: str | None = None
        self.command = command
        self.warnings = warnings
        values = {k: getattr(settings, k) for k in Settings.model_fields}
        values["store"] = store.display_url  # never a database password in a record
        self._settings_json = json.dumps({k: {"value": v, "from": origins.get(k, "default")} for k, v in values.items()})
        self._phases = PhaseRecorder(meter.clock, _cuda_sync() if settings.sync_cuda else None)
        meter.phases = PhaseAccount(self._phases)
        self.counts: dict[str, float] = {}
        self.metrics: dict[str, float] = {}
        self.watch = ProgressWatch(self.id, settings, location.intensity_g_per_kwh, warnings)
        self._save_lock = threading.Lock()
        self._last_save = time.monotonic()
        self._unsaved_samples: list[dict[str, Any]] = []
        self.place = place_for(settings, origins, location)
        self._series = from_csv(settings.intensity_csv, location.country or "") if settings.intensity_csv else None
        self._series_j = 0.0  # sample energy matched to an hour of the series, and its CO2e
        self._series_co2e_kg = 0.0
        self._failed: set[str] = set()
        self._logical_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    # -- phases, counts and quality ---------------------------------------------------------
    def phase(self, name: str, items: float | None = None) -> Marker:
        """`with run.phase("forward"):` — energy of the block, by time overlap with sampled power.

        `items` counts what the block handled (requests, predictions) for energy per item.
        """
        return self._phases.marker(name, items)

    def phase_enter(self, name: str, items: float | None = None, t: float | None = None) -> None:
        """Enter a phase from a callback that cannot use `with`; `t` (meter clock) backdates it."""
        self._phases.enter(name, items, t)

    def phase_exit(self, name: str | None = None) -> None:
        """Leave the innermost phase, or the innermost one called `name`."""
        self._phases.exit(name)

    def phase_totals(self, name: str) -> tuple[float, float]:
        """(energy_j, duration_s) of a phase so far, nested phases included."""
        rows = [r for r in self._phase_rows() if within(r["path"], name)]
        return sum(r["energy_j"] for r in rows), sum(r["duration_s"] for r in rows)

    def count(self, samples: float = 0, tokens: float = 0, **other: float) -> None:
        """Add to the run's work counters, for energy per sample and per token."""
        for name, value in (("samples", samples), ("tokens", tokens), *other.items()):
            if value:
                self.counts[name] = self.counts.get(name, 0) + float(value)

    def progress(self, step: float, total: float | None = None) -> bool:
        """Report progress (e.g. epochs done of total). Cheap: the sampler thread pairs it with energy.

        Returns False once the run should stop: its forecast exceeds a budget and
        `stop_over_budget` is set — `if not run.progress(epoch + 1, epochs): break`.
        """
        return self.watch.report(step, total)

    def forecast(self) -> Forecast | None:
        """Projected totals from the progress so far (None before enough progress is reported)."""
        return self.watch.forecast()

    @property
    def over_budget(self) -> str | None:
        """Why the forecast exceeds a budget, once it does."""
        return self.watch.over_budget

    def log_metrics(self, **metrics: float) -> None:
        """Record model quality (e.g. accuracy=0.95, train_accuracy=0.99) beside the footprint."""
        for name, value in metrics.items():
            try:
                self.metrics[name] = float(value)
            except (TypeError, ValueError):
                log.warning("mlfootprint: metric %s=%r is not a number; not recorded", name, value)

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
        return to_record(dict(self._static_row(), **fields), comps, self._phase_rows(), self._value_rows())

    def _phase_rows(self) -> list[dict[str, Any]]:
        assert self.meter.phases is not None
        with self.meter.lock:
            totals = self.meter.phases.snapshot()
        return [{"path": p.path, "duration_s": p.duration_s, "energy_j": sum(p.energy_j.values()),
                 "gpu_energy_j": p.energy_j.get("gpu", 0.0), "cpu_energy_j": p.energy_j.get("cpu", 0.0),
                 "ram_energy_j": p.energy_j.get("ram", 0.0), "entries": p.entries, "items": p.items}
                for p in totals]

    def _value_rows(self) -> list[dict[str, Any]]:
        rows = ([{"kind": "count", "name": k, "value": v} for k, v in self.counts.items()]
                + [{"kind": "metric", "name": k, "value": v} for k, v in self.metrics.items()])
        fc = self.forecast()
        if fc is not None:  # kept apart from measured totals, under kind "forecast"
            for name, value in (("progress", fc.progress), ("total_energy_j", fc.total_energy_j.value),
                                ("total_energy_j_low", fc.total_energy_j.low),
                                ("total_energy_j_high", fc.total_energy_j.high),
                                ("duration_s", fc.duration_s.value), ("duration_s_low", fc.duration_s.low),
                                ("duration_s_high", fc.duration_s.high)):
                rows.append({"kind": "forecast", "name": name, "value": value})
        return rows

    # -- persistence -----------------------------------------------------------------------
    def _static_row(self) -> dict[str, Any]:
        return {
            "id": self.id, "project": self.project, "started_at": self.started_at,
            "pue": self.settings.pue, "country": self.location.country, "region": self.location.region,
            "intensity_g_per_kwh": self.location.intensity_g_per_kwh,
            "intensity_source": self.location.intensity_source, "scope": self.settings.scope,
            "interval_s": self.settings.interval_s, "host": socket.gethostname(), "pid": os.getpid(),
            "command": self.command, "settings_json": self._settings_json,
            "warnings_json": json.dumps(self.warnings), "status": self.status, "heartbeat_at": now_iso(),
        }

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
            fields["impact_json"] = json.dumps(self._impact(energy_j, fields["energy_uncertainty_j"], comps,
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
        duration_s = self.meter.elapsed_s
        return impact.assess((energy_j, max(0.0, energy_j - uncertainty_j), energy_j + uncertainty_j),
                             (duration_s, duration_s, duration_s), self.place, items_for_run(comps, self._logical_cpus),
                             "measured", instance_price_per_hour=self.settings.instance_price_per_hour,
                             series_co2e_kg=series_co2e, series_source=series_source)

    def _match_series(self, samples: list[Any]) -> None:
        """Charge each sample's energy at the intensity of its own hour, where the series covers it."""
        assert self._series is not None
        start = datetime.fromisoformat(self.started_at)
        for s in samples:
            intensity = self._series.at(start + timedelta(seconds=s.t_s))
            if intensity is not None:
                self._series_j += s.energy_j
                self._series_co2e_kg += impact.operational_co2e_kg(s.energy_j, self.settings.pue, intensity)

    def _save(self) -> None:
        """Write new samples and current totals; on failure keep the samples for the next try."""
        with self._save_lock:
            drained = self.meter.drain_samples()
            if self._series is not None:
                self._match_series(drained)
            self._unsaved_samples += [
                {"t_s": s.t_s, "key": s.key, "energy_j": s.energy_j, "power_w": s.power_w} for s in drained
            ]
            fields, comps = self._snapshot()
            self.store.save_progress(self.id, fields, comps, self._unsaved_samples, self._phase_rows(),
                                     self._value_rows())
            self._unsaved_samples = []
            self._last_save = time.monotonic()

    def _on_tick(self, _meter: Meter) -> None:
        try:
            self.watch.observe(self.meter.elapsed_s, self.energy_j)
        finally:
            if time.monotonic() - self._last_save >= self.settings.flush_interval_s:
                self._save()

    def _start(self) -> None:
        self.store.create_run(self._static_row())
        self.meter.on_tick = self._on_tick
        self.meter.start()
        _open_runs.add(self)

    def _finish(self, status: str, exit_code: int | None = None) -> None:
        if self.status != "running":
            return
        _open_runs.discard(self)
        try:
            self.meter.stop()
            self.watch.observe(self.meter.elapsed_s, self.energy_j)
        except Exception as exc:
            log.warning("mlfootprint: stopping the meter failed (%s)", exc)
        self.watch.close()
        self.status, self.exit_code, self.ended_at = status, exit_code, now_iso()
        try:
            self._save()
        except Exception as exc:
            path = self._rescue()
            log.warning("mlfootprint: could not save run %s to the store (%s); its record is in %s", self.id, exc, path)
        finally:
            self.meter.close()

    def _rescue(self) -> Path:
        record = dict(self.record, samples=self._unsaved_samples)
        for directory in (Path.cwd(), Path(tempfile.gettempdir())):
            path = directory / f"mlfootprint-run-{self.id}.json"
            try:
                path.write_text(json.dumps(record, indent=2))
                return path
            except OSError:
                continue
        return Path("<nowhere: no writable directory>")

    def __repr__(self) -> str:
        return (f"<Run {self.id} {self.status} {self.duration_s:.1f}s {self.energy_kwh:.6f} kWh "
                f"{self.co2e_kg * 1000:.3f} gCO2e>")


class track:
    """Measure the energy and carbon of a block or a function.

    >>> with track(project="demo", country="FR") as run:   # doctest: +SKIP
    ...     train()
    >>> run.energy_kwh, run.co2e_kg                          # doctest: +SKIP

    Used as a decorator (`@track(project="demo")` or bare `@track`), each call is its own run.
    Arguments left as None come from MLFOOTPRINT_* variables, the config file, or defaults.
    """

    def __init__(self, project: str | Callable[..., Any] | None = None, *, country: str | None = None,
                 region: str | None = None, pue: float | None = None, interval_s: float | None = None,
                 flush_interval_s: float | None = None, store: str | None = None, scope: str | None = None,
                 gpu: bool | None = None, sync_cuda: bool | None = None, budget_kwh: float | None = None,
                 budget_co2e_kg: float | None = None, stop_over_budget: bool | None = None,
                 progress_bar: bool | None = None, wue: float | None = None, price_per_kwh: float | None = None,
                 currency: str | None = None, instance_price_per_hour: float | None = None,
                 renewable_share: float | None = None, intensity_csv: str | None = None,
                 command: str | None = None, sensors: Sequence[Sensor] | None = None) -> None:
        self._fn: Callable[..., Any] | None = None
        if callable(project):  # bare @track
            self._fn, project = project, None
            functools.update_wrapper(self, self._fn)
        self._overrides = {"project": project, "country": country, "region": region, "pue": pue,
                           "interval_s": interval_s, "flush_interval_s": flush_interval_s, "store": store,
                           "scope": scope, "gpu": gpu, "sync_cuda": sync_cuda, "budget_kwh": budget_kwh,
                           "budget_co2e_kg": budget_co2e_kg, "stop_over_budget": stop_over_budget,
                           "progress_bar": progress_bar, "wue": wue, "price_per_kwh": price_per_kwh,
                           "currency": currency, "instance_price_per_hour": instance_price_per_hour,
                           "renewable_share": renewable_share, "intensity_csv": intensity_csv}
        self._command = command
        self._sensors = sensors
        self._run: Run | None = None

    def start(self) -> Run:
        settings, origins = load_settings(self._overrides)
        location, warnings = resolve_location(settings.country, settings.region)
        store = open_store(settings.store)
        if self._sensors is not None:
            sensors = list(self._sensors)
        else:
            sensors, sensor_warnings = discover_sensors(gpu=settings.gpu)
            warnings += sensor_warnings
        for w in warnings:
            if w not in _shown_warnings:
                _shown_warnings.add(w)
                log.warning("mlfootprint: %s", w)
        meter = Meter(sensors, interval_s=settings.interval_s, scope=settings.scope)
        run = Run(settings, origins, location, meter, store, command=self._command or _command_line(), warnings=warnings)
        run._start()
        self._run = run
        return run

    def stop(self, status: str = "completed", exit_code: int | None = None) -> Run:
        if self._run is None:
            raise RuntimeError("track.stop() called before start()")
        self._run._finish(status, exit_code)
        return self._run

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
        return dict(self._overrides, command=self._command, sensors=self._sensors)


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
    """An interpreter exiting with a run still open (e.g. sys.exit in a thread) still saves it."""
    for run in list(_open_runs):
        run._finish("interrupted")


def _forget_runs_in_child() -> None:
    """A forked child (a pre-fork server, os.fork in user code) does not own its parent's runs:
    without this, its exit would 'finish' them over the parent's inherited database connection."""
    _open_runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_runs_in_child)
