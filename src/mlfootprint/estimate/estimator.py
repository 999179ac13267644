"""Workload -> FLOPs or decode steps -> accelerator-hours -> energy -> the same impact model as measured runs.

Every number the estimate uses is returned as an assumption with its source, so a reader can see (and
override) what drove the result. Nothing here is tuned per model: the utilization depends on the hardware
family, the model's size and how it was trained; the power on the datasheet.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .. import hardware
from ..constants import J_PER_KWH
from ..embodied import accelerator_item, server_share_for_accelerators
from ..errors import ConfigError
from ..hardware import Accelerator
from ..impact import Place, assess
from ..ranges import Range
from . import inference
from .flops import inference_flops, training_flops
from .result import Assumption, Estimate, RangeNote, ServingFigures
from .workload import HoursWorkload, ServingWorkload, TrainingWorkload, Workload, check

RATED_POWER_SOURCE = ("datasheet TDP; accelerators taken at rated power over the run, as the published BLOOM "
                      "(Luccioni et al. 2022) and LLaMA (Touvron et al. 2023) footprints do")
Triple = tuple[float, float, float]  # value, low, high


class _Assumptions(list[Assumption]):
    def add(self, name: str, value: float | str, unit: str, source: str) -> None:
        self.append(Assumption(name, value, unit, source))


def estimate(w: Workload, place: Place) -> Estimate:
    """The footprint of workload `w` run at `place`: accelerator-hours, energy and impact, with every
    assumption and the range's nominal level."""
    if isinstance(w, (TrainingWorkload, ServingWorkload)) and w.precision == "fp16":
        w = replace(w, precision="bf16")  # the catalogue's half-precision column holds bf16, or fp16 where there is no bf16
    check(w)
    if isinstance(w, ServingWorkload):
        return _serving(w, place)
    acc = hardware.get(w.hardware) if w.hardware else None
    notes = _Assumptions()
    flops = None
    if isinstance(w, HoursWorkload):
        hours: Triple = (w.accelerator_hours, w.accelerator_hours, w.accelerator_hours)
        notes.add("accelerator_hours", w.accelerator_hours, "h", "given")
        rng = RangeNote(None, "accelerator-hours given: the energy range comes from the place only")
    else:
        assert acc is not None
        flops, hours, rng = _hours_from_flops(w, acc, notes)
    power_w = _power(w.power_w, acc, notes)
    notes.add("host_w_per_accelerator", w.host_w, "W", "given" if w.host_w else
              "host CPUs, memory and network not included (as in the published BLOOM and LLaMA figures); add --host-w")
    if w.count:
        notes.add("accelerators", w.count, "", "given")
    per_hour_j = (power_w + w.host_w) * 3600
    energy = (hours[0] * per_hour_j, hours[1] * per_hour_j, hours[2] * per_hour_j)
    count = w.count or 1
    wall = (hours[0] / count * 3600, hours[1] / count * 3600, hours[2] / count * 3600)
    return _result(w, acc, place, notes, flops, hours, energy, wall, rng, None)


def _hours_from_flops(w: TrainingWorkload, acc: Accelerator, notes: _Assumptions) -> tuple[float, Triple, RangeNote]:
    count_fn = inference_flops if w.inference else training_flops
    extra = {"context": w.seq_len} if w.inference else {"seq_len": w.seq_len}
    flops = count_fn(w.params, w.tokens, active_params=w.active_params, layers=w.layers, d_model=w.d_model, **extra)
    notes.add("flops", flops, "FLOP", ("2 x active params x tokens" if w.inference else "6 x active params x tokens")
              + (" + attention term" if w.layers and w.d_model and w.seq_len else "") + " (see estimate/flops.py)")
    fitted = w.mfu is None and w.utilization == "effective"
    if fitted and w.inference:
        raise ConfigError("the effective utilization is fitted to training runs: for serving give the model's shape "
                          "(the decode roofline), or --mfu or --utilization peak for the FLOPs-only model")
    lacking = w.precision if acc.peak_flops(w.precision) is None else (
        "bf16" if fitted and acc.peak_flops("bf16") is None else None)  # the fitted utilization is against bf16
    if lacking:
        have = [p for p in hardware.PRECISIONS if acc.peak_flops(p)]
        raise ConfigError(f"no published dense {lacking} peak for {acc.key}: use --precision "
                          f"{' or '.join(have) or '?'} with --utilization peak or --mfu, or give --accelerator-hours")
    precision = "bf16" if fitted else w.precision
    peak = acc.peak_flops(precision) or math.nan
    note = ("; the fitted utilization is measured against the bf16 peak, so an fp8 run is charged the measured FP8 "
            "gain instead of the fp8 peak" if fitted and w.precision == "fp8" else "")
    notes.add("peak_flops_per_s", peak, "FLOP/s", f"{acc.name}, dense {precision}: {acc.source}{note}")
    if w.mfu is not None:
        mfu = (w.mfu, w.mfu, w.mfu)
        notes.add("mfu", w.mfu, "fraction", "given")
        rng = RangeNote(None, "MFU given: no range on the utilization")
    elif fitted:
        from .utilization import FP8_GAIN_SOURCE, effective_utilization, fp8_gain

        fp8 = w.precision == "fp8"
        eff = effective_utilization(acc.family, w.active_params or w.params, fp8=fp8,
                                    moe=bool(w.active_params and w.active_params < w.params))
        mfu = (eff.value, eff.low, eff.high)
        if fp8:
            gain, lo, hi = fp8_gain()
            notes.add("fp8_training_gain", round(gain, 3), "x", f"measured {lo:.2f}-{hi:.2f}: {FP8_GAIN_SOURCE}")
        notes.add("utilization", round(eff.value, 4), "fraction",
                  f"{eff.source}; range {eff.low:.3g}-{eff.high:.3g} ({eff.level:.0%})")
        rng = RangeNote(eff.level, "the utilization's range: " + eff.source, eff.widened_by)
    else:
        cited = hardware.mfu_defaults().get(acc.family)
        if cited is None:
            raise ConfigError(f"no cited MFU for the {acc.family} family ({acc.key}): give --mfu (e.g. 0.4)")
        mfu = (cited.value, cited.low or cited.value, cited.high or cited.value)
        serving_note = ("; serving is charged at training-like utilization: small-batch decoding reaches far less, "
                        "so measure it with `mlfootprint track`") if w.inference else ""
        notes.add("mfu", mfu[0], "fraction", f"{acc.family} default (range {mfu[1]:g}-{mfu[2]:g}): {cited.source}"
                  f"{serving_note}")
        rng = RangeNote(None, "the papers' spread of steady-state MFU (data/mfu.csv): no calibrated level; "
                              "published runs took more hours than it implies")
    hours = (flops / (peak * mfu[0]) / 3600, flops / (peak * mfu[2]) / 3600, flops / (peak * mfu[1]) / 3600)
    return flops, hours, rng


def _power(given: float | None, acc: Accelerator | None, notes: _Assumptions) -> float:
    if given is not None:
        power_w, source = given, "given"
    elif acc is not None and acc.tdp_w is not None:
        power_w, source = acc.tdp_w, f"{acc.name} {RATED_POWER_SOURCE}: {acc.source}"
    else:
        what = f"no published TDP for {acc.key}" if acc else "no --hardware"
        raise ConfigError(f"{what}: give --power-w (average watts per accelerator)")
    notes.add("power_w_per_accelerator", power_w, "W", source)
    return power_w


def _result(w: Workload, acc: Accelerator | None, place: Place, notes: _Assumptions, flops: float | None,
            hours: Triple, energy: Triple, wall: Triple, rng: RangeNote, serving: ServingFigures | None) -> Estimate:
    count = w.count or (serving.accelerators if serving else None)
    name = acc.name if acc else "accelerator"
    items = [accelerator_item(acc, name, count or 1), server_share_for_accelerators(count or 1)]
    impact = assess(Range(*energy), Range(*wall), place, items, "estimated")
    inference_kind = isinstance(w, ServingWorkload) or getattr(w, "inference", False)
    params = w.model.params if isinstance(w, ServingWorkload) else w.params
    return Estimate(
        label=w.label, workload="inference" if inference_kind else "training", hardware=acc.key if acc else None,
        accelerators=count, params=params, tokens=w.tokens, flops=flops, accelerator_hours=hours[0],
        accelerator_hours_range=(hours[1], hours[2]), wall_time_s=wall[0] if count else None, serving=serving,
        energy_j=energy[0], energy_kwh=energy[0] / J_PER_KWH, facility_energy_j=impact.facility_energy_j.value,
        co2e_kg=impact.co2e_operational_kg.value, co2e_embodied_kg=impact.co2e_embodied_kg.value,
        co2e_total_kg=impact.co2e_total_kg.value, water_l=impact.water_l.value,
        electricity_cost=impact.electricity_cost, assumptions=tuple(notes), impact=impact,
        range=rng)


def _serving(w: ServingWorkload, place: Place) -> Estimate:
    """Inference from the decode roofline (estimate/inference.py): energy per output token x tokens."""
    acc = hardware.get(w.hardware)
    m = w.model
    per_request = w.tokens_per_request or w.tokens
    serving = inference.Serving(w.batch or inference.DEFAULT_BATCH, w.prompt_tokens or 0.0, per_request, w.count,
                                w.precision, w.expert_parallel, w.expert_precision)
    cal = inference.calibration()
    st = inference.step(m, acc, serving, cal, w.power_w)  # given watts replace the fitted share of TDP
    lo, hi = cal.error_range(m.moe)
    notes = _Assumptions()
    moe_note = "" if not m.moe else (
        f"; {m.expert_share:.3g} of the routed experts per token" if m.expert_share else
        "; no --expert-share: every parameter counted as routed (reads more at small batch)")
    if m.moe:
        moe_note += (f"; {m.experts} experts spread over the accelerators (expert parallelism)"
                     if w.expert_parallel and m.experts else
                     "; expert parallelism without --experts: reads taken as even" if w.expert_parallel else
                     "; each accelerator holds a slice of every expert (tensor parallelism)")
    width = f", attention {m.attention_width}" if m.attention_width else ""
    notes.add("model", f"{m.params / 1e9:.3g}B" + (f", {m.active_params / 1e9:.3g}B active" if m.active_params else "")
              + f"; {m.layers} layers, d {m.d_model}, KV {m.kv_dim or m.d_model}{width}", "",
              ("given" if m.kv_dim else "given; no --kv-dim: keys/values as wide as d_model (no grouped-query "
               "attention), an upper bound") + moe_note)
    notes.add("accelerators", st.accelerators, "", "given" if serving.accelerators else
              f"fewest (1, 2, 4, ...) whose memory holds the {w.precision} weights in {inference.WEIGHTS_MAX_SHARE:.0%} "
              "of it, leaving room for the KV cache")
    notes.add("batch", st.batch, "sequences", ("; ".join(st.notes) if st.notes else
              "given" if w.batch else f"default {inference.DEFAULT_BATCH} concurrent sequences: pass --batch"))
    notes.add("prompt_tokens", serving.prompt_tokens, "per request", "given" if w.prompt_tokens is not None else
              "not given: prefill and the prompt's KV cache are not counted; pass --prompt-tokens")
    notes.add("bound", f"{1 - st.compute_share:.0%} memory, {st.compute_share:.0%} compute", "of a decode step",
              f"{acc.name}: {acc.memory_tb_s:g} TB/s, {acc.memory_gb:g} GB, dense {w.precision} peak: {acc.source}")
    notes.add("tokens_per_s", round(st.tokens_per_s, 1), "tokens/s", inference.source(w.power_w is not None))
    notes.add("power_w", round(st.power_w, 1), "W, all accelerators", "given (per accelerator)"
              if w.power_w is not None else f"{acc.name} TDP {acc.tdp_w:g} W x fitted share (see tokens_per_s)")
    notes.add("energy_per_token_j", round(st.energy_j_per_token, 4), "J per output token",
              f"range {st.energy_j_per_token * lo:.3g}-{st.energy_j_per_token * hi:.3g} ({inference.LEVEL:.0%})")
    notes.add("host_w_per_accelerator", w.host_w, "W", "given" if w.host_w else
              "host CPUs, memory and network not included (ML.ENERGY's measurements are GPU energy); add --host-w")
    seconds = w.tokens / st.tokens_per_s
    acc_hours = seconds * st.accelerators / 3600
    hours = (acc_hours, acc_hours * lo, acc_hours * hi)
    host_j = w.host_w * st.accelerators * seconds
    gpu_j = w.tokens * st.energy_j_per_token
    energy = (gpu_j + host_j, (gpu_j + host_j) * lo, (gpu_j + host_j) * hi)
    wall = (seconds, seconds * lo, seconds * hi)
    requests = w.tokens / per_request
    figures_ = ServingFigures(st.accelerators, st.batch, st.batch_capped, st.tokens_per_s, st.power_w,
                              st.energy_j_per_token, (st.energy_j_per_token * lo, st.energy_j_per_token * hi),
                              st.compute_share, st.context_tokens, requests, energy[0] / requests, tuple(st.notes),
                              inference.source(w.power_w is not None))
    cls = inference.configuration_class(m.moe)
    widened = ("mixture of experts: one such model among the measurements that set the range, so the spread "
               f"between dense models is added to its own (x{lo:.2f}-x{hi:.2f})",) if m.moe else ()
    rng = RangeNote(inference.LEVEL, f"{inference.LEVEL:.0%} of the out-of-sample errors of {cls} configurations "
                    "(ML.ENERGY measurements on H100 and B200 the fit never read)", widened)
    return _result(replace(w, count=st.accelerators), acc, place, notes, None, hours, energy, wall, rng, figures_)
