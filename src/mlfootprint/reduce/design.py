"""What an experiment asks and how sure it must be: the settings its verdicts are judged by.

One frozen value, shared by the scheduler (experiment.py) and the verdicts (result.py), so neither
needs the other: the experiment runs trials and hands them over; the verdicts read this and the trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .stats import DEFAULT_ERROR_RATE, per_look_error_rate

DEFAULT_MIN_SAVING = 0.02  # about the run-to-run spread measured on shared VMs: smaller changes are not acted on
DEFAULT_TOLERANCE = 0.01  # the quality a recommendation may lose, per target metric (1 point of accuracy)
DEFAULT_MIN_REPEATS = 3  # the first look: with fewer rounds the noise is not known well enough for an interval
DEFAULT_MAX_REPEATS = 10


@dataclass(frozen=True)
class Design:
    """`target`: quality to reach, e.g. {"accuracy": 0.95}; `tolerance`: the largest quality loss a
    recommendation may accept; `min_saving`: changes within ±this are "no change"; `error_rate`: the
    chance, per strategy, that a verdict's interval misses the true change (stats.py);
    `min_repeats`/`max_repeats`: the first and the last round a strategy may stop at; `reruns`: extra
    rounds allowed to replace rounds spoiled by other processes' load."""

    target: dict[str, float] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)
    min_saving: float = DEFAULT_MIN_SAVING
    error_rate: float = DEFAULT_ERROR_RATE
    min_repeats: int = DEFAULT_MIN_REPEATS
    max_repeats: int = DEFAULT_MAX_REPEATS
    reruns: int = 2
    interval_s: float = 0.25
    max_other_cores: float = 0.15
    measures_inference: bool = False  # a predict function was given

    def __post_init__(self) -> None:
        if self.max_repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.max_repeats}")
        if not 0 < self.min_saving < 1:
            raise ValueError(f"min_saving must be between 0 and 1, got {self.min_saving!r}")
        if not 0 < self.error_rate < 1:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate!r}")
        if self.min_repeats < 2:
            raise ValueError(f"min_repeats must be at least 2 (an interval needs a spread), got {self.min_repeats}")
        for name, value in {**self.target, **self.tolerance}.items():
            if not math.isfinite(value):
                raise ValueError(f"{name}={value!r}: target and tolerance values must be finite numbers")

    @property
    def first_look(self) -> int:
        """The round of the first look (never after the last round)."""
        return min(self.min_repeats, self.max_repeats)

    @property
    def look_error_rate(self) -> float:
        """The error rate each look spends (Bonferroni over the looks at rounds first_look..max_repeats)."""
        return per_look_error_rate(self.error_rate, self.first_look, self.max_repeats)

    def tolerance_for(self, metric: str) -> float:
        return self.tolerance.get(metric, DEFAULT_TOLERANCE)

    def metric(self, available: list[str]) -> str | None:
        """The quality metric verdicts judge: the target's first, else the first the baseline reports."""
        if self.target:
            return next(iter(self.target))
        return sorted(available)[0] if available else None


__all__ = ["DEFAULT_MAX_REPEATS", "DEFAULT_MIN_REPEATS", "DEFAULT_MIN_SAVING", "DEFAULT_TOLERANCE", "Design"]
