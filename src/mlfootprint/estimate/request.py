"""What `mlfootprint estimate` can be asked, as one value, and the request type it becomes.

`Request` holds the command's whole vocabulary (sizes, hardware, serving and deployment options), so
the command line, `serve` and a Python caller ask the same question the same way; `workload()` decides
which of the three request types of estimate/workload.py it is, and refuses the combinations that mean
nothing. `serving_config()` is the one place a model's shape is merged from the catalogue and checked;
`sweep()` estimates a range of model sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TypeVar

from ..errors import ConfigError
from ..impact import Place
from .inference import Model
from .result import Estimate
from .workload import HoursWorkload, ServingWorkload, TrainingWorkload, Utilization, Workload, check_model

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    params: float | None = None
    tokens: float | None = None  # training tokens; serving: output tokens in all (or tokens_per_request x requests)
    tokens_per_param: float | None = None  # instead of tokens: e.g. 20 (Hoffmann et al. 2022's compute-optimal ratio)
    hardware: str | None = None
    count: int | None = None
    accelerator_hours: float | None = None  # known hours, instead of params x tokens
    power_w: float | None = None
    host_w: float = 0.0
    mfu: float | None = None
    utilization: Utilization = "effective"
    precision: str | None = None  # bf16 unless said (a catalogue model as published: as it was trained)
    active_params: float | None = None
    layers: int | None = None
    d_model: int | None = None
    seq_len: int | None = None
    inference: bool = False
    tokens_per_request: float | None = None
    requests: float | None = None
    prompt_tokens: float | None = None
    batch: int | None = None
    kv_dim: int | None = None
    expert_share: float | None = None
    experts: int | None = None
    attention_width: int | None = None
    expert_parallel: bool = False
    expert_precision: str | None = None
    label: str | None = None

    def total_tokens(self) -> float | None:
        """The tokens the run processes: given, per parameter, or per request x requests."""
        if self.tokens is not None:
            return self.tokens
        if self.tokens_per_param is not None and self.params is not None:
            return self.tokens_per_param * self.params
        if self.inference and self.tokens_per_request is not None and self.requests is not None:
            total = self.tokens_per_request * self.requests
            if not (math.isfinite(total) and 0 < total < 1e30):
                raise ConfigError(f"--tokens-per-request x --requests must be a positive number below 1e30, got {total:g}")
            return total
        return None


def serving_config(model: str | None = None, *, params: float | None = None, active_params: float | None = None,
                   layers: int | None = None, d_model: int | None = None, kv_dim: int | None = None,
                   expert_share: float | None = None, experts: int | None = None,
                   attention_width: int | None = None) -> Model:
    """The shape of a model to serve: a catalogue model's (`model`), each value replaced where given,
    checked (ConfigError naming the option). A shape without layers or hidden size is returned as it is:
    the serving estimate raises MissingModelShape, whose message each front end words with its options."""
    from .models import get

    spec = get(model) if model else None

    def pick(given: T | None, published: T | None) -> T | None:
        return given if given is not None else published

    size = pick(params, spec.params if spec else None)
    if size is None:
        raise ConfigError("give the model's parameters (--params) or a known model (--model)")
    m = Model(float(size), pick(active_params, spec.active_params if spec else None),
              pick(layers, spec.layers if spec else None), pick(d_model, spec.d_model if spec else None),
              pick(kv_dim, spec.kv_dim if spec else None), pick(expert_share, spec.expert_share if spec else None),
              pick(experts, spec.experts if spec else None),
              pick(attention_width, spec.attention_width if spec else None))
    check_model(m)
    return m


SERVING_ONLY = ("batch", "prompt_tokens", "tokens_per_request", "requests", "expert_precision")


def workload(r: Request) -> Workload:
    """The request type `r` asks for: known hours, the decode roofline (serving without an MFU), or FLOPs."""
    given = [name for name in SERVING_ONLY if getattr(r, name) is not None] + (["expert_parallel"] if r.expert_parallel else [])
    if given and not r.inference:
        raise ConfigError(f"{', '.join('--' + n.replace('_', '-') for n in given)} describe serving: add --inference")
    tokens = r.total_tokens()
    precision = r.precision or "bf16"
    if r.accelerator_hours is not None:
        return HoursWorkload(r.accelerator_hours, r.hardware, r.count, r.power_w, r.host_w, r.inference, r.params,
                             tokens, r.label)
    if r.inference and r.mfu is None and r.utilization == "effective":
        if tokens is None:
            raise ConfigError("--inference needs --tokens-per-request and --requests (or --tokens in total)")
        if r.params is None:
            raise ConfigError("give --params (or --model) and the tokens to generate (--tokens-per-request and --requests)")
        model = serving_config(params=r.params, active_params=r.active_params, layers=r.layers, d_model=r.d_model,
                               kv_dim=r.kv_dim, expert_share=r.expert_share, experts=r.experts,
                               attention_width=r.attention_width)
        if r.hardware is None:
            raise ConfigError("give --hardware (e.g. h100-sxm) to estimate serving")
        return ServingWorkload(r.hardware, model, tokens, r.tokens_per_request, r.prompt_tokens, r.batch, r.count,
                               precision, r.expert_parallel, r.expert_precision, r.power_w, r.host_w, r.label)
    if r.params is None or tokens is None:
        raise ConfigError("give --params and --tokens (or --model, or --accelerator-hours) to estimate the compute")
    if r.hardware is None:
        raise ConfigError("give --hardware (e.g. a100-80gb, h100-sxm) to turn FLOPs into accelerator-hours")
    return TrainingWorkload(r.hardware, r.params, tokens, r.active_params, r.layers, r.d_model, r.seq_len, r.count,
                            r.mfu, r.utilization, precision, r.inference, r.power_w, r.host_w, r.label)
