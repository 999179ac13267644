"""Live metrics of a run in the Prometheus / OpenMetrics text format.

Names follow Prometheus conventions (base units, `_total` for counters):

    mlfootprint_energy_joules_total{component,kind,method}   IT energy per component
    mlfootprint_power_watts{component,kind}                  power over the last sampling interval
    mlfootprint_co2e_kilograms_total                         operational CO2e so far
    mlfootprint_phase_energy_joules_total{phase}             energy per phase (exclusive)
    mlfootprint_run_info{run_id,project,host,job_id}         1, with the run's labels

every series labelled with `run_id` and `project`, so several runs on one host can be told apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..atomic import write_atomic

DEFAULT_ADDRESS = ("127.0.0.1", 9464)


def address(arg: str | None) -> tuple[str, int]:
    """':9464', '9464', '0.0.0.0:9464' -> (host, port)."""
    if not arg:
        return DEFAULT_ADDRESS
    host, _, port = arg.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"prometheus address {arg!r}: expected [HOST:]PORT, e.g. 9464 or 127.0.0.1:9464") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"prometheus port {number} is not between 1 and 65535")
    return (host or DEFAULT_ADDRESS[0]), number


class RunCollector:
    """Reads the live run at each scrape (prometheus_client calls `collect`)."""

    def __init__(self, run: Any) -> None:
        self.run = run

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        run = self.run
        base = {"run_id": run.id, "project": run.project}
        energy = CounterMetricFamily("mlfootprint_energy_joules", "IT energy per component",
                                     labels=[*base, "component", "kind", "method"])
        power = GaugeMetricFamily("mlfootprint_power_watts", "power over the last sampling interval",
                                  labels=[*base, "component", "kind"])
        with run.meter.lock:
            states = [(k, s.channel, s.energy_j) for k, s in run.meter.states.items()]
        last = _last_power(run)
        for key, ch, joules in states:
            energy.add_metric([*base.values(), key, ch.kind, ch.method], joules)
            if key in last:
                power.add_metric([*base.values(), key, ch.kind], last[key])
        yield energy
        yield power
        co2e = CounterMetricFamily("mlfootprint_co2e_kilograms", "operational CO2e so far (location-based)",
                                   labels=list(base))
        co2e.add_metric(list(base.values()), run.co2e_kg)
        yield co2e
        phases = CounterMetricFamily("mlfootprint_phase_energy_joules", "energy per phase (exclusive)",
                                     labels=[*base, "phase"])
        for row in run._phase_rows():
            phases.add_metric([*base.values(), row["path"] or "(outside phases)"], row["energy_j"])
        yield phases
        info = GaugeMetricFamily("mlfootprint_run_info", "the run's labels", labels=[*base, "host", "job_id"])
        info.add_metric([*base.values(), os.uname().nodename, run.job.job_id if run.job else ""], 1.0)
        yield info


def _last_power(run: Any) -> dict[str, float]:
    """Each channel's mean power over its last sampling interval."""
    with run.meter.lock:
        return {k: s.interval_power_w for k, s in run.meter.states.items() if s.interval_power_w is not None}


def exposition(run: Any) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(run))
    return generate_latest(registry)


class PrometheusOutput:
    """An HTTP endpoint serving the run's metrics while it runs (stopped at the end)."""

    def __init__(self, arg: str | None) -> None:
        self.host, self.port = address(arg)
        self._server: Any = None

    def start(self, run: Any) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(RunCollector(run))
        started = start_http_server(self.port, addr=self.host, registry=registry)
        self._server = started[0] if isinstance(started, tuple) else None

    def flush(self, run: Any) -> None:
        pass  # scraped live

    def end(self, run: Any, record: dict[str, Any]) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class TextfileOutput:
    """node-exporter's textfile collector: the exposition written atomically at every flush."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, run: Any) -> None:
        write_atomic(self.path, exposition(run))

    def start(self, run: Any) -> None:
        self._write(run)

    def flush(self, run: Any) -> None:
        self._write(run)

    def end(self, run: Any, record: dict[str, Any]) -> None:
        self._write(run)
