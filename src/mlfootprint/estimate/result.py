"""The typed result of an estimate, whose JSON (shapes.to_json) is what `mlfootprint estimate --json` prints.

Why frozen dataclasses: the keys ("energy_j", "accelerator_hours", ...) are spelled once, as field names
here, and every consumer (the CLI, the report, `serve`'s estimate beside its measurement, a Python user)
reads attributes that mypy checks. The field order is the JSON's key order.

Every figure carries its range and how sure it is: `range` says the range's nominal level (the share of
new cases it is meant to hold), how it was made, and which inputs widened it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..impact import Figure, Impact
from ..shapes import to_json


@dataclass(frozen=True)
class Assumption:
    """A number the estimate used, with where it came from."""

    name: str
    value: float | str
    unit: str
    source: str


@dataclass(frozen=True)
class RangeNote:
    """How the printed ranges were made: `level` is their nominal coverage (None where no level can be
    claimed: a given MFU, papers' MFU spreads, published hours), `widened_by` the inputs that made them wider."""

    level: float | None
    source: str
    widened_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServingFigures:
    """A serving estimate's decode figures (estimate/inference.py)."""

    accelerators: int
    batch: int
    batch_capped: bool
    tokens_per_s: float
    power_w: float
    energy_j_per_token: float
    energy_j_per_token_range: tuple[float, float]
    compute_share: float
    context_tokens: float
    requests: float
    energy_j_per_request: float
    notes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class FromSize:
    """A catalogue model's hours re-estimated from its parameters and tokens alone, beside the published ones."""

    accelerator_hours: float
    range: tuple[float, float]
    co2e_kg: float
    hours_difference: float | None
    co2e_difference: float | None
    range_note: RangeNote | None = None  # the level of `range` and what widened it


@dataclass(frozen=True)
class PublishedComparison:
    """What a catalogue model's publication states, and how far the estimate is from it."""

    accelerator_hours: float | None
    co2e_kg: float | None
    energy_j: float | None
    source: str
    from_params_and_tokens: FromSize | None
    co2e_difference: float | None
    place_published: bool


@dataclass(frozen=True)
class Estimate:
    """The footprint of a run that has not happened (or of a catalogue model as published)."""

    label: str | None
    workload: str  # "training" | "inference"
    hardware: str | None
    accelerators: int | None
    params: float | None
    tokens: float | None
    flops: float | None
    accelerator_hours: float
    accelerator_hours_range: tuple[float, float]
    wall_time_s: float | None
    serving: ServingFigures | None
    energy_j: float
    energy_kwh: float
    facility_energy_j: float
    co2e_kg: float
    co2e_embodied_kg: float
    co2e_total_kg: float
    water_l: float
    electricity_cost: Figure | None
    assumptions: tuple[Assumption, ...]
    impact: Impact
    range: RangeNote

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data


@dataclass(frozen=True)
class PublishedEstimate(Estimate):
    """An estimate of a catalogue model, with its source and its published figures beside it."""

    model_source: str | None = None
    published: PublishedComparison | None = None


__all__ = ["Assumption", "Estimate", "FromSize", "PublishedComparison", "PublishedEstimate", "RangeNote",
           "ServingFigures"]
