"""The footprint of a whole ML platform from the Prometheus telemetry it already runs.

mlfootprint queries Prometheus (or Thanos, Mimir, VictoriaMetrics: the same HTTP API) for the energy
counters exporters already publish — DCGM for GPUs, Kepler or the node exporter for CPUs, model
servers' request and token counters — and turns them into energy, CO2e, water and cost per team,
model and kind of work, with the idle capacity as a group of its own. It does not scrape, store or
aggregate the fleet itself: sums are computed by PromQL, exact fixes from a few raw samples.

    client = PromClient(access_from("http://prometheus:9090"))
    result = fleet_footprint(client, Request(window, None, ("namespace",), sites))
"""

from .client import Access, PromClient, PrometheusError, access_from
from .footprint import Request, fleet_footprint
from .result import FleetResult, is_fleet_json

__all__ = ["Access", "FleetResult", "PromClient", "PrometheusError", "Request", "access_from", "fleet_footprint",
           "is_fleet_json"]
