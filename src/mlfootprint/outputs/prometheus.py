"""Live metrics of a run in the Prometheus / OpenMetrics text format.

Names follow Prometheus conventions (base units, `_total` for counters); outputs/metrics.py declares
them:

    mlfootprint_energy_joules_total{component,kind,method}   IT energy per component
    mlfootprint_facility_energy_joules_total                 facility energy (IT x PUE)
    mlfootprint_power_watts{component,kind}                  IT power over the last sampling interval
    mlfootprint_co2e_kilograms_total                         operational CO2e so far
    mlfootprint_phase_energy_joules_total{phase}             IT energy per phase (exclusive)
    mlfootprint_run_info{run_id,project,host,job_id}         1, with the run's labels

every series labelled with `run_id` and `project`, so several runs on one host can be told apart. A
scrape serves the figures of the last write to the store (every `flush_interval_s`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..atomic import write_atomic
from ..config import prometheus_address
from ..live import LiveFigures
from . import metrics as m

if TYPE_CHECKING:
    from ..record import RunRecord

log = logging.getLogger("mlfootprint")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LiveCollector:
    """Serves the newest snapshot it was given (prometheus_client calls `collect` at each scrape)."""

    def __init__(self, live: LiveFigures | None = None) -> None:
        self.live = live

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        live = self.live  # one snapshot for the whole scrape
        if live is None:
            return
        base = {"run_id": live.run_id, "project": live.project}
        labels = list(base.values())
        energy = CounterMetricFamily(m.IT_ENERGY.prometheus, m.IT_ENERGY.help, labels=[*base, "component", "kind",
                                                                                        "method"])
        power = GaugeMetricFamily(m.POWER.prometheus, m.POWER.help, labels=[*base, "component", "kind"])
        for ch in live.channels:
            energy.add_metric([*labels, ch.key, ch.kind, ch.method], ch.energy_j)
            if ch.power_w is not None:
                power.add_metric([*labels, ch.key, ch.kind], ch.power_w)
        yield energy
        yield power
        for metric, value in ((m.FACILITY_ENERGY, live.facility_energy_j), (m.CO2E, live.co2e_kg)):
            family = CounterMetricFamily(metric.prometheus, metric.help, labels=list(base))
            family.add_metric(labels, value)
            yield family
        phases = CounterMetricFamily(m.PHASE_ENERGY.prometheus, m.PHASE_ENERGY.help, labels=[*base, "phase"])
        for path, joules in live.phase_energy_j.items():
            phases.add_metric([*labels, path or m.OUTSIDE_PHASES], joules)
        yield phases
        info = GaugeMetricFamily(m.RUN_INFO.prometheus, m.RUN_INFO.help, labels=[*base, "host", "job_id"])
        info.add_metric([*labels, live.host, live.job_id or ""], 1.0)
        yield info


def exposition(live: LiveFigures) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(live))
    return bytes(generate_latest(registry))


class PrometheusOutput:
    """An HTTP endpoint serving the run's metrics while it runs (stopped at the end)."""

    def __init__(self, arg: str | None) -> None:
        self.host, self.port = prometheus_address(arg)
        self._server: Any = None
        self.collector = LiveCollector()

    def start(self, live: LiveFigures) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        if self.host not in LOOPBACK:
            log.warning("mlfootprint: the Prometheus endpoint listens on %s:%d: anyone who can reach it can read the "
                        "run's project, id and host", self.host, self.port)
        self.collector.live = live
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        started = start_http_server(self.port, addr=self.host, registry=registry)
        self._server = started[0] if isinstance(started, tuple) else None

    def flush(self, live: LiveFigures) -> None:
        self.collector.live = live

    def end(self, record: RunRecord) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class TextfileOutput:
    """node-exporter's textfile collector: the exposition written atomically at every flush."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._last: LiveFigures | None = None

    def start(self, live: LiveFigures) -> None:
        self.flush(live)

    def flush(self, live: LiveFigures) -> None:
        self._last = live
        write_atomic(self.path, exposition(live))

    def end(self, record: RunRecord) -> None:
        pass  # the last flush, taken after the final write, is already in the file


__all__ = ["LiveCollector", "PrometheusOutput", "TextfileOutput", "exposition"]
