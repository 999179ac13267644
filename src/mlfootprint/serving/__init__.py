"""Serving: energy per request and per token of a running model server (`mlfootprint serve`).

`scrape.py` reads the server's Prometheus counters, `windows.py` pairs their increase with the
energy measured over the same time window, and `summarize_windows` turns the windows into the
figures `show` prints. Definitions (stated in the record too):

* idle included: all the energy of the run / all requests — what a request costs on this server
  as it was used, idle time between requests included;
* idle excluded: the energy of the windows that served at least one request / requests;
* above idle: (energy − idle power × duration) / requests, where idle power is the median power of
  the windows that served nothing — the marginal energy of a request; only when such windows exist;
* idle share: the energy of windows that served nothing / all the energy;
* per-window J/request (windows that served requests): p50 and p95 over the windows.
"""

from __future__ import annotations

import statistics
from typing import Any

from ..constants import J_PER_KWH
from ..stats import quantile


def _quantile(values: list[float], q: float) -> float | None:
    return quantile(values, q) if values else None


def summarize_windows(windows: list[dict[str, Any]], co2e_kg_per_j: float,
                      config: dict[str, Any] | None = None, basis: str = "modelled") -> dict[str, Any]:
    """The serving figures of a run from its windows (t_s, duration_s, energy_j, requests, tokens).
    `basis` is how the run's energy was obtained (impact.energy_basis): per-request figures share it."""
    energy = sum(w["energy_j"] for w in windows)
    duration = sum(w["duration_s"] for w in windows)
    requests = sum(w["requests"] for w in windows)
    with_tokens = [w for w in windows if w.get("tokens") is not None]
    tokens = sum(w["tokens"] for w in with_tokens) if with_tokens else None
    busy = [w for w in windows if w["requests"] > 0]
    idle = [w for w in windows if w["requests"] <= 0]
    busy_energy = sum(w["energy_j"] for w in busy)
    idle_energy = sum(w["energy_j"] for w in idle)
    idle_power = statistics.median(w["energy_j"] / w["duration_s"] for w in idle if w["duration_s"] > 0) \
        if any(w["duration_s"] > 0 for w in idle) else None
    per_window = [w["energy_j"] / w["requests"] for w in busy]
    per_window_tokens = [w["energy_j"] / w["tokens"] for w in busy if w.get("tokens")]

    def per(amount: float | None, of: float) -> float | None:
        return amount / of if amount is not None and of else None

    above_idle = (energy - idle_power * duration) if idle_power is not None else None
    return {
        "method": "energy of each window / the increase of the server's request counter over it",
        "basis": basis,  # of the energy; the counters are read, not estimated
        "counters": config or {},
        "windows": len(windows),
        "window_s": statistics.median(w["duration_s"] for w in windows) if windows else None,
        "duration_s": duration,
        "energy_j": energy,
        "requests": requests,
        "tokens": tokens,
        "requests_per_s": per(requests, duration),
        "energy_per_request_j": {"idle_included": per(energy, requests), "idle_excluded": per(busy_energy, requests),
                                 "above_idle": per(above_idle, requests),
                                 "p50": _quantile(per_window, 0.5), "p95": _quantile(per_window, 0.95)},
        "energy_per_token_j": None if tokens is None else {
            "idle_included": per(energy, tokens), "idle_excluded": per(busy_energy, tokens),
            "above_idle": per(above_idle, tokens),
            "p50": _quantile(per_window_tokens, 0.5), "p95": _quantile(per_window_tokens, 0.95)},
        "idle_power_w": idle_power,
        "idle_share": per(idle_energy, energy),
        "requests_per_kwh": per(requests * J_PER_KWH, energy),
        # operational CO2e at the run's grid intensity and PUE, idle included
        "co2e_per_1000_requests_kg": per(energy * co2e_kg_per_j * 1000, requests),
        "series": [{k: w.get(k) for k in ("i", "t_s", "duration_s", "energy_j", "requests", "tokens")} for w in windows],
        "estimate": inference_estimate(config or {}, requests, tokens, busy_energy),
    }


def inference_estimate(config: dict[str, Any], requests: float, tokens: float | None,
                       measured_j: float) -> dict[str, Any] | None:
    """The estimator's figure for the same model, hardware and tokens, beside the measured energy
    (idle excluded), when `serve` was given the model (--model, or --model-params with its shape) and
    --hardware: the decode roofline of estimate/inference.py, at the server's --batch."""
    if not config.get("model_params") or not config.get("hardware"):
        return None
    n_tokens = tokens if tokens else (requests * config["tokens_per_request"] if config.get("tokens_per_request")
                                      else None)
    if not n_tokens:
        return {"error": "no tokens counted: give --tokens-counter or --tokens-per-request"}
    from ..errors import ConfigError, MissingModelShape
    from ..estimate import ServingWorkload, estimate, serving_config
    from ..estimate.impact_view import figures
    from ..impact import Place
    from ..shapes import to_json

    place = Place(1.0, "-", 0.0, "-", 0.0, "-", 0.0, "-")  # only the IT energy is compared
    try:
        model = serving_config(params=float(config["model_params"]), active_params=config.get("model_active_params"),
                               layers=config.get("model_layers"), d_model=config.get("model_d_model"),
                               kv_dim=config.get("model_kv_dim"), expert_share=config.get("model_expert_share"))
        est = estimate(ServingWorkload(config["hardware"], model, n_tokens,
                                       tokens_per_request=n_tokens / requests if requests else None,
                                       prompt_tokens=config.get("prompt_tokens"), batch=config.get("batch")), place)
    except MissingModelShape:
        return {"error": MissingModelShape.message("--model-layers", "--model-d-model", "--model-kv-dim", "--model")}
    except ConfigError as exc:
        return {"error": str(exc)}
    serving = est.serving
    return {"method": f"estimated: {serving.source if serving else 'estimate/inference.py'}",
            "hardware": est.hardware, "tokens": n_tokens, "energy_j": est.energy_j,
            "energy_j_range": list(figures(est.impact).energy_j_range),
            "range_level": est.range.level, "range_widened_by": list(est.range.widened_by),
            "batch": serving.batch if serving else None, "accelerators": serving.accelerators if serving else None,
            "energy_per_token_j": est.energy_j / n_tokens,
            "energy_per_request_j": est.energy_j / requests if requests else None,
            "measured_to_estimate": measured_j / est.energy_j if est.energy_j else None,
            "assumptions": to_json(est.assumptions)}
