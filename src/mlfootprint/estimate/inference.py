"""Serving estimates: decode is memory-bound at small batch, compute-bound at large batch.

Training-style arithmetic (2 x params FLOPs per token at training MFU) puts serving energy far below what
is measured, because a decoding step must stream every weight, and every sequence's key/value cache,
from memory whatever the batch. A step of `batch` sequences on `n` accelerators takes

    t_step = (bytes read / memory bandwidth + FLOPs / peak FLOP/s) / efficiency
             + layers x (t_moe x [a mixture of experts] + t_sync x [n > 1])

on the busiest accelerator, and produces `batch` tokens:

  bytes read = weights used by every token / n + the experts this accelerator serves that some sequence
               routes to (see `Model.weights_touched` and `expert_reads`) + batch x context x KV bytes / n
  FLOPs      = batch x (2 x params used by every token + 4 x layers x attention width x context) / n
               + the tokens routed to this accelerator's experts x 2 x expert size

Deployment is an input. With expert parallelism (vLLM's enable-expert-parallel, how ML.ENERGY serves
every mixture of experts) each accelerator holds experts / n whole experts, and at small batch the one
whose experts happen to be chosen most sets the pace: the expected maximum over accelerators of the
experts touched (routing taken as uniform). Without it every accelerator holds a 1/n slice of every
expert (tensor parallelism) and the reads are even. Experts may be stored in another precision than
the rest (FP8 experts, BF16 attention). The attention width (query heads x head dim) sets attention's
FLOPs per context token: wider than d_model in Qwen 3, much wider in multi-head latent attention
(DeepSeek V3: 128 heads x (576 + 512) / 2 after absorbing the up-projections).

The two per-layer times are what the roofline does not see: a mixture-of-experts layer launches the
router, top-k, permutation and expert kernels each step, a layer split over several accelerators
synchronizes them (all-reduce or all-to-all) each step. Neither shrinks with the bytes.

The accelerators draw a share of their TDP that rises with the compute share of the step: power = n x TDP
x (p0 + p1 x compute share). Prefill (the prompt) is charged as compute at the same efficiency. The batch
is capped by what memory holds (vLLM's default 90 % of memory, minus the weights), as a server would cap it.

`efficiency`, the two per-layer times, `p0` and `p1` are fitted (non-negative least squares on
throughput) to published measurements (data/published_inference.csv, set "fit": ML.ENERGY's Llama 3.1
8B/70B/405B on 1/4/8 H100 and Qwen 3 235B-A22B in FP8 on 4/8 H100). No other row is fitted on. The range
is the spread of out-of-sample errors, by configuration class (dense, mixture of experts): each fitted
model predicted by a fit without it, and the rows of that file the fit never reads (B200, other models,
older vLLM). The ML.ENERGY Leaderboard's rows (data/published_inference_leaderboard.csv) are left for the
test (benchmarks/inference_validation.py). Energy here is accelerator energy, as ML.ENERGY measures it:
the host's CPUs and memory are not in it.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from statistics import NormalDist

from ..data import number, rows
from ..errors import ConfigError, MissingModelShape
from ..hardware import Accelerator, get
from ..stats import quantile

DATA = "published_inference.csv"  # ML.ENERGY's blog figures: the fitted rows and the ones that set the range
LEADERBOARD = "published_inference_leaderboard.csv"  # ML.ENERGY's leaderboard data: the test, other models
MEMORY_USABLE = 0.9  # vLLM's default gpu_memory_utilization: the share of memory a server takes
WEIGHTS_MAX_SHARE = 0.7  # default accelerator count: the fewest (a power of two) with weights <= 70 % of memory
BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
KV_BYTES = 2  # the KV cache kept in 16-bit, vLLM's default whatever the weights
LEVEL = 0.90  # the nominal level of the printed range, as for training estimates
RANGE_QUANTILES = ((1 - LEVEL) / 2, (1 + LEVEL) / 2)
DEFAULT_BATCH = 64  # concurrent sequences when --batch is not given: a moderately loaded server (stated in the output)
RANGE_SETS = ("check-other-hardware", "check-older-software")  # rows never fitted on that set the range's width


@dataclass(frozen=True)
class Model:
    params: float
    active_params: float | None = None  # mixture of experts: parameters per token
    layers: int | None = None
    d_model: int | None = None
    kv_dim: int | None = None  # key/value heads x head dim (grouped-query attention); d_model without GQA
    expert_share: float | None = None  # mixture of experts: experts per token / routed experts (8/128 = 0.0625)
    experts: int | None = None  # mixture of experts: routed experts per layer (sets expert parallelism's imbalance)
    attention_width: int | None = None  # query heads x head dim (attention FLOPs per context token); d_model if None

    @property
    def moe(self) -> bool:
        return self.active_params is not None

    @property
    def active(self) -> float:
        return self.active_params or self.params

    def split(self) -> tuple[float, float]:
        """(parameters every token uses, routed-expert parameters). With the expert share known, the routed
        experts follow from total and active: experts = (total - active) / (1 - share). Without it, every
        parameter is taken to be routed (a bound: it reads more at small batch)."""
        if self.active_params is None:
            return self.params, 0.0
        share = self.expert_share
        if share is None or not 0 < share < 1:
            return 0.0, self.params
        experts = min(self.params, (self.params - self.active_params) / (1 - share))
        return self.params - experts, experts

    def share(self) -> float:
        """The routed experts a token uses, as a share of all: the expert share, or active / total."""
        if self.expert_share is not None and 0 < self.expert_share < 1:
            return self.expert_share
        return self.active / self.params

    def weights_touched(self, batch: int) -> float:
        """Parameters a decoding step of `batch` sequences reads, summed over accelerators: all of a dense
        model's; of a mixture of experts, the always-used part and the experts some sequence routes to."""
        always, experts = self.split()
        return always + experts * (1 - (1 - self.share()) ** batch)

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
    expert_parallel: bool = False  # whole experts spread over the accelerators (vLLM enable-expert-parallel)
    expert_precision: str | None = None  # of the routed experts' weights, when not `precision` (FP8 experts)


@dataclass(frozen=True)
class Calibration:
    efficiency: float  # achieved share of the roofline time
    p0: float  # power share of TDP when memory-bound
    p1: float  # added share per unit compute share
    n_points: int
    moe_layer_s: float = 0.0  # per mixture-of-experts layer per step: routing and expert kernels
    sync_layer_s: float = 0.0  # per layer per step when split over accelerators: synchronization
    log_error: dict[str, tuple[float, float]] = field(default_factory=dict)  # by class: quantiles of log(measured / model)

    def error_range(self, moe: bool) -> tuple[float, float]:
        """(low, high) factors of the printed range for this class of configuration (1, 1 before ranges)."""
        lo, hi = self.log_error.get(configuration_class(moe), (0.0, 0.0))
        return math.exp(lo), math.exp(hi)


def configuration_class(moe: bool) -> str:
    return "mixture of experts" if moe else "dense"


@dataclass(frozen=True)
class Step:
    """One decoding configuration: what bounds it, its throughput, power and energy per output token."""

    accelerators: int
    batch: int
    batch_capped: bool
    context_tokens: float
    t_memory_s: float  # on the busiest accelerator, at the roofline
    t_compute_s: float
    t_overhead_s: float  # the per-layer times, per step
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
            "--accelerator-hours and --power-w, or --mfu to use the FLOPs-only model"
        raise ConfigError(f"{acc.key}: no published {' or '.join(missing)} in the catalogue, which a serving estimate "
                          f"needs; give {fix}")
    return acc.memory_tb_s * 1e12, acc.memory_gb * 1e9, acc.tdp_w or 0.0  # type: ignore[operator]


def weight_bytes(model: Model, s: Serving) -> float:
    always, experts = model.split()
    return always * BYTES[s.precision] + experts * BYTES[s.expert_precision or s.precision]


def default_accelerators(model: Model, acc: Accelerator, s: Serving | str) -> int:
    """The fewest accelerators (1, 2, 4, ...) whose memory holds the weights with 30 % left for the KV cache."""
    _, memory_b, _ = _require(acc, need_tdp=False)
    serving = s if isinstance(s, Serving) else Serving(1, 0.0, 1.0, precision=s)
    weights = weight_bytes(model, serving)
    n = 1
    while weights > WEIGHTS_MAX_SHARE * n * memory_b:
        n *= 2
        if n > 4096:
            break
    return n


def expected_max_binomial(trials: int, p: float, n: int) -> float:
    """E[max of n independent Binomial(trials, p)]: sum over j of P(max > j) = 1 - F(j)^n."""
    if n <= 1:
        return trials * p
    cdf, out = 0.0, 0.0
    for j in range(trials):
        cdf += math.comb(trials, j) * p ** j * (1 - p) ** (trials - j)
        out += 1 - min(1.0, cdf) ** n
    return out


def expert_reads(model: Model, batch: int, n: int, expert_parallel: bool) -> tuple[float, float]:
    """(routed-expert parameters the busiest accelerator reads, tokens x experts it computes) per step."""
    _, experts = model.split()
    if not experts:
        return 0.0, 0.0
    share = model.share()
    p = 1 - (1 - share) ** batch  # the chance some sequence routes to a given expert
    if not (expert_parallel and n > 1 and model.experts):
        return experts * p / n, batch * share * experts / n  # an even 1/n slice of every expert
    size = experts / model.experts  # one expert, all layers
    per_gpu = math.ceil(model.experts / n)
    touched = expected_max_binomial(per_gpu, p, n)
    routed = batch * share * model.experts  # (token, expert) pairs in a step
    busiest = routed / n + NormalDist().inv_cdf((n - 0.375) / (n + 0.25)) * math.sqrt(routed * (1 / n) * (1 - 1 / n))
    return touched * size, busiest * size


def step(model: Model, acc: Accelerator, s: Serving, cal: Calibration, power_w: float | None = None) -> Step:
    """Throughput, power and energy per output token of serving `model` as `s` on `acc`; `power_w` (per
    accelerator, e.g. measured) replaces the fitted share of TDP."""
    bw, memory_b, tdp = _require(acc, need_tdp=power_w is None)
    kv_per_token = model.kv_bytes_per_token()
    notes: list[str] = []
    if kv_per_token is None:
        raise MissingModelShape()
    n = s.accelerators or default_accelerators(model, acc, s)
    weights_total = weight_bytes(model, s)
    context = s.prompt_tokens + s.output_tokens / 2  # mean context over a response's decoding steps
    free = MEMORY_USABLE * n * memory_b - weights_total
    if free <= 0:
        need = math.ceil(weights_total / (MEMORY_USABLE * memory_b))
        raise ConfigError(f"the weights ({weights_total / 1e9:,.0f} GB in {s.precision}) do not fit in {n} x {acc.key} "
                          f"({acc.memory_gb:g} GB each, {MEMORY_USABLE:.0%} usable): use --count {need} or more")
    per_sequence = context * kv_per_token
    if per_sequence > free:
        cards = (weights_total + per_sequence) / (MEMORY_USABLE * memory_b)
        where = f"use --count {math.ceil(cards):,} or more" if math.isfinite(cards) else "no number of accelerators holds it"
        raise ConfigError(f"one sequence's KV cache ({per_sequence / 1e9:.3g} GB for a {context:.3g}-token context) "
                          f"does not fit beside the weights in {n} x {acc.key}: {where}")
    fits = int(free // per_sequence)
    batch = min(s.batch, fits)
    if batch < s.batch:
        notes.append(f"batch {s.batch} does not fit: the KV cache of {context:,.0f}-token contexts leaves room for "
                     f"{fits} sequences on {n} x {acc.key}, as a server would cap it")
    always, _ = model.split()
    expert_params, expert_flop_params = expert_reads(model, batch, n, s.expert_parallel)
    bytes_read = (always * BYTES[s.precision] + batch * context * kv_per_token) / n \
        + expert_params * BYTES[s.expert_precision or s.precision]
    width = model.attention_width or model.d_model or 0
    flops = batch * (2 * always + 4 * (model.layers or 0) * width * context) / n + 2 * expert_flop_params
    peak = _peak(acc, s.precision)
    t_mem, t_cmp = bytes_read / bw, flops / peak
    t_over = (model.layers or 0) * (cal.moe_layer_s * model.moe + cal.sync_layer_s * (n > 1))
    t_step = (t_mem + t_cmp) / cal.efficiency + t_over
    prefill_s_per_out = (s.prompt_tokens / s.output_tokens) * 2 * model.active / (n * peak * cal.efficiency) \
        if s.output_tokens else 0.0
    s_per_token = t_step / batch + prefill_s_per_out
    share = min(1.0, max(0.0, cal.p0 + cal.p1 * t_cmp / (t_mem + t_cmp)))
    power = n * (power_w if power_w is not None else tdp * share)
    return Step(n, batch, batch < s.batch, context, t_mem, t_cmp, t_over, 1 / s_per_token, power,
                power * s_per_token, notes)


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

    @property
    def name(self) -> str:
        return self.label.split(" (", 1)[0]


def _int(cell: str) -> int | None:
    return int(cell) if cell.strip() else None


@lru_cache(maxsize=1)
def measurements() -> tuple[Measured, ...]:
    out = []
    for r in [*rows(DATA), *rows(LEADERBOARD)]:
        m = Model(float(r["params"]), number(r["active_params"]), int(r["layers"]), int(r["d_model"]), int(r["kv_dim"]),
                  number(r["expert_share"]), _int(r["experts"]), _int(r["attention_width"]))
        s = Serving(int(r["batch"]), float(r["prompt_tokens"]), float(r["output_tokens"]), int(r["accelerators"]),
                    r["precision"], expert_parallel=r["expert_parallel"] == "1")
        label = f"{r['model']} {r['accelerators']}x {r['hardware']} {r['precision']} ({r['software']})"
        out.append(Measured(r["set"], m, r["hardware"], s, float(r["energy_j_per_token"]),
                            number(r["tokens_per_s"]), number(r["power_w"]), label, r["source"]))
    return tuple(out)


IDEAL = Calibration(1.0, 1.0, 0.0, 0)  # the roofline itself: efficiency 1, no per-layer time, power at TDP


def _features(m: Measured) -> tuple[Step, list[float]]:
    """The roofline step of a measurement, and the terms of its seconds per token that the fit scales:
    roofline time (x 1 / efficiency), and the layer counts per token of the two per-layer times."""
    st = predict(m, IDEAL)
    layers = (m.model.layers or 0) / st.batch
    prefill = (m.serving.prompt_tokens / m.serving.output_tokens) * 2 * m.model.active / \
        (st.accelerators * _peak(get(m.hardware), m.serving.precision)) if m.serving.output_tokens else 0.0
    return st, [(st.t_memory_s + st.t_compute_s) / st.batch + prefill, layers * m.model.moe,
                layers * (st.accelerators > 1)]


def _least_squares(x: list[list[float]], y: list[float]) -> list[float]:
    """Ordinary least squares by the normal equations (a handful of columns): Gauss-Jordan elimination."""
    k = len(x[0])
    a = [[sum(r[i] * r[j] for r in x) for j in range(k)] + [sum(r[i] * t for r, t in zip(x, y))] for i in range(k)]
    for col in range(k):
        pivot = max(range(col, k), key=lambda i: abs(a[i][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ValueError("singular")
        a[col], a[pivot] = a[pivot], a[col]
        for i in range(k):
            if i != col:
                f = a[i][col] / a[col][col]
                a[i] = [v - f * w for v, w in zip(a[i], a[col])]
    return [a[i][k] / a[i][i] for i in range(k)]


def nonnegative_least_squares(x: list[list[float]], y: list[float]) -> list[float]:
    """The least-squares coefficients >= 0: the best over every subset of columns whose own fit is
    non-negative (exact for the few columns here; a column left out is 0)."""
    k = len(x[0])
    best: tuple[float, list[float]] | None = None
    for size in range(1, k + 1):
        for cols in itertools.combinations(range(k), size):
            try:
                coef = _least_squares([[r[c] for c in cols] for r in x], y)
            except ValueError:
                continue
            if min(coef) < 0:
                continue
            full = [0.0] * k
            for c, v in zip(cols, coef):
                full[c] = v
            sse = sum((sum(f * v for f, v in zip(r, full)) - t) ** 2 for r, t in zip(x, y))
            if best is None or sse < best[0]:
                best = (sse, full)
    if best is None:
        raise ValueError("no non-negative fit")
    return best[1]


def fit(points: Sequence[Measured]) -> Calibration:
    """Efficiency and the per-layer times: non-negative least squares of measured / modelled seconds per
    token (each row weighted by its own size, so a fast and a slow model count alike). Power: least squares
    of the measured share of TDP on the compute share."""
    timed = [m for m in points if m.tokens_per_s]
    if not timed:
        raise ValueError("no measured throughput to calibrate on")
    steps, xs = [], []
    for m in timed:
        st, f = _features(m)
        steps.append(st)
        xs.append([v * m.tokens_per_s for v in f])  # type: ignore[operator]
    inverse_efficiency, moe_layer_s, sync_layer_s = nonnegative_least_squares(xs, [1.0] * len(xs))
    powered = [(st.compute_share, m.power_w / (st.accelerators * (get(m.hardware).tdp_w or 1)))
               for m, st in zip(timed, steps) if m.power_w]
    if len(powered) >= 2 and statistics.pvariance([x for x, _ in powered]) > 1e-12:
        p1, p0 = statistics.linear_regression([x for x, _ in powered], [y for _, y in powered])
    else:
        p0, p1 = (statistics.fmean(y for _, y in powered) if powered else 1.0), 0.0
    return Calibration(1 / inverse_efficiency if inverse_efficiency else 1.0, p0, p1, len(timed), moe_layer_s,
                       sync_layer_s)


def predict(m: Measured, cal: Calibration) -> Step:
    return step(m.model, get(m.hardware), m.serving, cal)


def leave_one_model_out(points: Sequence[Measured]) -> list[tuple[Measured, float]]:
    """(measurement, predicted energy per token) with each model's points predicted by a fit without them."""
    out: list[tuple[Measured, float]] = []
    for g in dict.fromkeys(m.label for m in points):
        cal = fit([m for m in points if m.label != g])
        out.extend((m, predict(m, cal).energy_j_per_token) for m in points if m.label == g)
    return out


def out_of_sample(rows_: Sequence[Measured] | None = None) -> list[tuple[Measured, float]]:
    """(measurement, prediction) for every row the range is set from: fitted models left out of their own
    fit, and the rows of RANGE_SETS at the fit on every fitted row."""
    everything = list(rows_ if rows_ is not None else measurements())
    fitted = [m for m in everything if m.set == "fit"]
    cal = fit(fitted)
    return leave_one_model_out(fitted) + [(m, predict(m, cal).energy_j_per_token) for m in everything
                                          if m.set in RANGE_SETS]


def with_ranges(cal: Calibration, pairs: Sequence[tuple[Measured, float]]) -> Calibration:
    """`cal` with each class's range from the out-of-sample errors log(measured / predicted) in `pairs`.

    Dense: the 5th-95th percentiles of the dense errors, which span several models. A mixture of experts:
    the rows that set the range hold one such model, whose errors say how the mixture-of-experts terms
    miss for it but not how far another model differs; so its range is centred where its errors are and
    its half-width adds the dense models' spread (between models) to its own, as independent errors add."""
    def ends(errors: list[float]) -> tuple[float, float]:
        return quantile(errors, RANGE_QUANTILES[0]), quantile(errors, RANGE_QUANTILES[1])

    dense = [math.log(m.energy_j_per_token / p) for m, p in pairs if not m.model.moe]
    moe = [math.log(m.energy_j_per_token / p) for m, p in pairs if m.model.moe]
    log_error = {}
    if dense:
        log_error[configuration_class(False)] = ends(dense)
    if moe:
        lo, hi = ends(moe)
        between = (log_error[configuration_class(False)][1] - log_error[configuration_class(False)][0]) / 2 \
            if dense else 0.0
        half = math.hypot((hi - lo) / 2, between)
        log_error[configuration_class(True)] = ((lo + hi) / 2 - half, (lo + hi) / 2 + half)
    return replace(cal, log_error=log_error)


@lru_cache(maxsize=1)
def calibration() -> Calibration:
    """The shipped calibration: fitted on every "fit" row; ranges from the out-of-sample errors."""
    fitted = [m for m in measurements() if m.set == "fit"]
    return with_ranges(fit(fitted), out_of_sample())


def source(power_given: bool = False) -> str:
    """How the figures were made; `power_given`: the user's watts replaced the fitted power."""
    cal = calibration()
    power = "power given" if power_given else f"power {cal.p0:.2f} + {cal.p1:.2f} x compute share of TDP"
    return (f"decode roofline (weights + KV cache over memory bandwidth, plus FLOPs over peak, on the busiest "
            f"accelerator) at {cal.efficiency:.2f} of roofline speed, plus {cal.moe_layer_s * 1e6:.0f} us per "
            f"mixture-of-experts layer and {cal.sync_layer_s * 1e6:.0f} us per layer split over accelerators, per "
            f"step; {power}; fitted to {cal.n_points} published measurements "
            f"(data/{DATA}: ML.ENERGY's Llama 3.1 and Qwen 3 235B-A22B on H100); "
            f"range: {LEVEL:.0%} of out-of-sample errors of the same class (dense or mixture of experts); "
            "accelerator energy only")
