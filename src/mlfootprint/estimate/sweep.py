"""A sweep: the same workload at model sizes spaced evenly in log, for the footprint-against-size plot."""

from __future__ import annotations

from dataclasses import replace

from ..errors import ConfigError
from ..impact import Place
from .estimator import estimate
from .models import get
from .published import with_catalogue
from .request import Request, workload
from .result import Estimate

MAX_SWEEP_POINTS = 1000  # a plot with more points shows nothing more, and each point is a full estimate

__all__ = ["MAX_SWEEP_POINTS", "sweep"]


def sweep(params_low: float, params_high: float, points: int, request: Request, place: Place,
          model: str | None = None) -> tuple[Estimate, ...]:
    """Estimates at `points` model sizes spaced evenly in log from `params_low` to `params_high`, each with
    the request's tokens (or tokens per parameter); `model`: a catalogue model's shape and hardware fill
    the options the request leaves empty."""
    if model is not None:
        request = with_catalogue(get(model), replace(request, params=params_low))  # a size of its own: no published hours

    if not 2 <= points <= MAX_SWEEP_POINTS:
        raise ConfigError(f"--points must be from 2 to {MAX_SWEEP_POINTS}, got {points}")
    if not params_high > params_low > 0:
        raise ConfigError(f"--params {params_low:g}:{params_high:g}: the sweep must go from small to large, e.g. 1e8:1e12")
    if request.tokens is None and request.tokens_per_param is None:
        raise ConfigError("a sweep needs --tokens: a number, or tokens per parameter such as 20x")
    sizes = [params_low * (params_high / params_low) ** (i / (points - 1)) for i in range(points)]
    return tuple(estimate(workload(replace(request, params=n, label=f"{n:.3g}")), place) for n in sizes)
