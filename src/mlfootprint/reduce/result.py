"""What an experiment found: per-strategy figures and verdicts, notes on trust, a recommendation.

Pure, frozen values, built from the trials and the design by summary.py: no terminal, no plot, no
settings read (the table is report/reduce_view.py, the Pareto plot report/pareto.py).

`StrategyReport` is one row of `mlfootprint reduce --json`: it keeps the keys that command always
printed (strategy ... verdict) and adds the verdict's decision, basis, interval and rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ranges import Range
from ..shapes import to_json
from .design import Design
from .strategies import Strategy, combine
from .trial import Trial


@dataclass(frozen=True)
class StrategyReport:
    """One strategy's figures (medians over the repeats used) and its verdict against the baseline."""

    strategy: str
    kind: str = "training"
    repeats: int = 0  # trials the figures come from
    energy_j: float | None = None
    energy_sd_j: float = 0.0  # spread of the repeats (shown beside the median; verdicts use paired rounds)
    energy_to_target_j: float | None = None  # only when every repeat reached the target
    reached_target: int = 0
    epochs_to_target: float | None = None
    epochs: float | None = None
    duration_s: float | None = None
    co2e_kg: float | None = None
    quality: dict[str, float] = field(default_factory=dict)
    inference_j_per_1000: float | None = None
    inference_sd: float = 0.0
    methods: tuple[str, ...] = ()
    reason: str | None = None  # why there is no figure (skipped, failed)
    intensity_note: str | None = None  # a placement: the grid it is costed at
    contaminated: int = 0  # rounds the verdict compares whose two trials saw different load (when too few others)
    change: float | None = None  # the relative change the verdict rests on (geometric mean of the round ratios - 1)
    recommended: bool = False
    verdict: str = ""
    decision: str = "undecided"  # reference, saves, costs more, no change, undecided, quality loss, skipped, failed
    basis: str | None = None  # what the change compares, e.g. "training energy"
    change_range: Range | None = None  # the change with its interval (the plot's error bar)
    rounds: int = 0  # rounds paired with the baseline's
    rounds_needed: int | None = None  # rounds in all that would settle an undecided verdict at the noise seen
    quality_change: float | None = None  # mean paired change of the judged metric
    min_saving: float | None = None  # the band the verdict was judged against
    settings: dict[str, str] = field(default_factory=dict)  # what the setup chose where it differs from the baseline's


@dataclass(frozen=True)
class Result:
    design: Design
    strategies: tuple[Strategy, ...]
    trials: tuple[Trial, ...]
    reports: tuple[StrategyReport, ...]
    notes: tuple[str, ...] = ()
    floor_cores: float = 0.0  # the load other processes kept on the machine throughout

    # -- reading -------------------------------------------------------------------------------
    @property
    def summaries(self) -> dict[str, StrategyReport]:
        return {r.strategy: r for r in self.reports}

    def report(self, name: str) -> StrategyReport:
        for r in self.reports:
            if r.strategy == name:
                return r
        raise KeyError(name)

    def verdict(self, name: str) -> tuple[bool, str]:
        """(recommended, the reason in plain words) for one strategy."""
        r = self.report(name)
        return r.recommended, r.verdict

    def change(self, name: str) -> float | None:
        """The relative change against the baseline the verdict rests on; None for the baseline."""
        return self.report(name).change

    @property
    def metric(self) -> str | None:
        base = self.summaries.get("baseline")
        return self.design.metric(sorted(base.quality) if base else [])

    def records(self) -> list[dict[str, Any]]:
        """The rows of `reduce --json`, cheapest training energy first."""
        rows = sorted(self.reports, key=lambda r: (r.energy_j is None, r.energy_j or 0.0))
        return [to_json(r) for r in rows]

    # -- advice --------------------------------------------------------------------------------
    def recommendation(self) -> str:
        good = sorted((r for r in self.reports if r.recommended), key=lambda r: r.change or 0.0)
        open_ = [r for r in self.reports if r.decision == "undecided"]
        if not good:
            text = "No change is recommended: none saved energy beyond ±{:g}% within the quality tolerance".format(
                self.design.min_saving * 100)
            if open_:
                text += (f" ({len(open_)} undecided: {', '.join(r.strategy for r in open_)}; their verdicts say what "
                         "would settle them)")
            return text + ". Details per strategy are in the table."
        lines = ["Recommended on this workload:"]
        lines += [f"  {r.strategy}: {r.verdict}" for r in good]
        combo = self.best_combination()
        if combo is not None:
            lines.append(f"  Next: measure them together, e.g. combine({combo.name.replace(' + ', ', ')}); "
                         "savings need not add up.")
        return "\n".join(lines)

    def best_combination(self) -> Strategy | None:
        """The best recommended training-side strategy with the best one that changes something else
        (bf16 and fp16 both set the precision: they are never paired)."""
        by_name = {s.name: s for s in self.strategies}
        good = sorted((r for r in self.reports if r.recommended and r.kind != "inference" and r.intensity_note is None
                       and r.strategy in by_name), key=lambda r: r.change or 0.0)
        if not good:
            return None
        first = by_name[good[0].strategy]
        partner = next((by_name[r.strategy] for r in good[1:] if not by_name[r.strategy].knobs() & first.knobs()), None)
        return combine(first, partner) if partner is not None else None


__all__ = ["Result", "StrategyReport"]
