"""Published specifications of well-known models, for `estimate --model` and `estimate.from_catalogue`.

data/models.csv holds models with their shapes (layers, d_model); every run of the published set
(data/published_training.csv, the runs the fitted utilization is calibrated on) is a model too, with the
place it ran in (PUE, grid intensity) and the footprint it published, so an estimate can show the
published figure beside it and their difference."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from ..errors import ConfigError
from ..data import number, rows


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str
    params: float
    active_params: float | None
    tokens: float | None
    hardware: str | None
    accelerators: int | None
    hours: float | None
    layers: int | None
    d_model: int | None
    seq_len: int | None
    source: str
    pue: float | None = None  # where it ran, as published
    intensity_g_per_kwh: float | None = None
    published_co2e_kg: float | None = None
    published_energy_j: float | None = None
    power_w: float | None = None  # per accelerator, as published (measured or the TDP they charged)
    kv_dim: int | None = None  # key/value heads x head dim: sizes a serving estimate's KV cache
    expert_share: float | None = None  # mixture of experts: routed experts per token / routed experts
    experts: int | None = None  # mixture of experts: routed experts per layer
    attention_width: int | None = None  # query heads x head dim, where it differs from d_model
    training_precision: str | None = None  # fp8 where the publication states FP8 training


def slug(name: str) -> str:
    """'Llama 3.1 405B' -> 'llama-3.1-405b'."""
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


@lru_cache(maxsize=1)
def catalogue() -> dict[str, ModelSpec]:
    def opt_int(text: str) -> int | None:
        return int(float(text)) if text.strip() else None

    table = {r["key"]: ModelSpec(r["key"], r["name"], float(r["params"]), number(r["active_params"]),
                                 number(r["tokens"]), r["hardware"] or None, opt_int(r["accelerators"]),
                                 number(r["hours"]), opt_int(r["layers"]), opt_int(r["d_model"]), opt_int(r["seq_len"]),
                                 r["source"], kv_dim=opt_int(r["kv_dim"]), expert_share=number(r["expert_share"]),
                                 experts=opt_int(r["experts"]), attention_width=opt_int(r["attention_width"]))
             for r in rows("models.csv")}
    by_name = {spec.name: key for key, spec in table.items()}
    for r in rows("published_training.csv"):
        intensity = number(r["intensity_kg_per_kwh"])
        energy = number(r["energy_mwh"])
        key = by_name.get(r["model"], slug(r["model"]))
        spec = table.get(key) or ModelSpec(key, r["model"], float(r["params"]), number(r["active_params"]),
                                           number(r["tokens"]), r["hardware"] or None, opt_int(r["accelerators"]),
                                           number(r["accelerator_hours"]), None, None, None, r["source"])
        table[key] = replace(spec, pue=number(r["pue"]), intensity_g_per_kwh=intensity * 1000 if intensity else None,
                             published_co2e_kg=(number(r["co2e_t"]) or 0) * 1000 or None,
                             published_energy_j=energy * 3.6e9 if energy else None,
                             power_w=number(r["power_w_per_accelerator"]),
                             training_precision=r["training_precision"] or None)
    return table


def get(key: str) -> ModelSpec:
    norm = key.strip().lower().replace("_", "-").replace(" ", "-")
    table = catalogue()
    if norm not in table:
        raise ConfigError(f"unknown model {key!r}: known models are {', '.join(table)}")
    return table[norm]
