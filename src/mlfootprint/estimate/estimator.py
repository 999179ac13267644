"""Workload -> FLOPs -> accelerator-hours -> energy -> the same impact model as measured runs.

Every number the estimate uses is returned as an assumption with its source, so a reader can see
(and override) what drove the result. Nothing here is tuned per model: the MFU default depends on the
hardware family only, and the power on the datasheet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from .. import hardware
from ..constants import J_PER_KWH
from ..embodied import accelerator_item, server_share_for_accelerators
from ..errors import ConfigError
from ..impact import Place, assess
from ..ranges import Range
from .flops import inference_flops, training_flops

RATED_POWER_SOURCE = ("datasheet TDP; accelerators taken at rated power over the run, as the published BLOOM "
                      "(Luccioni et al. 2022) and LLaMA (Touvron et al. 2023) footprints do")


@dataclass(frozen=True)
class Workload:
    """What to estimate. Give either params and tokens (FLOPs path) or accelerator_hours."""

    hardware: str | None = None
    count: int | None = None  # accelerators working in parallel (for wall time and the server share)
    params: float | None = None
    tokens: float | None = None  # training tokens, or tokens generated/processed when inference
    active_params: float | None = None  # mixture of experts: parameters used per token
    layers: int | None = None
    d_model: int | None = None
    seq_len: int | None = None
    inference: bool = False
    # serving (inference without --mfu): concurrent sequences, prompt and output tokens per request, model shape
    batch: int | None = None
    prompt_tokens: float | None = None
    output_tokens: float | None = None  # per request; tokens above is the total generated
    kv_dim: int | None = None
    expert_share: float | None = None  # mixture of experts: routed experts per token / routed experts
    accelerator_hours: float | None = None
    mfu: float | None = None
    # "effective": fitted to published runs (every hour held, see utilization.py); "peak": papers'
    # steady-state MFU by family (data/mfu.csv), for users who know they run at that throughput
    utilization: str = "effective"
    precision: str = "bf16"
    power_w: float | None = None  # per accelerator, instead of the TDP
    host_w: float = 0.0  # per accelerator: host CPUs, memory, network (not in the published figures)
    label: str | None = None


def _check(w: Workload) -> None:
    def positive(name: str, v: float | None) -> None:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} must be a positive number (and finite), got {v:g}")

    for name in ("params", "tokens", "active_params", "accelerator_hours", "power_w", "output_tokens"):
        positive(name.replace("_", "-"), getattr(w, name))
    for name in ("layers", "d_model", "seq_len", "batch", "kv_dim"):
        v = getattr(w, name)
        if v is not None and v < 1:
            raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {v}")
    if w.count is not None and w.count < 1:
        raise ConfigError(f"count must be at least 1 accelerator, got {w.count}")
    if w.prompt_tokens is not None and not (math.isfinite(w.prompt_tokens) and w.prompt_tokens >= 0):
        raise ConfigError(f"prompt-tokens must be a finite number >= 0, got {w.prompt_tokens:g}")
    if not (math.isfinite(w.host_w) and w.host_w >= 0):
        raise ConfigError(f"host-w must be a finite number >= 0, got {w.host_w:g}")
    if w.mfu is not None and not 0 < w.mfu <= 1:
        raise ConfigError(f"MFU must be in (0, 1], the fraction of peak FLOP/s a run achieves; got {w.mfu:g}")
    if w.expert_share is not None and not (math.isfinite(w.expert_share) and 0 < w.expert_share < 1):
        raise ConfigError(f"expert-share must be between 0 and 1 (routed experts per token / routed experts, e.g. "
                          f"0.0625 for 8 of 128), got {w.expert_share:g}")
    if w.expert_share is not None and not w.active_params:
        raise ConfigError("expert-share describes a mixture of experts: give --active-params too")
    if w.expert_share is not None and w.active_params and w.params and w.expert_share > w.active_params / w.params:
        raise ConfigError(f"expert-share {w.expert_share:g} exceeds active-params / params "
                          f"({w.active_params / w.params:.3g}): the routed experts a token uses cannot outweigh "
                          "all it uses; check both")
    if w.active_params and w.params and w.active_params > w.params:
        raise ConfigError(f"active-params ({w.active_params:g}) cannot exceed params ({w.params:g})")
    if w.utilization not in ("effective", "peak"):
        raise ConfigError(f"unknown utilization {w.utilization!r}: expected effective (fitted to published runs) "
                          "or peak (papers' steady-state MFU)")
    if w.precision not in hardware.PRECISIONS:
        raise ConfigError(f"unknown precision {w.precision!r}: expected one of {', '.join(hardware.PRECISIONS)} "
                          "(fp16 counts as bf16)")


def estimate(w: Workload, place: Place) -> dict[str, Any]:
    """The footprint of workload `w` run at `place`: accelerator-hours, energy and impact, with assumptions."""
    if w.precision == "fp16":  # the catalogue's half-precision column holds bf16, or fp16 where there is no bf16
        w = replace(w, precision="bf16")
    _check(w)
    acc = hardware.get(w.hardware) if w.hardware else None
    assumptions: list[dict[str, Any]] = []

    def assume(name: str, value: Any, unit: str, source: str) -> None:
        assumptions.append({"name": name, "value": value, "unit": unit, "source": source})

    if w.inference and w.accelerator_hours is None and w.mfu is None and w.utilization == "effective":
        return _serving(w, acc, place, assumptions, assume)
    flops = None
    if w.accelerator_hours is not None:
        hours = (w.accelerator_hours,) * 3
        assume("accelerator_hours", w.accelerator_hours, "h", "given")
    else:
        if w.params is None or w.tokens is None:
            raise ConfigError("give --params and --tokens (or --model, or --gpu-hours) to estimate the compute")
        if acc is None:
            raise ConfigError("give --hardware (e.g. a100-80gb, h100-sxm) to turn FLOPs into accelerator-hours")
        count_fn = inference_flops if w.inference else training_flops
        extra = {"context": w.seq_len} if w.inference else {"seq_len": w.seq_len}
        flops = count_fn(w.params, w.tokens, active_params=w.active_params, layers=w.layers, d_model=w.d_model, **extra)
        assume("flops", flops, "FLOP", ("2 x active params x tokens" if w.inference else "6 x active params x tokens")
               + (" + attention term" if w.layers and w.d_model and w.seq_len else "") + " (see estimate/flops.py)")
        fitted = w.mfu is None and w.utilization == "effective" and not w.inference
        precision = "bf16" if fitted and acc.peak_flops("bf16") else w.precision
        peak = acc.peak_flops(precision)
        if peak is None or acc.peak_flops(w.precision) is None:  # a precision the chip lacks is refused either way
            have = [p for p in hardware.PRECISIONS if acc.peak_flops(p)]
            raise ConfigError(f"no published dense {w.precision} peak for {acc.key}: use --precision "
                              f"{' or '.join(have) or '?'}, or give --gpu-hours")
        note = (f"; the fitted utilization is measured against the bf16 peak (fp8-trained runs included), so "
                f"--precision {w.precision} applies with --utilization peak or --mfu" if precision != w.precision else "")
        assume("peak_flops_per_s", peak, "FLOP/s", f"{acc.name}, dense {precision}: {acc.source}{note}")
        if w.mfu is not None:
            mfu, mfu_lo, mfu_hi = w.mfu, w.mfu, w.mfu
            assume("mfu", w.mfu, "fraction", "given")
        elif w.utilization == "effective" and not w.inference:
            from .utilization import effective_utilization

            eff = effective_utilization(acc.family, w.active_params or w.params)
            mfu, mfu_lo, mfu_hi = eff.value, eff.low, eff.high
            assume("utilization", round(mfu, 4), "fraction", f"{eff.source}; range {mfu_lo:.3g}-{mfu_hi:.3g}")
        else:
            cited = hardware.mfu_defaults().get(acc.family)
            if cited is None:
                raise ConfigError(f"no cited MFU for the {acc.family} family ({acc.key}): give --mfu (e.g. 0.4)")
            mfu, mfu_lo, mfu_hi = cited.value, cited.low or cited.value, cited.high or cited.value
            note = ("; serving is charged at training-like utilization: small-batch decoding reaches far less, "
                    "so measure it with `mlfootprint track`") if w.inference else ""
            assume("mfu", mfu, "fraction", f"{acc.family} default (range {mfu_lo:g}-{mfu_hi:g}): {cited.source}{note}")
        hours = (flops / (peak * mfu) / 3600, flops / (peak * mfu_hi) / 3600, flops / (peak * mfu_lo) / 3600)

    if w.power_w is not None:
        power_w, power_source = w.power_w, "given"
    elif acc is not None and acc.tdp_w is not None:
        power_w, power_source = acc.tdp_w, f"{acc.name} {RATED_POWER_SOURCE}: {acc.source}"
    else:
        what = f"no published TDP for {acc.key}" if acc else "no --hardware"
        raise ConfigError(f"{what}: give --power-w (average watts per accelerator)")
    assume("power_w_per_accelerator", power_w, "W", power_source)
    assume("host_w_per_accelerator", w.host_w, "W", "given" if w.host_w else
           "host CPUs, memory and network not included (as in the published BLOOM and LLaMA figures); add --host-w")

    count = w.count or 1
    if w.count:
        assume("accelerators", w.count, "", "given")
    per_hour_j = (power_w + w.host_w) * 3600
    energy = tuple(h * per_hour_j for h in hours)
    wall = tuple(h / count * 3600 for h in hours)
    return _result(w, acc, place, assumptions, flops, hours, energy, wall)  # type: ignore[arg-type]


def _result(w: Workload, acc: Any, place: Place, assumptions: list[dict[str, Any]], flops: float | None,
            hours: tuple[float, float, float], energy: tuple[float, float, float],
            wall: tuple[float, float, float], serving: dict[str, Any] | None = None) -> dict[str, Any]:
    count = w.count or 1
    name = acc.name if acc else "accelerator"
    items = [accelerator_item(acc, name, count), server_share_for_accelerators(count)]
    result = assess(Range(*energy), Range(*wall), place, items, "estimated")
    return {
        "label": w.label,
        "workload": "inference" if w.inference else "training",
        "hardware": acc.key if acc else None,
        "accelerators": w.count,
        "params": w.params,
        "tokens": w.tokens,
        "flops": flops,
        "accelerator_hours": hours[0],
        "accelerator_hours_range": [hours[1], hours[2]],
        "wall_time_s": wall[0] if w.count else None,
        "serving": serving,
        "energy_j": energy[0],
        "energy_kwh": energy[0] / J_PER_KWH,
        "facility_energy_j": result.facility_energy_j.value,
        "co2e_kg": result.co2e_operational_kg.value,
        "co2e_embodied_kg": result.co2e_embodied_kg.value,
        "co2e_total_kg": result.co2e_total_kg.value,
        "water_l": result.water_l.value,
        "electricity_cost": result.electricity_cost,
        "assumptions": assumptions,
        "impact": result,
    }


def _serving(w: Workload, acc: Any, place: Place, assumptions: list[dict[str, Any]], assume: Any) -> dict[str, Any]:
    """Inference from the decode roofline (estimate/inference.py): energy per output token x tokens."""
    from . import inference

    if w.params is None or w.tokens is None:
        raise ConfigError("give --params (or --model) and the tokens to generate (--tokens-per-request and --requests)")
    if acc is None:
        raise ConfigError("give --hardware (e.g. h100-sxm) to estimate serving")
    model = inference.Model(w.params, w.active_params, w.layers, w.d_model, w.kv_dim, w.expert_share)
    per_request = w.output_tokens or w.tokens
    serving = inference.Serving(w.batch or inference.DEFAULT_BATCH, w.prompt_tokens or 0.0, per_request, w.count,
                                w.precision)
    cal = inference.calibration()
    st = inference.step(model, acc, serving, cal, w.power_w)  # given watts replace the fitted share of TDP
    w = replace(w, count=st.accelerators)
    lo, hi = math.exp(cal.log_error_low), math.exp(cal.log_error_high)
    moe_note = "" if not w.active_params else (
        f"; {w.expert_share:.3g} of the routed experts per token" if w.expert_share else
        "; no --expert-share: every parameter counted as routed (reads more at small batch)")
    assume("model", f"{w.params / 1e9:.3g}B" + (f", {w.active_params / 1e9:.3g}B active" if w.active_params else "")
           + f"; {w.layers} layers, d {w.d_model}, KV {w.kv_dim or w.d_model}", "", ("given" if w.kv_dim else
           "given; no --kv-dim: keys/values as wide as d_model (no grouped-query attention), an upper bound")
           + moe_note)
    assume("accelerators", st.accelerators, "", "given" if serving.accelerators else
           f"fewest (1, 2, 4, ...) whose memory holds the {w.precision} weights in {inference.WEIGHTS_MAX_SHARE:.0%} "
           "of it, leaving room for the KV cache")
    assume("batch", st.batch, "sequences", ("; ".join(st.notes) if st.notes else
           "given" if w.batch else f"default {inference.DEFAULT_BATCH} concurrent sequences: pass --batch"))
    assume("prompt_tokens", serving.prompt_tokens, "per request", "given" if w.prompt_tokens is not None else
           "not given: prefill and the prompt's KV cache are not counted; pass --prompt-tokens")
    assume("bound", f"{1 - st.compute_share:.0%} memory, {st.compute_share:.0%} compute", "of a decode step",
           f"{acc.name}: {acc.memory_tb_s:g} TB/s, {acc.memory_gb:g} GB, dense {w.precision} peak: {acc.source}")
    assume("tokens_per_s", round(st.tokens_per_s, 1), "tokens/s", inference.source(w.power_w is not None))
    assume("power_w", round(st.power_w, 1), "W, all accelerators", "given (per accelerator)" if w.power_w is not None
           else f"{acc.name} TDP {acc.tdp_w:g} W x fitted share (see tokens_per_s)")
    assume("energy_per_token_j", round(st.energy_j_per_token, 4), "J per output token",
           f"range {st.energy_j_per_token * lo:.3g}-{st.energy_j_per_token * hi:.3g}")
    assume("host_w_per_accelerator", w.host_w, "W", "given" if w.host_w else
           "host CPUs, memory and network not included (ML.ENERGY's measurements are GPU energy); add --host-w")
    seconds = w.tokens / st.tokens_per_s
    hours_acc = seconds * st.accelerators / 3600
    hours = (hours_acc, hours_acc * lo, hours_acc * hi)
    host_j = w.host_w * st.accelerators * seconds
    e = w.tokens * st.energy_j_per_token + host_j
    energy = (e, w.tokens * st.energy_j_per_token * lo + host_j * lo, w.tokens * st.energy_j_per_token * hi + host_j * hi)
    wall = (seconds, seconds * lo, seconds * hi)
    detail = {"accelerators": st.accelerators, "batch": st.batch, "batch_capped": st.batch_capped,
              "tokens_per_s": st.tokens_per_s, "power_w": st.power_w, "energy_j_per_token": st.energy_j_per_token,
              "energy_j_per_token_range": [st.energy_j_per_token * lo, st.energy_j_per_token * hi],
              "compute_share": st.compute_share, "context_tokens": st.context_tokens,
              "requests": w.tokens / per_request, "energy_j_per_request": e / (w.tokens / per_request),
              "notes": st.notes, "source": inference.source(w.power_w is not None)}
    return _result(w, acc, place, assumptions, None, hours, energy, wall, detail)
