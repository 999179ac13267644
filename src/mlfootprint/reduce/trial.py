"""One measured trial: a strategy applied to the user's training, in one round of the experiment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class Trial:
    """What one trial measured. `status`: ok (ran to the end), skipped (the strategy cannot run here,
    or the budget was spent) or failed (the user's code raised under the strategy). Whether other
    processes' load spoiled it is judged later, against the load the whole experiment saw
    (interference.py), from `other_load_cores` and `foreign_gpu_pids`."""

    strategy: str
    kind: str
    repeat: int  # the round (0, 1, ...): trials of one round are paired with the baseline's trial of it
    status: Status = "ok"
    reason: str | None = None
    run_id: str | None = None
    energy_j: float = 0.0  # training, evaluations excluded
    duration_s: float = 0.0
    co2e_kg: float = 0.0
    methods: tuple[str, ...] = ()  # how the energy was obtained (measured, modelled)
    energy_to_target_j: float | None = None
    epochs_to_target: int | None = None
    epochs: int = 0
    quality: dict[str, float] = field(default_factory=dict)  # final, after any post-training change
    quality_before_change: dict[str, float] = field(default_factory=dict)
    inference_j_per_1000: float | None = None
    predictions: int = 0
    other_load_cores: float | None = None  # others' mean CPU load during the trial, in cores
    foreign_gpu_pids: tuple[int, ...] = ()  # other processes on a GPU the trial used
    pue: float | None = None  # the PUE the trial's run was costed with (re-costing elsewhere uses it)
    settings: dict[str, str] = field(default_factory=dict)  # what the setup chose, e.g. {"optimizer": "sgd", "lr": ...}

    @property
    def ran(self) -> bool:
        return self.status == "ok"


__all__ = ["Status", "Trial"]
