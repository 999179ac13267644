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

    for name in ("params", "tokens", "active_params", "accelerator_hours", "power_w"):
        positive(name.replace("_", "-"), getattr(w, name))
    for name in ("layers", "d_model", "seq_len"):
        v = getattr(w, name)
        if v is not None and v < 1:
            raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {v}")
    if w.count is not None and w.count < 1:
        raise ConfigError(f"count must be at least 1 accelerator, got {w.count}")
    if not (math.isfinite(w.host_w) and w.host_w >= 0):
        raise ConfigError(f"host-w must be a finite number >= 0, got {w.host_w:g}")
    if w.mfu is not None and not 0 < w.mfu <= 1:
        raise ConfigError(f"MFU must be in (0, 1], the fraction of peak FLOP/s a run achieves; got {w.mfu:g}")
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
    name = acc.name if acc else "accelerator"
    items = [accelerator_item(acc, name, count), server_share_for_accelerators(count)]
    result = assess(energy, wall, place, items, "estimated")  # type: ignore[arg-type]
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
        "energy_j": energy[0],
        "energy_kwh": energy[0] / J_PER_KWH,
        "facility_energy_j": result["facility_energy_j"]["value"],
        "co2e_kg": result["co2e_operational_kg"]["value"],
        "co2e_embodied_kg": result["co2e_embodied_kg"]["value"],
        "co2e_total_kg": result["co2e_total_kg"]["value"],
        "water_l": result["water_l"]["value"],
        "electricity_cost": result["electricity_cost"],
        "assumptions": assumptions,
        "impact": result,
    }
