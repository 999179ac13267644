"""The estimator's figure beside a served model's measurement, computed once when the run ends.

When `serve` was given the model (--model, or --model-params with its shape) and --hardware, the
decode roofline of estimate/inference.py predicts the IT energy of the tokens the server generated at
its --batch; the record keeps that estimate and its ratio to the measured energy (idle excluded), so
showing the run later never re-runs the estimator (a later calibration cannot change an old record).
"""

from __future__ import annotations

from .figures import ServeConfig, ServingEstimate


def estimate_beside(config: ServeConfig, requests: float, tokens: float | None,
                    measured_j: float) -> ServingEstimate | None:
    """The estimate for `tokens` (or `requests` x tokens_per_request) beside `measured_j`; None when
    `serve` was not given a model and hardware; an estimate carrying `error` when it cannot be made."""
    if not config.model_params or not config.hardware:
        return None
    n_tokens = tokens if tokens else (requests * config.tokens_per_request if config.tokens_per_request else None)
    if not n_tokens:
        return ServingEstimate(error="no tokens counted: give --tokens-counter or --tokens-per-request")
    from ..errors import ConfigError, MissingModelShape
    from ..estimate import ServingWorkload, estimate, serving_config
    from ..impact import Place
    from ..shapes import to_json

    place = Place(1.0, "-", 0.0, "-", 0.0, "-", 0.0, "-")  # only the IT energy is compared
    try:
        model = serving_config(params=float(config.model_params), active_params=config.model_active_params,
                               layers=config.model_layers, d_model=config.model_d_model, kv_dim=config.model_kv_dim,
                               expert_share=config.model_expert_share)
        est = estimate(ServingWorkload(config.hardware, model, n_tokens,
                                       tokens_per_request=n_tokens / requests if requests else None,
                                       prompt_tokens=config.prompt_tokens, batch=config.batch), place)
    except MissingModelShape:
        return ServingEstimate(error=MissingModelShape.message("--model-layers", "--model-d-model", "--model-kv-dim",
                                                               "--model"))
    except ConfigError as exc:
        return ServingEstimate(error=str(exc))
    serving = est.serving
    return ServingEstimate(
        method=f"estimated: {serving.source if serving else 'estimate/inference.py'}", hardware=est.hardware,
        tokens=n_tokens, energy_j=est.energy_j, energy_j_range=[est.impact.energy_j.low, est.impact.energy_j.high],
        batch=serving.batch if serving else None, accelerators=serving.accelerators if serving else None,
        energy_per_token_j=est.energy_j / n_tokens, energy_per_request_j=est.energy_j / requests if requests else None,
        measured_to_estimate=measured_j / est.energy_j if est.energy_j else None,
        assumptions=list(to_json(est.assumptions)), range_level=est.range.level,
        widened_by=list(est.range.widened_by))
