"""Published specifications of well-known models (data/models.csv), for `estimate --model`."""

from __future__ import annotations

from dataclasses import dataclass
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


@lru_cache(maxsize=1)
def catalogue() -> dict[str, ModelSpec]:
    def opt_int(text: str) -> int | None:
        return int(float(text)) if text.strip() else None

    return {r["key"]: ModelSpec(r["key"], r["name"], float(r["params"]), number(r["active_params"]), number(r["tokens"]),
                                r["hardware"] or None, opt_int(r["accelerators"]), number(r["hours"]),
                                opt_int(r["layers"]), opt_int(r["d_model"]), opt_int(r["seq_len"]), r["source"])
            for r in rows("models.csv")}


def get(key: str) -> ModelSpec:
    norm = key.strip().lower().replace("_", "-").replace(" ", "-")
    table = catalogue()
    if norm not in table:
        raise ConfigError(f"unknown model {key!r}: known models are {', '.join(table)}")
    return table[norm]
