"""The serving figures of a run: energy per request and per token over time windows, typed.

Definitions (stated in the record too):

* idle included: all the energy of the run / all requests — what a request costs on this server
  as it was used, idle time between requests included;
* idle excluded: the energy of the windows that served at least one request / requests;
* above idle: (energy − idle power × duration) / requests, where idle power is the median power of
  the windows that served nothing — the marginal energy of a request; only when such windows exist;
* idle share: the energy of windows that served nothing / all the energy;
* per-window J/request (windows that served requests): p50 and p95 over the windows.

Pure: no I/O, no estimator. The estimate beside the measurement (serving/estimate.py) is computed once,
when a run ends, and stored with it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..constants import J_PER_KWH
from ..stats import quantile

METHOD = "energy of each window / the increase of the server's request counter over it"


@dataclass(frozen=True)
class ServeConfig:
    """What `serve` was told: the endpoint and counters it read, and the model for the estimate."""

    metrics_url: str | None = None  # masked: never a password or token
    requests_counter: str | None = None
    tokens_counter: str | None = None
    preset: str | None = None
    window_s: float | None = None
    attached_pid: int | None = None
    model_params: float | None = None
    hardware: str | None = None
    model_active_params: float | None = None
    model_layers: int | None = None
    model_d_model: int | None = None
    model_kv_dim: int | None = None
    batch: int | None = None
    model_expert_share: float | None = None
    prompt_tokens: float | None = None
    tokens_per_request: float | None = None


@dataclass(frozen=True)
class Window:
    """One time window: the energy measured in it and how much the server's counters rose."""

    i: int
    t_s: float  # end of the window, seconds since the run started
    duration_s: float
    energy_j: float  # IT energy measured in the window
    requests: float  # counter increase over the window
    tokens: float | None = None  # None: no token counter named


@dataclass(frozen=True)
class PerUnit:
    """Energy per request (or token) by each definition above; None where it cannot be computed."""

    idle_included: float | None
    idle_excluded: float | None
    above_idle: float | None
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class ServingEstimate:
    """The estimator's figure for the same model, hardware and tokens, beside the measured energy (idle
    excluded), or why there is none (`error`)."""

    method: str | None = None
    hardware: str | None = None
    tokens: float | None = None
    energy_j: float | None = None
    energy_j_range: list[float] = field(default_factory=list)  # [low, high]
    batch: int | None = None
    accelerators: int | None = None
    energy_per_token_j: float | None = None
    energy_per_request_j: float | None = None
    measured_to_estimate: float | None = None
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    range_level: float | None = None  # the nominal coverage of energy_j_range (e.g. 0.9)
    widened_by: list[str] = field(default_factory=list)  # inputs that made the range wider


@dataclass(frozen=True)
class Serving:
    method: str
    basis: str  # of the energy; the counters are read, not estimated
    counters: ServeConfig
    windows: int
    window_s: float | None
    duration_s: float
    energy_j: float
    requests: float
    tokens: float | None
    requests_per_s: float | None
    energy_per_request_j: PerUnit
    energy_per_token_j: PerUnit | None
    idle_power_w: float | None
    idle_share: float | None
    requests_per_kwh: float | None
    co2e_per_1000_requests_kg: float | None  # operational, at the run's intensity and PUE, idle included
    series: list[Window]
    estimate: ServingEstimate | None


def _per(amount: float | None, of: float | None) -> float | None:
    return amount / of if amount is not None and of else None


def _quantile(values: list[float], q: float) -> float | None:
    return quantile(values, q) if values else None


def busy_energy_j(windows: Sequence[Window]) -> float:
    """The energy of the windows that served at least one request (the 'idle excluded' numerator)."""
    return sum(w.energy_j for w in windows if w.requests > 0)


def summarize_windows(windows: Sequence[Window], co2e_kg_per_j: float, config: ServeConfig | None = None,
                      basis: str = "modelled", estimate: ServingEstimate | None = None) -> Serving:
    """The serving figures of a run from its windows. `basis` is how the run's energy was obtained
    (impact.energy_basis): per-request figures share it."""
    energy = sum(w.energy_j for w in windows)
    duration = sum(w.duration_s for w in windows)
    requests = sum(w.requests for w in windows)
    with_tokens = [w for w in windows if w.tokens is not None]
    tokens = sum(w.tokens or 0.0 for w in with_tokens) if with_tokens else None
    busy = [w for w in windows if w.requests > 0]
    idle = [w for w in windows if w.requests <= 0]
    busy_energy = sum(w.energy_j for w in busy)
    idle_energy = sum(w.energy_j for w in idle)
    idle_rates = [w.energy_j / w.duration_s for w in idle if w.duration_s > 0]
    idle_power = statistics.median(idle_rates) if idle_rates else None
    above_idle = (energy - idle_power * duration) if idle_power is not None else None

    def per_unit(of: float | None, per_window: list[float]) -> PerUnit:
        return PerUnit(_per(energy, of), _per(busy_energy, of), _per(above_idle, of),
                       _quantile(per_window, 0.5), _quantile(per_window, 0.95))

    return Serving(
        method=METHOD, basis=basis, counters=config or ServeConfig(), windows=len(windows),
        window_s=statistics.median(w.duration_s for w in windows) if windows else None,
        duration_s=duration, energy_j=energy, requests=requests, tokens=tokens,
        requests_per_s=_per(requests, duration),
        energy_per_request_j=per_unit(requests, [w.energy_j / w.requests for w in busy]),
        energy_per_token_j=None if tokens is None else per_unit(
            tokens, [w.energy_j / w.tokens for w in busy if w.tokens]),
        idle_power_w=idle_power, idle_share=_per(idle_energy, energy),
        requests_per_kwh=_per(requests * J_PER_KWH, energy),
        co2e_per_1000_requests_kg=_per(energy * co2e_kg_per_j * 1000, requests),
        series=list(windows), estimate=estimate,
    )


__all__ = ["METHOD", "PerUnit", "ServeConfig", "Serving", "ServingEstimate", "Window", "busy_energy_j",
           "summarize_windows"]
