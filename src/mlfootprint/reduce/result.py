"""What an experiment found: per-strategy statistics, a table, the Pareto front, a recommendation.

Robust statistics: each strategy is summarised by the median of its repeats, which one disturbed
repeat cannot drag. The spread is 1.4826 x the median absolute deviation from 5 repeats on (it equals
the standard deviation for normal noise and ignores an outlier); with fewer repeats the MAD is no
estimate at all (with 3 it is the smaller of two gaps), so the sample standard deviation is used,
which errs towards "within noise". Only clean trials count when a strategy has any; trials that ran
beside other load count only when nothing clean exists, and the verdict says so.

A saving counts only when it exceeds the measurement noise. With 3 or more repeats of both, each
repeat is compared with the baseline trial of its own round (paired: the machine's drift cancels),
and the noise is a one-sample t-test at 95 % on those ratios; otherwise Welch's t-test at 95 % on the
two groups (t x the standard error of the difference). And a saving is at least `min_saving` (2 % by default, about the run-to-run spread we measured on shared VMs) — with
one repeat each, only the `min_saving` floor applies and the text says the noise is unknown. A
change whose quality loss exceeds the tolerance is refused whatever it saves.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..report.terminal import fmt_co2e, fmt_energy

if TYPE_CHECKING:
    from .experiment import Experiment, Trial
    from .strategies import Strategy, _Region


@dataclass
class Summary:
    strategy: str
    kind: str
    repeats: int
    energy_j: float | None
    energy_sd_j: float
    energy_to_target_j: float | None  # mean, only when every repeat reached the target
    reached_target: int
    epochs_to_target: float | None
    epochs: float | None
    duration_s: float | None
    co2e_kg: float | None
    quality: dict[str, float]
    inference_j_per_1000: float | None
    inference_sd: float
    methods: list[str]
    reason: str | None  # why there is no figure (skipped, failed)
    intensity_note: str | None = None
    contaminated: int = 0  # repeats used that ran beside other load (only when none ran clean)


def _mean(values: list[float]) -> float | None:
    """The centre of a strategy's repeats: the median (robust to one disturbed repeat)."""
    return statistics.median(values) if values else None


def _sd(values: list[float]) -> float:
    """The spread of repeats: 1.4826 x MAD from 5 repeats on, the sample sd below that (see above)."""
    if len(values) < 2:
        return 0.0
    if len(values) < 5:
        return statistics.stdev(values)
    centre = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - centre) for v in values)


# two-sided 95 % quantiles of Student's t by degrees of freedom (standard tables)
_T95 = [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447), (7, 2.365), (8, 2.306),
        (9, 2.262), (10, 2.228), (12, 2.179), (15, 2.131), (20, 2.086), (30, 2.042), (60, 2.000)]


def welch_threshold(sd_a: float, n_a: int, sd_b: float, n_b: int) -> float:
    """t(95 %, Welch-Satterthwaite df) x the standard error of the difference of two means."""
    va, vb = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0
    df = (va + vb) ** 2 / ((va ** 2 / (n_a - 1) if n_a > 1 else 0) + (vb ** 2 / (n_b - 1) if n_b > 1 else 0) or 1e-12)
    t = next((t for d, t in reversed(_T95) if df >= d), _T95[0][1])
    return t * se


MIN_SAMPLES_PER_TRIAL = 10  # fewer sensor reads than this per trial: the note says to lengthen trials


class Result:
    def __init__(self, experiment: Experiment, strategies: list[Strategy], trials: list[Trial],
                 regions: list[_Region]) -> None:
        self.experiment = experiment
        self.strategies = strategies
        self._changes: dict[str, float] = {}  # relative change each verdict was based on
        self.trials = trials
        self.summaries: dict[str, Summary] = {}
        for s in strategies:
            if s in regions:
                continue
            mine = [t for t in trials if t.strategy == s.name]
            ok = [t for t in mine if t.status == "ok"] or [t for t in mine if t.status == "contaminated"]
            energies = [t.energy_j for t in ok]
            to_target = [t.energy_to_target_j for t in ok if t.energy_to_target_j is not None]
            inference = [t.inference_j_per_1000 for t in ok if t.inference_j_per_1000 is not None]
            metrics = {k for t in ok for k in t.quality}
            every_reached = bool(ok) and len(to_target) == len(ok)
            self.summaries[s.name] = Summary(
                s.name, s.kind, len(ok), _mean(energies), _sd(energies),
                _mean(to_target) if every_reached else None, len(to_target),
                _mean([float(t.epochs_to_target) for t in ok if t.epochs_to_target]) if every_reached else None,
                _mean([float(t.epochs) for t in ok]),
                _mean([t.duration_s for t in ok]), _mean([t.co2e_kg for t in ok]),
                {k: statistics.fmean(t.quality[k] for t in ok if k in t.quality) for k in metrics},
                _mean(inference), _sd(inference), sorted({m for t in ok for m in t.methods}),
                None if ok else next((f"{t.status}: {t.reason}" for t in mine if t.reason), "no trial ran"),
                contaminated=sum(t.status == "contaminated" for t in ok))
        base = self.summaries.get("baseline")
        for r in regions:
            self.summaries[r.name] = self._regional(r, base)
        self.notes = self._notes()

    def _notes(self) -> list[str]:
        """What the reader should know about how far to trust the table."""
        notes = []
        reruns = [t for t in self.trials if t.attempt > 1]
        still = [t for t in self.trials if t.status == "contaminated"]
        if reruns or still:
            notes.append(f"{len(reruns)} trial(s) re-run because other processes loaded the machine; "
                         f"{len(still)} still ran beside other load" + (" and count only where a strategy has no "
                                                                       "clean repeat" if still else ""))
        bases = sorted({getattr(s, "basis", None) for s in self.strategies} - {None})
        if len(bases) > 1:
            notes.append(f"the places compared have grid figures of different bases ({', '.join(bases)}): lifecycle "
                         "figures count emissions that direct and operational ones leave out")
        durations = [t.duration_s for t in self.trials if t.status == "ok" and t.duration_s > 0]
        interval = getattr(self.experiment, "interval_s", None)
        if durations and interval and statistics.median(durations) < MIN_SAMPLES_PER_TRIAL * interval:
            notes.append(f"trials train for {statistics.median(durations):.2f} s, under {MIN_SAMPLES_PER_TRIAL} "
                         f"sensor reads at interval_s={interval:g}: lengthen the trials (epochs) or shorten "
                         "interval_s for figures the sensors can resolve")
        return notes

    def _regional(self, r: _Region, base: Summary | None) -> Summary:
        if base is None or base.energy_j is None:
            return Summary(r.name, r.kind, 0, None, 0, None, 0, None, None, None, None, {}, None, 0, [],
                           "no baseline measured")
        from ..config import load_settings
        from ..impact import operational_co2e_kg

        pue = load_settings()[0].site.pue  # the trials ran with the configured PUE
        co2e = operational_co2e_kg(base.energy_j, pue, r.location.intensity_g_per_kwh)
        return Summary(r.name, r.kind, base.repeats, base.energy_j, base.energy_sd_j, base.energy_to_target_j,
                       base.reached_target, base.epochs_to_target, base.epochs, base.duration_s, co2e, dict(base.quality), base.inference_j_per_1000,
                       base.inference_sd, base.methods, None,
                       f"{r.location.intensity_g_per_kwh:g} g/kWh, {r.location.basis} basis, {r.location.intensity_source}")

    # -- comparisons ---------------------------------------------------------------------------
    def _metric(self) -> str | None:
        if self.experiment.target:
            return next(iter(self.experiment.target))
        base = self.summaries.get("baseline")
        return next(iter(sorted(base.quality)), None) if base else None

    def _energy_basis(self, s: Summary, base: Summary) -> tuple[str, float | None, float | None, float, float]:
        """Which energy to compare on, and the two means and standard deviations."""
        if s.kind == "inference" and s.inference_j_per_1000 is not None and base.inference_j_per_1000 is not None:
            return "inference energy per 1,000 predictions", s.inference_j_per_1000, base.inference_j_per_1000, \
                s.inference_sd, base.inference_sd
        if s.energy_to_target_j is not None and base.energy_to_target_j is not None:
            sd = lambda name: _sd([t.energy_to_target_j for t in self.trials  # noqa: E731
                                   if t.strategy == name and t.energy_to_target_j is not None])
            target = ", ".join(f"{k} ≥ {v:g}" for k, v in self.experiment.target.items())
            return f"energy to reach {target}", s.energy_to_target_j, base.energy_to_target_j, sd(s.strategy), sd("baseline")
        return "training energy", s.energy_j, base.energy_j, s.energy_sd_j, base.energy_sd_j

    def _basis_key(self, s: Summary, base: Summary) -> str:
        """The Trial field `_energy_basis` compares on."""
        if s.kind == "inference" and s.inference_j_per_1000 is not None and base.inference_j_per_1000 is not None:
            return "inference_j_per_1000"
        if s.energy_to_target_j is not None and base.energy_to_target_j is not None:
            return "energy_to_target_j"
        return "energy_j"

    def _paired(self, name: str, key: str) -> tuple[float, float] | None:
        """(change, noise) from the ratios of each repeat to the baseline trial of the same round.

        Repeats run in interleaved rounds, so a strategy's trial and the baseline's trial of one round
        are seconds apart: a machine whose speed drifts (a VM whose host is busy, thermal limits) moves
        both together, and the ratio keeps only the strategy's effect. Change: the median ratio - 1;
        noise: t(95 %, n-1) x the standard error of the ratios. None with fewer than 3 pairs.
        """
        def by_repeat(n: str) -> dict[int, float]:
            trials = [t for t in self.trials if t.strategy == n]
            used = [t for t in trials if t.status == "ok"] or [t for t in trials if t.status == "contaminated"]
            return {t.repeat: getattr(t, key) for t in used if getattr(t, key) is not None}
        mine, ref = by_repeat(name), by_repeat("baseline")
        ratios = [mine[r] / ref[r] for r in sorted(mine.keys() & ref.keys()) if ref[r] > 0]
        if len(ratios) < 3:
            return None
        n = len(ratios)
        t = next((t for d, t in reversed(_T95) if n - 1 >= d), _T95[0][1])
        return statistics.median(ratios) - 1.0, t * statistics.stdev(ratios) / math.sqrt(n)

    def verdict(self, name: str) -> tuple[bool, str]:
        """(recommendable, the reason in plain words) for one strategy against the baseline."""
        s, base = self.summaries[name], self.summaries.get("baseline")
        if name == "baseline":
            return False, "reference"
        if s.reason:
            return False, s.reason
        if base is None or base.energy_j is None:
            return False, "no baseline to compare with"
        metric = self._metric()
        if s.intensity_note is not None:  # placement: same energy, different grid
            change = (s.co2e_kg - base.co2e_kg) / base.co2e_kg if base.co2e_kg else 0.0  # type: ignore[operator]
            self._changes[name] = change
            ok = change <= -self.experiment.min_saving
            return ok, f"{change:+.0%} CO2e for the same energy ({s.intensity_note})"
        basis, mine, ref, sd_mine, sd_ref = self._energy_basis(s, base)
        if mine is None or ref is None or ref == 0:
            return False, f"no {basis} to compare"
        n, n_base = s.repeats, base.repeats
        paired = self._paired(name, self._basis_key(s, base))
        if paired is not None:  # each repeat against the baseline of its own round: drift cancels
            change, noise = paired
        else:
            change = (mine - ref) / ref
            noise = welch_threshold(sd_mine, n, sd_ref, n_base) / ref if n > 1 and n_base > 1 else 0.0
        self._changes[name] = change
        threshold = max(noise, self.experiment.min_saving)
        quality_text, quality_ok = "", True
        if metric and metric in s.quality and metric in base.quality:
            delta = s.quality[metric] - base.quality[metric]
            quality_text = f", {delta * 100:+.1f} pt {metric}"
            tolerance = self.experiment.tolerance.get(metric, 0.01)
            quality_ok = delta >= -tolerance
        wins = self._wins(name, base)
        text = f"{change:+.0%} {basis}{quality_text}; cheaper in {wins}"
        if s.contaminated or base.contaminated:
            text += " (measured beside other load: less certain)"
        if not quality_ok:  # checked first: a quality loss refuses a change whatever it saves
            tol = self.experiment.tolerance.get(metric or "", 0.01)
            return False, f"{text} — quality loss beyond the {tol * 100:g} pt tolerance"
        if change > -threshold:
            # an equal strategy lands on either side of zero: within the noise either way
            why = "within measurement noise" if abs(change) <= threshold else "not a saving here: costlier beyond the noise"
            return False, f"{text} — {why}" + ("" if n > 1 else " (one repeat: noise unknown)")
        if basis.startswith("energy to reach") and s.epochs_to_target and base.epochs_to_target:
            text += (f" (target after {s.epochs_to_target:.1f} epochs vs {base.epochs_to_target:.1f}: "
                     "the saving is real only if training stops there)")
        return True, text

    def change(self, name: str) -> float | None:
        """The relative change against the baseline that the strategy's verdict rests on: the median
        of its per-round ratios to the baseline (minus 1) when at least 3 rounds pair up, else the
        change of the medians (CO2e, for a placement). None for the baseline or a strategy with nothing
        to compare."""
        if name != "baseline":
            self.verdict(name)
        return self._changes.get(name)

    def _wins(self, name: str, base: Summary) -> str:
        def used(n: str) -> list[Trial]:
            trials = [t for t in self.trials if t.strategy == n]
            return [t for t in trials if t.status == "ok"] or [t for t in trials if t.status == "contaminated"]
        mine, ref = used(name), used("baseline")
        if not mine or not ref:
            return "0 of 0 repeats"
        if mine[0].kind == "inference" and mine[0].inference_j_per_1000 is not None:
            key = "inference_j_per_1000"
        elif all(t.energy_to_target_j is not None for t in mine + ref) and self.experiment.target:
            key = "energy_to_target_j"
        else:
            key = "energy_j"
        median_ref = statistics.median(getattr(t, key) for t in ref)
        wins = sum(getattr(t, key) < median_ref for t in mine)
        return f"{wins} of {len(mine)} repeats"

    def best_combination(self) -> Strategy | None:
        """The best recommendable training-side strategy with the best one that changes something
        else (bf16 and fp16 both set the precision: they are never paired)."""
        from .strategies import combine

        good = [n for n in self.summaries if self.verdict(n)[0] and self.summaries[n].kind != "inference"
                and self.summaries[n].intensity_note is None]
        good.sort(key=lambda n: self._changes.get(n, 0.0))
        by_name = {s.name: s for s in self.strategies}
        if not good:
            return None
        first = by_name[good[0]]
        partner = next((by_name[n] for n in good[1:] if not by_name[n].knobs() & first.knobs()), None)
        return combine(first, partner) if partner is not None else None

    # -- output ----------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        out = []
        for name, s in self.summaries.items():
            ok, why = self.verdict(name)
            out.append({**s.__dict__, "change": self._changes.get(name), "recommended": ok, "verdict": why})
        return sorted(out, key=lambda r: (r["energy_j"] is None, r["energy_j"] or 0))

    def table(self, console: Any = None) -> None:
        """Strategies by training energy, then each one's verdict in words."""
        from rich import box
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        metric = self._metric()
        t = Table(title="strategies by training energy (median ± spread over repeats)", title_justify="left",
                  box=box.SIMPLE_HEAD, collapse_padding=True)
        cols = ["strategy", "energy", "to target", "time", "CO2e", metric or "quality"]
        if self.experiment.predict_fn:
            cols.append("J/1k pred")
        for c in cols:
            t.add_column(c, justify="left" if c == "strategy" else "right", no_wrap=c != "strategy")
        records = self.records()
        for r in records:
            s = self.summaries[r["strategy"]]
            energy = "-" if s.energy_j is None else fmt_energy(s.energy_j) + (
                f" ± {fmt_energy(s.energy_sd_j)}" if s.repeats > 1 else "")
            cells = [("[green]" if r["recommended"] else "") + s.strategy + ("[/]" if r["recommended"] else ""),
                     energy,
                     fmt_energy(s.energy_to_target_j) if s.energy_to_target_j is not None else
                     (f"{s.reached_target}/{s.repeats} runs" if self.experiment.target and s.repeats else "-"),
                     f"{s.duration_s:.1f} s" if s.duration_s is not None else "-",
                     fmt_co2e(s.co2e_kg) if s.co2e_kg is not None else "-",
                     f"{s.quality[metric]:.4f}" if metric and metric in s.quality else "-"]
            if self.experiment.predict_fn:
                cells.append(fmt_energy(s.inference_j_per_1000) if s.inference_j_per_1000 is not None else "-")
            t.add_row(*cells)
        console.print(t)
        for r in records:
            mark = "[green]✓[/]" if r["recommended"] else "·"
            console.print(f"{mark} {r['strategy']}: {r['verdict']}", highlight=False)
        for note in self.notes:
            console.print(f"note: {note}", style="yellow", markup=False, highlight=False)
        methods = sorted({m for s in self.summaries.values() for m in s.methods})
        console.print(f"energy is {' and '.join(methods) or 'not measured'} (`mlfootprint show RUN` gives each "
                      "trial's sources); evaluations during training are not counted as training energy",
                      style="dim")

    def recommendation(self) -> str:
        good = [(n, self.verdict(n)[1]) for n in self.summaries if self.verdict(n)[0]]
        if not good:
            return ("No change is recommended: none saved energy beyond measurement noise within the quality "
                    "tolerance on this workload. Details per strategy are in the table.")
        good.sort(key=lambda item: self._changes.get(item[0], 0.0))
        lines = [f"Recommended on this workload ({self.experiment.repeats} repeats each):"]
        lines += [f"  {name}: {why}" for name, why in good]
        combo = self.best_combination()
        if combo is not None:
            lines.append(f"  Next: measure them together, e.g. combine({combo.name.replace(' + ', ', ')}); "
                         "savings need not add up.")
        return "\n".join(lines)

    def pareto_plot(self, path: str) -> str:
        """Energy (x) against quality (y), the Pareto front drawn; a second panel for inference."""
        try:
            import matplotlib
        except ImportError:
            from ..errors import MlfootprintError

            raise MlfootprintError("the Pareto plot needs matplotlib: pip install 'mlfootprint[plots]'") from None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metric = self._metric() or "quality"
        panels = [("training energy (J)", "energy_j", "energy_sd_j", "training")]
        if self.experiment.predict_fn:
            panels.append(("inference energy per 1,000 predictions (J)", "inference_j_per_1000", "inference_sd", "inference"))
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False)
        for ax, (label, key, sd_key, kind) in zip(axes[0], panels):
            # inference strategies train exactly like the baseline: they belong on the inference panel only
            points = [(getattr(s, key), getattr(s, sd_key), s.quality.get(metric), s.strategy)
                      for s in self.summaries.values()
                      if getattr(s, key) is not None and metric in s.quality and s.intensity_note is None
                      and (s.strategy == "baseline" or (s.kind == "inference") == (kind == "inference"))]
            if not points:
                continue
            for x, sd, y, name in points:
                colour = "black" if name == "baseline" else "tab:green" if self.verdict(name)[0] else "tab:blue"
                ax.errorbar(x, y, xerr=sd or None, fmt="o", color=colour, capsize=3)
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
            front = _pareto([(x, y) for x, _, y, _ in points])
            ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="tab:orange", label="Pareto front")
            if metric in self.experiment.target:
                ax.axhline(self.experiment.target[metric], color="grey", lw=0.8, ls=":", label=f"target {metric}")
            xs = [p[0] for p in points]
            if min(xs) > 0 and max(xs) / min(xs) > 5:
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", fontsize=8)
        fig.suptitle("energy against quality (green: recommended; bars: sd over repeats)")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both lower energy and higher quality, by energy."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front
