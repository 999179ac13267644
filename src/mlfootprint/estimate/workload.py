"""What an estimate is asked: three request types, one per way of getting to accelerator-hours.

* `TrainingWorkload`: parameters x tokens -> FLOPs -> hours at a utilization (fitted, papers' MFU, or
  given). With `inference=True`, forward passes only (2 x N x D) at a given or cited MFU: the FLOPs-only
  serving model, for users who know their throughput.
* `HoursWorkload`: the accelerator-hours are known (a published run, a cluster bill).
* `ServingWorkload`: a model's shape and deployment, decoded on the roofline of estimate/inference.py.

Each type holds only what its path reads, so a combination that means nothing (a batch size for a
training run, an MFU for the decode roofline) cannot be written; `check()` refuses the values that are
out of range, in one line naming the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Union

from .. import hardware
from ..errors import ConfigError
from .inference import Model

Utilization = Literal["effective", "peak"]


@dataclass(frozen=True)
class TrainingWorkload:
    hardware: str
    params: float
    tokens: float  # training tokens, or tokens processed when `inference`
    active_params: float | None = None  # mixture of experts: parameters used per token
    layers: int | None = None  # with d_model and seq_len: the attention term of the FLOPs
    d_model: int | None = None
    seq_len: int | None = None
    count: int | None = None  # accelerators working in parallel (wall time, the server share)
    mfu: float | None = None
    # "effective": fitted to published runs (every hour held, see utilization.py); "peak": papers'
    # steady-state MFU by family (data/mfu.csv), for users who know they run at that throughput
    utilization: Utilization = "effective"
    precision: str = "bf16"  # fp8: trained in FP8 (the fitted utilization takes the measured FP8 gain)
    inference: bool = False
    power_w: float | None = None  # per accelerator, instead of the TDP
    host_w: float = 0.0  # per accelerator: host CPUs, memory, network (not in the published figures)
    label: str | None = None


@dataclass(frozen=True)
class HoursWorkload:
    accelerator_hours: float
    hardware: str | None = None  # its TDP and embodied CO2e; without it, give power_w
    count: int | None = None
    power_w: float | None = None
    host_w: float = 0.0
    inference: bool = False  # only labels the result
    params: float | None = None  # shown, not used
    tokens: float | None = None
    label: str | None = None


@dataclass(frozen=True)
class ServingWorkload:
    hardware: str
    model: Model
    tokens: float  # output tokens in all
    tokens_per_request: float | None = None  # output tokens per request (default: `tokens`, one request)
    prompt_tokens: float | None = None
    batch: int | None = None  # concurrent sequences
    count: int | None = None  # accelerators serving one copy of the model (default: the fewest that hold it)
    precision: str = "bf16"
    expert_parallel: bool = False
    expert_precision: str | None = None
    power_w: float | None = None
    host_w: float = 0.0
    label: str | None = None


Workload = Union[TrainingWorkload, HoursWorkload, ServingWorkload]


def positive(name: str, v: float | None) -> None:
    if v is not None and not (math.isfinite(v) and v > 0):
        raise ConfigError(f"{name} must be a positive number (and finite), got {v:g}")


def positive_int(name: str, v: int | None) -> None:
    if v is not None and v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v}")


def _common(count: int | None, power_w: float | None, host_w: float) -> None:
    if count is not None and count < 1:
        raise ConfigError(f"count must be at least 1 accelerator, got {count}")
    positive("power-w", power_w)
    if not (math.isfinite(host_w) and host_w >= 0):
        raise ConfigError(f"host-w must be a finite number >= 0, got {host_w:g}")


def check_precision(precision: str, option: str = "precision") -> None:
    if precision not in hardware.PRECISIONS:
        raise ConfigError(f"unknown {option} {precision!r}: expected one of {', '.join(hardware.PRECISIONS)} "
                          "(fp16 counts as bf16)")


def check_model(m: Model) -> None:
    """A model shape's values, each in range; a mixture of experts' shares consistent with each other."""
    positive("params", m.params)
    positive("active-params", m.active_params)
    for name in ("layers", "d_model", "kv_dim", "experts", "attention_width"):
        positive_int(name.replace("_", "-"), getattr(m, name))
    if m.active_params and m.active_params > m.params:
        raise ConfigError(f"active-params ({m.active_params:g}) cannot exceed params ({m.params:g})")
    if m.expert_share is not None and not (math.isfinite(m.expert_share) and 0 < m.expert_share < 1):
        raise ConfigError(f"expert-share must be between 0 and 1 (routed experts per token / routed experts, e.g. "
                          f"0.0625 for 8 of 128), got {m.expert_share:g}")
    if (m.expert_share is not None or m.experts is not None) and not m.active_params:
        raise ConfigError("expert-share and experts describe a mixture of experts: give --active-params too")
    if m.expert_share is not None and m.active_params and m.expert_share > m.active_params / m.params:
        raise ConfigError(f"expert-share {m.expert_share:g} exceeds active-params / params "
                          f"({m.active_params / m.params:.3g}): the routed experts a token uses cannot outweigh "
                          "all it uses; check both")


def check(w: Workload) -> None:
    """Refuse out-of-range values in one line that names the option and what is accepted."""
    if isinstance(w, TrainingWorkload):
        for name in ("params", "tokens", "active_params"):
            positive(name.replace("_", "-"), getattr(w, name))
        for name in ("layers", "d_model", "seq_len"):
            positive_int(name.replace("_", "-"), getattr(w, name))
        if w.active_params and w.active_params > w.params:
            raise ConfigError(f"active-params ({w.active_params:g}) cannot exceed params ({w.params:g})")
        if w.mfu is not None and not 0 < w.mfu <= 1:
            raise ConfigError(f"MFU must be in (0, 1], the fraction of peak FLOP/s a run achieves; got {w.mfu:g}")
        if w.utilization not in ("effective", "peak"):
            raise ConfigError(f"unknown utilization {w.utilization!r}: expected effective (fitted to published runs) "
                              "or peak (papers' steady-state MFU)")
        check_precision(w.precision)
        _common(w.count, w.power_w, w.host_w)
    elif isinstance(w, HoursWorkload):
        positive("accelerator-hours", w.accelerator_hours)
        _common(w.count, w.power_w, w.host_w)
    else:
        check_model(w.model)
        positive("tokens", w.tokens)
        positive("tokens-per-request", w.tokens_per_request)
        positive_int("batch", w.batch)
        if w.prompt_tokens is not None and not (math.isfinite(w.prompt_tokens) and w.prompt_tokens >= 0):
            raise ConfigError(f"prompt-tokens must be a finite number >= 0, got {w.prompt_tokens:g}")
        check_precision(w.precision)
        if w.expert_precision is not None:
            check_precision(w.expert_precision, "expert-precision")
        _common(w.count, w.power_w, w.host_w)
