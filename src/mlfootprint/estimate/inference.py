"""Serving estimates: decode is memory-bound at small batch, compute-bound at large batch.

Training-style arithmetic (2 x params FLOPs per token at training MFU) puts serving energy far below what
is measured, because a decoding step must stream every weight, and every sequence's key/value cache,
from memory whatever the batch. So a step of `batch` sequences on `n` accelerators takes

    t_step = (bytes read / (n x memory bandwidth) + FLOPs / (n x peak FLOP/s)) / efficiency

  bytes read = weights (a mixture of experts: the always-used part and the experts a batch touches, see
               Model.weights_touched) + batch x context x KV bytes/token
  FLOPs      = batch x (2 x active params + 4 x layers x d_model x context)   (attention over the context)

and produces `batch` tokens. The accelerators draw a share of their TDP that rises with the compute
share of the step: power = n x TDP x (p0 + p1 x compute share). Prefill (the prompt) is charged as
compute at the same efficiency. The batch is capped by what memory holds (vLLM's default 90 % of
memory, minus the weights), as a server would cap it.

`efficiency`, `p0` and `p1` are fitted to published measurements (data/published_inference.csv, set
"fit": ML.ENERGY's Llama 3.1 8B/70B/405B on H100, throughput and power by batch size), and a mixture of
experts' efficiency relative to a dense model's on the only mixture-of-experts measurements on H100 there
(Qwen 3 235B-A22B in FP8; expert parallelism, routing and small per-expert products cost time the
roofline does not see). The other rows —
other hardware, other models, a mixture of experts, older serving software, and the leaderboard's data
for models not fitted on (data/published_inference_leaderboard.csv) — are never fitted on; they only
measure the error (benchmarks/inference_validation.py). The range is the 5th-95th percentile of
leave-one-model-out errors on the fitted rows (a nominal 90 % range, as for training estimates).

Energy here is accelerator energy, as ML.ENERGY measures it: the host's CPUs and memory are not in it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..data import number, rows
from ..errors import ConfigError, MissingModelShape
from ..hardware import Accelerator, get
from ..stats import quantile

DATA = "published_inference.csv"  # ML.ENERGY's blog figures: the fitted rows and the first held-out ones
LEADERBOARD = "published_inference_leaderboard.csv"  # ML.ENERGY's leaderboard data: held out, other models
MEMORY_USABLE = 0.9  # vLLM's default gpu_memory_utilization: the share of memory a server takes
WEIGHTS_MAX_SHARE = 0.7  # default accelerator count: the fewest (a power of two) with weights <= 70 % of memory
BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
KV_BYTES = 2  # the KV cache kept in 16-bit, vLLM's default whatever the weights
RANGE_QUANTILES = (0.05, 0.95)  # a nominal 90 % range, as for training estimates (utilization.py)
DEFAULT_BATCH = 64  # concurrent sequences when --batch is not given: a moderately loaded server (stated in the output)


@dataclass(frozen=True)
class Model:
    params: float
    active_params: float | None = None  # mixture of experts: parameters per token
    layers: int | None = None
    d_model: int | None = None
    kv_dim: int | None = None  # key/value heads x head dim (grouped-query attention); d_model without GQA
    expert_share: float | None = None  # mixture of experts: experts per token / routed experts (8/128 = 0.0625)

    def weights_touched(self, batch: int) -> float:
        """Parameters a decoding step of `batch` sequences reads: all of a dense model's; of a mixture of
        experts, the always-used part and the experts some sequence routes to (routing taken as uniform).
        With the expert share known, the routed experts' parameters follow from total and active ones:
        experts = (total - active) / (1 - share), always-used = total - experts. Without it, every
        parameter is taken to be routed with the active share (reads more at small batch)."""
        if self.active_params is None:
            return self.params
        share = self.expert_share
        if share is None or not 0 < share < 1:
            return self.params * (1 - (1 - self.active_params / self.params) ** batch)
        experts = min(self.params, (self.params - self.active_params) / (1 - share))
        return self.params - experts + experts * (1 - (1 - share) ** batch)

    @property
    def active(self) -> float:
        return self.active_params or self.params

    def kv_bytes_per_token(self) -> float | None:
        if not (self.layers and (self.kv_dim or self.d_model)):
            return None
        return 2 * self.layers * (self.kv_dim or self.d_model or 0) * KV_BYTES  # keys and values, every layer


@dataclass(frozen=True)
class Serving:
    batch: int  # concurrent sequences (vLLM max_num_seqs)
    prompt_tokens: float
    output_tokens: float  # per request
    accelerators: int | None = None
    precision: str = "bf16"  # of the weights and the matrix units used


@dataclass(frozen=True)
class Calibration:
    efficiency: float  # achieved share of the roofline time
    p0: float  # power share of TDP when memory-bound
    p1: float  # added share per unit compute share
    n_points: int
    moe_efficiency: float = 1.0  # a mixture of experts' efficiency relative to a dense model's (routing, expert
    # parallelism, small per-expert matrix products), fitted on the mixture-of-experts rows
    log_error_low: float = 0.0  # quantiles of leave-one-model-out log(measured / predicted) energy
    log_error_high: float = 0.0


@dataclass(frozen=True)
class Step:
    """One decoding configuration: what bounds it, its throughput, power and energy per output token."""

    accelerators: int
    batch: int
    batch_capped: bool
    context_tokens: float
    t_memory_s: float
    t_compute_s: float
    tokens_per_s: float
    power_w: float
    energy_j_per_token: float
    notes: list[str] = field(default_factory=list)

    @property
    def compute_share(self) -> float:
        return self.t_compute_s / (self.t_memory_s + self.t_compute_s)


def _peak(acc: Accelerator, precision: str) -> float:
    p = "bf16" if precision == "fp16" else precision
    peak = acc.peak_flops(p)
    if not peak:
        have = [q for q in ("fp32", "tf32", "bf16", "fp8") if acc.peak_flops(q)]
        raise ConfigError(f"no published dense {precision} peak for {acc.key}: use --precision {' or '.join(have) or '?'}")
    return peak


def _require(acc: Accelerator, need_tdp: bool = True) -> tuple[float, float, float]:
    missing = [n for n, v in (("memory bandwidth", acc.memory_tb_s), ("memory size", acc.memory_gb),
                              ("TDP", acc.tdp_w if need_tdp else 1)) if not v]
    if missing:
        fix = ("--power-w (watts per accelerator while serving), " if missing == ["TDP"] else "") + \
            "--gpu-hours and --power-w, or --mfu to use the FLOPs-only model"
        raise ConfigError(f"{acc.key}: no published {' or '.join(missing)} in the catalogue, which a serving estimate "
                          f"needs; give {fix}")
    return acc.memory_tb_s * 1e12, acc.memory_gb * 1e9, acc.tdp_w or 0.0  # type: ignore[operator]


def default_accelerators(model: Model, acc: Accelerator, precision: str) -> int:
    """The fewest accelerators (1, 2, 4, ...) whose memory holds the weights with 30 % left for the KV cache."""
    _, memory_b, _ = _require(acc, need_tdp=False)
    weights = model.params * BYTES[precision]
    n = 1
    while weights > WEIGHTS_MAX_SHARE * n * memory_b:
        n *= 2
        if n > 4096:
            break
    return n


def step(model: Model, acc: Accelerator, s: Serving, cal: Calibration, power_w: float | None = None) -> Step:
    """Throughput, power and energy per output token of serving `model` as `s` on `acc`; `power_w` (per
    accelerator, e.g. measured) replaces the fitted share of TDP."""
    bw, memory_b, tdp = _require(acc, need_tdp=power_w is None)
    kv_per_token = model.kv_bytes_per_token()
    notes: list[str] = []
    if kv_per_token is None:
        raise MissingModelShape()
    n = s.accelerators or default_accelerators(model, acc, s.precision)
    weights_total = model.params * BYTES[s.precision]
    context = s.prompt_tokens + s.output_tokens / 2  # mean context over a response's decoding steps
    free = MEMORY_USABLE * n * memory_b - weights_total
    if free <= 0:
        need = math.ceil(weights_total / (MEMORY_USABLE * memory_b))
        raise ConfigError(f"the weights ({weights_total / 1e9:,.0f} GB in {s.precision}) do not fit in {n} x {acc.key} "
                          f"({acc.memory_gb:g} GB each, {MEMORY_USABLE:.0%} usable): use --count {need} or more")
    per_sequence = context * kv_per_token
    if per_sequence > free:
        need = (weights_total + per_sequence) / (MEMORY_USABLE * memory_b)
        where = f"use --count {math.ceil(need):,} or more" if math.isfinite(need) else "no number of accelerators holds it"
        raise ConfigError(f"one sequence's KV cache ({per_sequence / 1e9:.3g} GB for a {context:.3g}-token context) "
                          f"does not fit beside the weights in {n} x {acc.key}: {where}")
    fits = int(free // per_sequence)
    batch = min(s.batch, fits)
    if batch < s.batch:
        notes.append(f"batch {s.batch} does not fit: the KV cache of {context:,.0f}-token contexts leaves room for "
                     f"{fits} sequences on {n} x {acc.key}, as a server would cap it")
    bytes_read = model.weights_touched(batch) * BYTES[s.precision] + batch * context * kv_per_token
    flops = batch * (2 * model.active + 4 * (model.layers or 0) * (model.d_model or 0) * context)
    peak = _peak(acc, s.precision)
    t_mem, t_cmp = bytes_read / (n * bw), flops / (n * peak)
    efficiency = cal.efficiency * (cal.moe_efficiency if model.active_params is not None else 1.0)
    t_step = (t_mem + t_cmp) / efficiency
    prefill_s_per_out = (s.prompt_tokens / s.output_tokens) * 2 * model.active / (n * peak * efficiency) \
        if s.output_tokens else 0.0
    s_per_token = t_step / batch + prefill_s_per_out
    share = min(1.0, max(0.0, cal.p0 + cal.p1 * t_cmp / (t_mem + t_cmp)))
    power = n * (power_w if power_w is not None else tdp * share)
    return Step(n, batch, batch < s.batch, context, t_mem, t_cmp, 1 / s_per_token, power, power * s_per_token, notes)


# -- calibration ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    set: str
    model: Model
    hardware: str
    serving: Serving
    energy_j_per_token: float
    tokens_per_s: float | None
    power_w: float | None
    label: str  # model, accelerators, precision, software: what leave-one-model-out leaves out together
    source: str


@lru_cache(maxsize=1)
def measurements() -> tuple[Measured, ...]:
    out = []
    for r in [*rows(DATA), *rows(LEADERBOARD)]:
        m = Model(float(r["params"]), number(r["active_params"]), int(r["layers"]), int(r["d_model"]), int(r["kv_dim"]),
                  number(r["expert_share"]))
        s = Serving(int(r["batch"]), float(r["prompt_tokens"]), float(r["output_tokens"]), int(r["accelerators"]),
                    r["precision"])
        label = f"{r['model']} {r['accelerators']}x {r['hardware']} {r['precision']} ({r['software']})"
        out.append(Measured(r["set"], m, r["hardware"], s, float(r["energy_j_per_token"]),
                            number(r["tokens_per_s"]), number(r["power_w"]), label, r["source"]))
    return tuple(out)


def _roofline(m: Measured) -> Step:
    """The measurement's configuration at the roofline itself: efficiency 1, power at TDP."""
    return predict(m, Calibration(1.0, 1.0, 0.0, 0))


def fit(points: list[Measured]) -> Calibration:
    """Efficiency: geometric mean of measured / roofline throughput, over dense models; a mixture of experts'
    efficiency is the same mean over its own rows, relative to that (1 without such rows). Power: least
    squares of the measured share of TDP on the compute share, over all rows."""
    timed = [(m, _roofline(m)) for m in points if m.tokens_per_s]
    if not timed:
        raise ValueError("no measured throughput to calibrate on")

    def mean_ratio(rows: list[tuple[Measured, Step]]) -> float:
        return math.exp(statistics.fmean(math.log(m.tokens_per_s / r.tokens_per_s) for m, r in rows))  # type: ignore[operator]
    dense = [(m, r) for m, r in timed if m.model.active_params is None]
    moe = [(m, r) for m, r in timed if m.model.active_params is not None]
    efficiency = mean_ratio(dense or moe)
    moe_efficiency = mean_ratio(moe) / efficiency if dense and moe else 1.0
    powered = [(r.compute_share, m.power_w / (r.accelerators * (get(m.hardware).tdp_w or 1)))
               for m, r in timed if m.power_w]
    if len(powered) >= 2 and statistics.pvariance([x for x, _ in powered]) > 1e-12:
        p1, p0 = statistics.linear_regression([x for x, _ in powered], [y for _, y in powered])
    else:
        p0, p1 = (statistics.fmean(y for _, y in powered) if powered else 1.0), 0.0
    return Calibration(efficiency, p0, p1, len(timed), moe_efficiency)


def predict(m: Measured, cal: Calibration) -> Step:
    return step(m.model, get(m.hardware), m.serving, cal)


def leave_one_model_out(points: list[Measured]) -> list[tuple[Measured, float]]:
    """(measurement, predicted energy per token) with each model's points predicted by a fit without them."""
    out = []
    for g in dict.fromkeys(m.label for m in points):
        cal = fit([m for m in points if m.label != g])
        out.extend((m, predict(m, cal).energy_j_per_token) for m in points if m.label == g)
    return out


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The shipped calibration: fitted on every "fit" row; range from leave-one-model-out errors."""
    fitted = [m for m in measurements() if m.set == "fit"]
    cal = fit(fitted)
    errors = [math.log(m.energy_j_per_token / e) for m, e in leave_one_model_out(fitted)]
    return replace(cal, log_error_low=quantile(errors, RANGE_QUANTILES[0]),
                   log_error_high=quantile(errors, RANGE_QUANTILES[1]))


def source(power_given: bool = False) -> str:
    """How the figures were made; `power_given`: the user's watts replaced the fitted power."""
    cal = calibration()
    power = "power given" if power_given else f"power {cal.p0:.2f} + {cal.p1:.2f} x compute share of TDP"
    return (f"decode roofline (weights + KV cache over memory bandwidth, plus FLOPs over peak) at "
            f"{cal.efficiency:.2f} of roofline speed (x {cal.moe_efficiency:.2f} for a mixture of experts), {power}; "
            f"fitted to {cal.n_points} published measurements "
            f"(data/{DATA}: ML.ENERGY's Llama 3.1 and Qwen 3 235B-A22B on H100); "
            f"range: {RANGE_QUANTILES[0]:.0%}-{RANGE_QUANTILES[1]:.0%} quantiles of leave-one-model-out errors; "
            "accelerator energy only")
