"""A catalogue model as published: its hardware, count, power, place and hours unless overridden, and
the published figures beside the estimate.

The rules. A catalogue model (estimate/models.py) fills every option the request leaves empty: its size,
shape and tokens always; and, when it is estimated as the run that was published (training, on its own
hardware), that run's accelerator count, power, training precision, place (PUE and grid intensity, unless
the request says where) and accelerator-hours (unless the request gives a size or tokens of its own).
Then the published accelerator-hours and CO2e are shown beside the estimate, with the estimate from
parameters and tokens alone and the differences.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from .. import hardware
from ..errors import ConfigError, MlfootprintError
from ..impact import Place
from .estimator import estimate
from .models import ModelSpec, get
from .place import place as default_place
from .place import published_place
from .request import Request, workload
from .result import Estimate, FromSize, PublishedComparison, PublishedEstimate


def as_published(spec: ModelSpec, r: Request) -> bool:
    """Whether `r` asks about the run `spec` published: training, on the hardware it ran on."""
    if r.inference:
        return False
    return r.hardware is None or (spec.hardware is not None and hardware.get(r.hardware).key == spec.hardware)


def with_catalogue(spec: ModelSpec, r: Request) -> Request:
    """`r` with every option it leaves empty taken from the catalogue model (see the module docstring)."""
    published = as_published(spec, r)

    def pick(given: Any, default: Any) -> Any:
        return given if given is not None else default

    own_size = r.params is not None or r.tokens is not None or r.tokens_per_param is not None
    tokens = r.tokens if (r.tokens is not None or r.tokens_per_param is not None or r.inference) else spec.tokens
    return replace(
        r, params=pick(r.params, spec.params), tokens=tokens, hardware=pick(r.hardware, spec.hardware),
        count=pick(r.count, spec.accelerators if published else None),
        accelerator_hours=pick(r.accelerator_hours, spec.hours if published and not own_size else None),
        power_w=pick(r.power_w, spec.power_w if published else None),
        precision=pick(r.precision, spec.training_precision if published else None),
        active_params=pick(r.active_params, spec.active_params), layers=pick(r.layers, spec.layers),
        d_model=pick(r.d_model, spec.d_model), seq_len=pick(r.seq_len, spec.seq_len), kv_dim=pick(r.kv_dim, spec.kv_dim),
        expert_share=pick(r.expert_share, spec.expert_share), experts=pick(r.experts, spec.experts),
        attention_width=pick(r.attention_width, spec.attention_width), label=pick(r.label, spec.name))


def from_catalogue(model: str, where: Place | None = None, *, located: bool | None = None,
                   **options: Any) -> PublishedEstimate:
    """What `mlfootprint estimate --model` prints, from Python: `model` (a catalogue key such as
    "llama-2-70b") with `options` (any field of `Request`) replacing the catalogue's values, at `where` (a
    Place; default: the configured one). `located`: whether `where` says where the run happens (default: a
    place was given); if not, the run as published is charged at the PUE and grid intensity it published."""
    spec = get(model)
    r = Request(**options)
    if spec.tokens is None and r.tokens is None and r.tokens_per_param is None and r.accelerator_hours is None \
            and not spec.hours and not r.inference:
        raise ConfigError(f"{spec.name}: training tokens are not published; give --tokens or --accelerator-hours")
    if r.inference and r.total_tokens() is None:
        raise ConfigError("--inference with --model needs --tokens-per-request and --requests")
    merged = with_catalogue(spec, r)
    published = as_published(spec, r)
    at = where if where is not None else default_place()
    if published and not (located if located is not None else where is not None):
        at = published_place(at, spec.name, spec.source, spec.pue, spec.intensity_g_per_kwh)
    result = estimate(workload(merged), at)
    beside = _comparison(spec, result, merged, at) if published else None
    return PublishedEstimate(**{f.name: getattr(result, f.name) for f in fields(Estimate)},
                             model_source=spec.source, published=beside)


def _difference(estimated: float | None, published: float | None) -> float | None:
    return None if estimated is None or not published else (estimated - published) / published


def _comparison(spec: ModelSpec, result: Estimate, r: Request, at: Place) -> PublishedComparison:
    """The model's published figures, the estimate from its parameters and tokens alone, and the differences."""
    from_size = None
    tokens = r.total_tokens()
    if r.params and tokens and r.hardware:
        try:
            size = estimate(workload(replace(r, accelerator_hours=None, tokens=tokens)), at)
        except MlfootprintError:  # e.g. no peak or TDP for this hardware: the published figures still stand
            size = None
        if size is not None:
            from_size = FromSize(size.accelerator_hours, size.accelerator_hours_range, size.co2e_kg,
                                 _difference(size.accelerator_hours, spec.hours),
                                 _difference(size.co2e_kg, spec.published_co2e_kg), size.range)
    return PublishedComparison(spec.hours, spec.published_co2e_kg, spec.published_energy_j, spec.source, from_size,
                               _difference(result.co2e_kg, spec.published_co2e_kg),
                               spec.pue is not None and spec.intensity_g_per_kwh is not None)
