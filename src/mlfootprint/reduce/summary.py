"""Working out a result from the trials so far: each strategy's figures, its verdict, the notes.

Each strategy's figures are the median of the repeats used (one disturbed repeat cannot drag them):
its clean trials, or all that ran when none is clean. Its verdict compares the rounds whose two trials
(the strategy's and the baseline's) compare like with like (interference.py); only once no more
rounds will run, and too few such rounds are left for an interval, does it rest on the others, and
it says so. The experiment calls this after every round to see which verdicts are still open.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..impact import operational_co2e_kg
from .design import Design
from .interference import comparable, describe, floor_of, spoiled
from .result import Result, StrategyReport
from .strategies import Region, Strategy
from .trial import Trial
from .verdict import Verdict, judge_energy, judge_placement

TO_TARGET = "energy to reach"  # the basis of a verdict on energy to the target starts so

MIN_SAMPLES_PER_TRIAL = 10  # fewer sensor reads than this per trial: the note says to lengthen trials


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: Sequence[float]) -> float:
    """1.4826 x MAD from 5 repeats on (the sd for normal noise, deaf to one outlier), the sample sd below."""
    if len(values) < 2:
        return 0.0
    if len(values) < 5:
        return statistics.stdev(values)
    centre = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - centre) for v in values)


def summarize(design: Design, strategies: Sequence[Strategy], trials: Sequence[Trial], *,
              ambient_cores: float | None = None, last_round: bool = True, notes: Sequence[str] = ()) -> Result:
    """The result of the trials so far. `ambient_cores`: others' load measured before the trials
    (the floor starts there); `last_round`: False while the experiment may still run rounds."""
    floor = floor_of([ambient_cores, *(t.other_load_cores for t in trials if t.ran)])
    builder = _Builder(design, list(strategies), list(trials), floor, last_round)
    reports = tuple(builder.report(s) for s in strategies)
    return Result(design, tuple(strategies), tuple(trials), reports, tuple(builder.notes(reports)) + tuple(notes),
                  floor)


class _Builder:
    def __init__(self, design: Design, strategies: list[Strategy], trials: list[Trial], floor: float,
                 last_round: bool) -> None:
        self.design, self.strategies, self.trials, self.floor, self.last_round = (design, strategies, trials, floor,
                                                                                    last_round)
        self.short = self._short_trials()

    def clean(self, t: Trial) -> bool:
        return t.ran and not spoiled(t.other_load_cores, t.foreign_gpu_pids, self.floor, self.design.max_other_cores)

    def used(self, name: str) -> list[Trial]:
        """A strategy's trials that count for its figures: the clean ones, or all that ran if none is."""
        ran = [t for t in self.trials if t.strategy == name and t.ran]
        return [t for t in ran if self.clean(t)] or ran

    def comparable(self, a: Trial, b: Trial) -> bool:
        return comparable(a.other_load_cores, a.foreign_gpu_pids, b.other_load_cores, b.foreign_gpu_pids, self.floor,
                          self.design.max_other_cores)

    def paired(self, name: str) -> tuple[list[Trial], list[Trial]]:
        """The strategy's and the baseline's trials of the rounds its verdict compares: the rounds whose
        two trials compare like with like; once no more rounds will run, every round both ran in if
        those are too few for an interval (the verdict then says it was measured beside other load)."""
        mine = {t.repeat: t for t in self.trials if t.strategy == name and t.ran}
        base = {t.repeat: t for t in self.trials if t.strategy == "baseline" and t.ran}
        both = sorted(mine.keys() & base.keys())
        rounds = [r for r in both if self.comparable(mine[r], base[r])]
        if self.last_round and len(rounds) < self.design.first_look:
            rounds = both
        return [mine[r] for r in rounds], [base[r] for r in rounds]

    def report(self, s: Strategy) -> StrategyReport:
        if isinstance(s, Region):
            return self._placement(s)
        ran = [t for t in self.trials if t.strategy == s.name and t.ran]
        if not ran:
            mine = [t for t in self.trials if t.strategy == s.name]
            failed = next((t for t in mine if t.status in ("failed", "skipped")), None)
            reason = f"{failed.status}: {failed.reason}" if failed else "no trial ran"
            return StrategyReport(s.name, s.kind, reason=reason, verdict=reason,
                                  decision=failed.status if failed else "undecided", min_saving=self.design.min_saving)
        if s.name == "baseline":
            return replace(self._figures(s, self.used(s.name), ran), verdict="reference", decision="reference")
        if not any(t.strategy == "baseline" and t.ran for t in self.trials):
            return replace(self._figures(s, self.used(s.name), ran), verdict="no baseline to compare with",
                           decision="no baseline")
        mine, base = self.paired(s.name)
        figures = self._figures(s, mine or self.used(s.name), ran)
        verdict = self._compare(s, mine, base)
        unlike = sum(not self.comparable(a, b) for a, b in zip(mine, base))
        if unlike:
            verdict = replace(verdict, text=verdict.text + " (measured beside other load that came and went: less "
                                                           "certain)")
        return replace(self._with_verdict(figures, verdict, self._settings(mine or ran, base)), contaminated=unlike)

    def _figures(self, s: Strategy, used: list[Trial], ran: list[Trial]) -> StrategyReport:
        """Medians over the trials used; inference from those of them that measured it, else from any."""
        energies = [t.energy_j for t in used]
        to_target = [t.energy_to_target_j for t in used if t.energy_to_target_j is not None]
        every_reached = bool(used) and len(to_target) == len(used)
        inference = ([t.inference_j_per_1000 for t in used if t.inference_j_per_1000 is not None]
                     or [t.inference_j_per_1000 for t in ran if t.inference_j_per_1000 is not None])
        metrics = sorted({k for t in used for k in t.quality})
        return StrategyReport(
            s.name, s.kind, len(used), _median(energies), _spread(energies),
            _median(to_target) if every_reached else None, len(to_target),
            _median([float(t.epochs_to_target or 0) for t in used]) if every_reached else None,
            _median([float(t.epochs) for t in used]), _median([t.duration_s for t in used]),
            _median([t.co2e_kg for t in used]),
            {k: statistics.fmean(t.quality[k] for t in used if k in t.quality) for k in metrics},
            _median(inference), _spread(inference), tuple(sorted({m for t in used for m in t.methods})),
            min_saving=self.design.min_saving)

    def _compare(self, s: Strategy, mine: list[Trial], base: list[Trial]) -> Verdict:
        basis, figure = self._basis(s, mine, base)
        by_round = lambda trials: {t.repeat: v for t in trials if (v := figure(t)) is not None}  # noqa: E731
        metric = self.design.metric(sorted({k for t in base for k in t.quality}))
        quality = None
        if metric:
            quality = ({t.repeat: t.quality[metric] for t in mine if metric in t.quality},
                       {t.repeat: t.quality[metric] for t in base if metric in t.quality})
        verdict = judge_energy(by_round(mine), by_round(base), basis, quality, metric, self.design,
                               last_round=self.last_round, short_trials=self.short)
        if verdict.decision == "saves" and basis.startswith(TO_TARGET):
            epochs = _median([float(t.epochs_to_target or 0) for t in mine])
            base_epochs = _median([float(t.epochs_to_target or 0) for t in base])
            verdict = replace(verdict, text=f"{verdict.text} (target after {epochs:.1f} epochs vs {base_epochs:.1f}: "
                                            "the saving is real only if training stops there)")
        return verdict

    def _basis(self, s: Strategy, mine: list[Trial], base: list[Trial]) -> tuple[str, Callable[[Trial], float | None]]:
        """What a verdict compares, in words, and how to read it from a trial: inference strategies on
        inference energy; others on energy to reach the target when both sides reached it in every
        round used, else on training energy."""
        if s.kind == "inference" and all(t.inference_j_per_1000 is not None for t in mine + base):
            return "inference energy per 1,000 predictions", lambda t: t.inference_j_per_1000
        if self.design.target and all(t.energy_to_target_j is not None for t in mine + base):
            goal = ", ".join(f"{k} ≥ {v:g}" for k, v in self.design.target.items())
            return f"{TO_TARGET} {goal}", lambda t: t.energy_to_target_j
        return "training energy", lambda t: t.energy_j

    def _settings(self, mine: list[Trial], base: list[Trial]) -> dict[str, str]:
        """What the setup chose for this strategy where the baseline's differs (e.g. the optimizer's lr)."""
        reference = (base or self.used("baseline") or [Trial("baseline", "training", 0)])[0].settings
        return {k: v for k, v in mine[0].settings.items() if reference.get(k) != v} if mine else {}

    @staticmethod
    def _with_verdict(figures: StrategyReport, v: Verdict, settings: dict[str, str]) -> StrategyReport:
        text = v.text
        if settings:
            text += " [ran with " + ", ".join(f"{k} {val}" for k, val in settings.items()) + "]"
        return replace(figures, change=v.change, recommended=v.recommended, verdict=text,
                       decision=v.decision, basis=v.basis, change_range=v.change_range, rounds=v.rounds,
                       rounds_needed=v.rounds_needed, quality_change=v.quality_change, settings=settings)

    def _placement(self, r: Region) -> StrategyReport:
        base = self.used("baseline")
        pue = next((t.pue for t in base if t.pue is not None), None)
        if not base or pue is None:
            why = "no baseline measured" if not base else "the baseline's trials recorded no PUE"
            return StrategyReport(r.name, r.kind, reason=why, verdict=why, decision="no baseline",
                                  min_saving=self.design.min_saving)
        figures = replace(self._figures(r, base, base), strategy=r.name, kind=r.kind)
        energy = figures.energy_j or 0.0
        co2e = operational_co2e_kg(energy, pue, r.location.intensity_g_per_kwh)
        note = (f"{r.location.intensity_g_per_kwh:g} g/kWh, {r.location.basis} basis, "
                f"{r.location.intensity_source}")
        verdict = judge_placement(co2e, figures.co2e_kg or co2e, note, self.design)
        return replace(self._with_verdict(figures, verdict, {}), co2e_kg=co2e, intensity_note=note)

    def _left_out(self, name: str) -> int:
        """Rounds of a strategy and the baseline that ran, and whose trials saw different load."""
        mine = {t.repeat: t for t in self.trials if t.strategy == name and t.ran}
        base = {t.repeat: t for t in self.trials if t.strategy == "baseline" and t.ran}
        return sum(not self.comparable(mine[r], base[r]) for r in mine.keys() & base.keys())

    def _short_trials(self) -> bool:
        durations = [t.duration_s for t in self.trials if t.ran and t.duration_s > 0]
        return bool(durations) and statistics.median(durations) < MIN_SAMPLES_PER_TRIAL * self.design.interval_s

    def notes(self, reports: Sequence[StrategyReport]) -> list[str]:
        """What the reader should know about how far to trust the table."""
        notes = []
        ran = [t for t in self.trials if t.ran]
        spoiled_ = [t for t in ran if not self.clean(t)]
        if spoiled_:
            worst = max(spoiled_, key=lambda t: t.other_load_cores or 0.0)
            left_out = sum(self._left_out(s.name) for s in self.strategies if s.name != "baseline")
            unlike = sum(r.contaminated for r in reports)
            notes.append(f"{len(spoiled_)} trial(s) ran beside more of other processes' load than the floor (worst: "
                         f"{describe(worst.other_load_cores, worst.foreign_gpu_pids, self.floor)}): a round counts "
                         "when both of its trials saw the same load"
                         + (f"; {left_out} round(s) did not and were left out, later rounds taking their place"
                            if left_out else "")
                         + (f"; {unlike} count where too few comparable rounds were left" if unlike else ""))
        if self.floor > self.design.max_other_cores:
            notes.append(f"other processes kept {self.floor:.2f} cores busy throughout: the figures are this "
                         "experiment's share of the machine (process scope), and each round compares trials that "
                         "ran beside the same load")
        bases = sorted({s.basis for s in self.strategies if isinstance(s, Region)})
        if len(bases) > 1:
            notes.append(f"the places compared have grid figures of different bases ({', '.join(bases)}): lifecycle "
                         "figures count emissions that direct and operational ones leave out")
        if self.short:
            durations = [t.duration_s for t in ran if t.duration_s > 0]
            notes.append(f"trials train for {statistics.median(durations):.2f} s, under {MIN_SAMPLES_PER_TRIAL} "
                         f"sensor reads at interval_s={self.design.interval_s:g}: lengthen the trials (epochs) or "
                         "shorten interval_s for figures the sensors can resolve")
        d = self.design
        notes.append(f"intervals: the paired per-round change against the baseline; each strategy's interval holds "
                     f"the true change at every look with {1 - d.error_rate:.0%} probability (looks after rounds "
                     f"{d.first_look}-{d.max_repeats}, each at {1 - d.look_error_rate:.2%}); changes within "
                     f"±{d.min_saving * 100:g}% count as no change")
        return notes


__all__ = ["MIN_SAMPLES_PER_TRIAL", "summarize"]
