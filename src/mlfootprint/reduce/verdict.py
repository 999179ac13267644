"""The verdict on one strategy: the paired change against the baseline, its interval, and what to do.

The policy, in the order it is applied:

* quality first: a strategy whose mean quality change over the paired rounds is a loss beyond the
  tolerance is refused, whatever it saves ("quality loss"). The tolerance is the user's margin, so it
  is applied to the mean change, as soon as the first look is due;
* then the energy, from the interval on the paired per-round log-ratio (stats.py): wholly below the
  -min_saving line, a saving (recommended); wholly above +min_saving, a cost; wholly inside the band,
  no change worth having; across a line, undecided, and the text says how many rounds at the observed
  noise would settle it.

The numbers in the text are the numbers the decision used, and the plot draws the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..ranges import Range
from .design import Design
from .stats import MAX_ROUNDS_SUGGESTED, Band, differences, log_ratios, mean_interval, rounds_to_settle, side

Decision = Literal["reference", "saves", "costs more", "no change", "undecided", "quality loss", "skipped",
                   "failed", "no baseline"]
SETTLED: frozenset[str] = frozenset({"reference", "saves", "costs more", "no change", "quality loss", "skipped",
                                     "failed", "no baseline"})

@dataclass(frozen=True)
class Verdict:
    decision: Decision
    recommended: bool
    text: str
    basis: str | None = None  # what was compared, e.g. "training energy"
    rounds: int = 0  # rounds paired with the baseline
    change: float | None = None  # relative change: the geometric mean of the round ratios - 1
    change_range: Range | None = None  # the change with its interval, once there are rounds enough for one
    rounds_needed: int | None = None  # rounds in all that would settle an undecided verdict at the noise seen
    quality_change: float | None = None  # mean paired change of the judged metric

    @property
    def settled(self) -> bool:
        """No more rounds can change it (undecided is the only open verdict)."""
        return self.decision in SETTLED


def pct(x: float) -> str:
    """A relative change as a signed percentage: one decimal near the ±2 % line, none beyond 10 %."""
    return f"{x * 100:+.1f}%" if abs(x) < 0.095 else f"{x * 100:+.0f}%"


def _change_text(change: Range | None, basis: str, rounds: int, design: Design, point: float | None) -> str:
    if change is None:
        head = f"{pct(point)} {basis}" if point is not None else f"no {basis} to compare"
        return f"{head} ({rounds} round{'s' if rounds != 1 else ''}: an interval needs {design.first_look} or more)"
    return f"{pct(change.value)} {basis} (interval {pct(change.low)} to {pct(change.high)}, {rounds} rounds)"


def judge_energy(mine: dict[int, float], reference: dict[int, float], basis: str,
                 quality: tuple[dict[int, float], dict[int, float]] | None, metric: str | None, design: Design, *,
                 last_round: bool, short_trials: bool = False) -> Verdict:
    """The verdict from per-round figures (round -> energy) of a strategy and the baseline, and the
    per-round quality of both for the metric judged. `last_round`: no more rounds will run, so an
    open question gets the advice that would settle it."""
    ratios = log_ratios(mine, reference)
    n = len(ratios)
    if n == 0:
        return Verdict("undecided", False, f"no round with {basis} from both the strategy and the baseline", basis)
    log_interval = mean_interval(ratios, design.look_error_rate) if n >= design.first_look else None
    point = math.expm1(sum(ratios) / n)
    interval = None if log_interval is None else Range(point, math.expm1(log_interval.low),
                                                       math.expm1(log_interval.high))
    text = _change_text(interval, basis, n, design, point)
    quality_change: float | None = None
    tolerance = design.tolerance_for(metric or "")
    deltas = differences(*quality) if quality is not None and metric else []
    if deltas:
        quality_change = sum(deltas) / len(deltas)
        text += f", {quality_change * 100:+.1f} pt {metric}"
    quality_lost = quality_change is not None and quality_change < -tolerance - 1e-9  # float noise is no loss
    verdict = Verdict("undecided", False, text, basis, n, point, interval, None, quality_change)
    if quality_lost and (log_interval is not None or last_round):  # the user's margin, on the mean change
        return _with(verdict, "quality loss", f"{text} — quality loss beyond the {tolerance * 100:g} pt tolerance")
    band = Band.around_one(design.min_saving)
    where = side(log_interval, band) if log_interval is not None else "across"
    m = f"±{design.min_saving * 100:g}%"
    if where == "below":
        return _with(verdict, "saves", f"{text} — a saving beyond {m}", recommended=True)
    if where == "above":
        return _with(verdict, "costs more", f"{text} — costlier beyond {m}")
    if where == "inside":
        return _with(verdict, "no change", f"{text} — no change beyond {m}")
    needed = rounds_to_settle(ratios, band, design.error_rate, design.first_look, design.max_repeats)
    if n < 2:
        advice = f"the noise is not known from {n} round: run at least {design.first_look}"
    elif needed is None:
        advice = (f"more than {MAX_ROUNDS_SUGGESTED} rounds at the noise seen ({_sd(ratios) * 100:.1f}% per round) "
                  f"would be needed: the change is too close to a {m} line, or the trials too noisy, for more "
                  "rounds to settle it (longer trials, or another min_saving, would)")
    elif last_round:
        advice = (f"about {needed} rounds in all ({needed - n} more) at the noise seen "
                  f"({_sd(ratios) * 100:.1f}% per round) would settle it"
                  + (", or longer trials, whose figures are less noisy" if short_trials else ""))
    else:
        advice = f"about {needed - n} more round(s) at the noise seen"
    return Verdict("undecided", False, f"{text} — undecided: {advice}", basis, n, point, interval, needed,
                   quality_change)


def _sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _with(v: Verdict, decision: Decision, text: str, *, recommended: bool = False) -> Verdict:
    return Verdict(decision, recommended, text, v.basis, v.rounds, v.change, v.change_range, None, v.quality_change)


def judge_placement(co2e_kg: float, baseline_co2e_kg: float, note: str, design: Design) -> Verdict:
    """A placement changes no energy, only the grid: the CO2e ratio is exact for the same energy."""
    change = (co2e_kg - baseline_co2e_kg) / baseline_co2e_kg if baseline_co2e_kg else 0.0
    text = f"{pct(change)} CO2e for the same energy ({note})"
    exact = Range.exact(change)  # the same energy at another intensity: no noise between them
    if change <= -design.min_saving:
        return Verdict("saves", True, text, "CO2e", 0, change, exact)
    if change >= design.min_saving:
        return Verdict("costs more", False, text, "CO2e", 0, change, exact)
    return Verdict("no change", False, text, "CO2e", 0, change, exact)


__all__ = ["Decision", "SETTLED", "Verdict", "judge_energy", "judge_placement", "pct"]
