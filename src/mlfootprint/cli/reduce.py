"""`mlfootprint reduce`: strategy experiments on a user's script."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import MlfootprintError
from .app import StoreOpt, app, err, out


# CLI name → the strategies it stands for (see mlfootprint.reduce.strategies)
STRATEGY_NAMES: dict[str, Any] = {
    "amp": lambda s: s.mixed_precision("bf16"), "bf16": lambda s: s.mixed_precision("bf16"),
    "fp16": lambda s: s.mixed_precision("fp16"), "batch": lambda s: s.batch_size(32, 128, 512),
    "optimizer": lambda s: s.optimizer("sgd", "momentum", "adamw"),
    "lr": lambda s: s.lr_schedule("cosine", "onecycle"), "prune": lambda s: s.prune(0.3, 0.5),
    "quantize": lambda s: s.quantize_dynamic("int8"), "threads": lambda s: s.threads(1),
    "data": lambda s: s.data_fraction(0.5), "dedupe": lambda s: s.deduplicate(),
    "power": lambda s: s.power_limit(0.7),
}


def _parse_pairs(text: str | None, what: str) -> dict[str, float]:
    import math

    pairs: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not name.strip() or not math.isfinite(number):
            raise MlfootprintError(f"invalid {what} {item!r}: expected metric=number, e.g. accuracy=0.95")
        pairs[name.strip()] = number
    return pairs


def _strategies(spec: str) -> list[Any]:
    from ..grid import split_places
    from ..reduce import strategies as s

    chosen: list[Any] = []
    for raw in filter(None, (x.strip() for x in spec.split(","))):
        name, _, args = raw.partition(":")
        try:
            if name == "region":
                if not args:
                    raise MlfootprintError("region needs candidates, e.g. region:FR:SE:gcp:europe-north1")
                chosen.append(s.region(*split_places(args)))
            elif name in STRATEGY_NAMES:
                chosen.append(STRATEGY_NAMES[name](s))
            else:
                known = ", ".join([*STRATEGY_NAMES, "region:CODE[:CODE…]"])
                raise MlfootprintError(f"unknown strategy {name!r}: known strategies are {known}")
        except ValueError as exc:
            raise MlfootprintError(f"strategy {raw!r}: {exc}") from None
    return chosen


# strategies whose knobs are PyTorch's (precision, optimizers, schedules, pruning, quantization, threads, data)
TORCH_STRATEGIES = ("amp", "bf16", "fp16", "optimizer", "lr", "prune", "quantize", "threads", "data", "dedupe")


def _need_torch(spec: str) -> None:
    """Strategies that act through PyTorch, refused in one line when it is not installed."""
    from ..extras import need

    names = [n for n in (x.strip().partition(":")[0] for x in spec.split(",")) if n in TORCH_STRATEGIES]
    if names:
        need(f"reduce --strategies {','.join(names)}", "torch", ("torch",))


@app.command(short_help="Measure energy-saving strategies on your training script")
def reduce(
    script: Annotated[Path, typer.Argument(metavar="SCRIPT", help="Python file defining train_trial(setup), "
                                           "evaluate(model) and optionally predict(model).")],
    strategies: Annotated[str, typer.Option(metavar="LIST", help="Comma-separated: " + ", ".join(STRATEGY_NAMES)
                                            + ", region:FR:SE (baseline is always included).")] = "amp,batch,optimizer",
    target: Annotated[Optional[str], typer.Option(metavar="METRIC=VALUE", help="Quality to reach, e.g. "
                                                  "accuracy=0.95.")] = None,
    tolerance: Annotated[Optional[str], typer.Option(metavar="METRIC=VALUE", help="Largest acceptable quality "
                                                     "loss, e.g. accuracy=0.01.")] = None,
    # the defaults are the library's (reduce/design.py), read when the command runs: importing the
    # experiment machinery here would slow every other command's start
    repeats: Annotated[Optional[int], typer.Option(metavar="N", help="The most rounds a strategy runs (default 10); "
                                                   "each stops as soon as its verdict is clear, from round 3.")] = None,
    min_saving: Annotated[Optional[float], typer.Option(metavar="FRACTION", help="Changes within ± this count as no "
                                                        "change (default 0.02).")] = None,
    budget: Annotated[float, typer.Option("--budget", metavar="SECONDS", help="Seconds for the whole "
                                          "experiment.")] = 600.0,
    plot: Annotated[Optional[Path], typer.Option(metavar="PNG", help="Write the energy–quality Pareto plot "
                                                 "here.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json-file", metavar="FILE", help="Write per-strategy "
                                                     "results as JSON here (--json prints them instead).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-strategy results as JSON on stdout, as "
                                          "show --json and estimate --json do.")] = False,
    country: Annotated[Optional[str], typer.Option(metavar="CODE", help="Where the trials run (ISO code).")] = None,
    project: Annotated[Optional[str], typer.Option(metavar="NAME", help="Project the trials are stored under "
                                                   "(default: your configured project).")] = None,
    store: StoreOpt = None,
) -> None:
    """Measure energy-saving strategies on your own training script and recommend what pays.

    SCRIPT is imported and run in this process (it is your code: its top level runs once, then
    train_trial/evaluate/predict for every trial).
    """
    from ..reduce import Experiment
    from ..reduce.design import DEFAULT_MAX_REPEATS, DEFAULT_MIN_SAVING

    repeats = DEFAULT_MAX_REPEATS if repeats is None else repeats
    min_saving = DEFAULT_MIN_SAVING if min_saving is None else min_saving
    if not script.is_file():
        raise MlfootprintError(f"script {str(script)!r} not found")
    chosen = _strategies(strategies)
    _need_torch(strategies)
    goal, tol = _parse_pairs(target, "target"), _parse_pairs(tolerance, "tolerance")
    _check_numbers(repeats, budget, min_saving)
    _check_up_front(country, store, [p for p in (plot, json_out) if p is not None])
    module = _load_script(script)
    for needed in ("train_trial", "evaluate"):
        if not callable(getattr(module, needed, None)):
            raise MlfootprintError(f"{script} defines no {needed}(): a reduce script needs train_trial(setup) "
                                   "(a generator yielding the model after each epoch) and evaluate(model) -> metrics")
    experiment = Experiment(module.train_trial, module.evaluate, predict_fn=getattr(module, "predict", None),
                            target=goal, tolerance=tol or None, repeats=repeats, budget_s=budget,
                            min_saving=min_saving, country=country, store=store, project=project)
    err.print(f"running rounds of every strategy on {script} until its verdict is clear (at most {repeats}, "
              f"budget {budget:g} s) …", markup=False)
    progress = _Progress()
    result = experiment.run(chosen, progress=progress)
    progress.close(budget)
    _show(result, plot, json_out, as_json, goal)
    where = f" --store {shlex.quote(store)}" if store else ""
    err.print(f"the experiment and its trials: mlfootprint show {experiment.id}{where}", markup=False,
              highlight=False)
    if not any(t.ran for t in result.trials):
        reasons = sorted({t.reason or t.status for t in result.trials})
        raise MlfootprintError(f"no trial ran to the end ({'; '.join(reasons)[:300]}): nothing was measured")


class _Progress:
    """One line per trial on stderr; the trials the budget left unrun are counted in one line at the end."""

    def __init__(self) -> None:
        self.n = self.skipped = 0

    def __call__(self, trial: Any) -> None:
        from ..report.terminal import fmt_energy

        self.n += 1
        if trial.status == "skipped" and trial.reason and trial.reason.startswith("experiment budget"):
            self.skipped += 1  # one line at the end, not one per trial
            return
        figure = fmt_energy(trial.energy_j) if trial.ran else f"{trial.status}: {trial.reason}"
        if trial.ran and trial.other_load_cores is not None and trial.other_load_cores > 0.15:
            figure += f" (others used {trial.other_load_cores:.2f} cores)"
        err.print(f"  trial {self.n}: {trial.strategy} (round {trial.repeat + 1}) {figure}", highlight=False,
                  markup=False)

    def close(self, budget: float) -> None:
        if self.skipped:
            err.print(f"  … {self.skipped} more trial(s) skipped: the experiment budget of {budget:g} s was spent",
                      markup=False)


def _show(result: Any, plot: Path | None, json_out: Path | None, as_json: bool, goal: dict[str, float]) -> None:
    from ..record import dumps
    from ..report.pareto import write_pareto_plot
    from ..report.reduce_view import print_result

    shown = err if as_json else out  # with --json, stdout holds the JSON alone
    print_result(result, shown)
    shown.print(result.recommendation(), highlight=False, markup=False)
    if plot:
        metric = result.metric
        drawn = write_pareto_plot(result.reports, str(plot), metric=metric, target=goal.get(metric or ""))
        shown.print(f"Pareto plot: {plot}" if drawn else "no Pareto plot: no strategy has both an energy and a "
                    "quality figure", markup=False)
    if as_json:
        typer.echo(dumps(result.records(), indent=2, default=str))
    if json_out:
        json_out.write_text(dumps(result.records(), indent=2, default=str))
        shown.print(f"results: {json_out}", markup=False)


def _check_numbers(repeats: int, budget: float, min_saving: float) -> None:
    import math

    if not 1 <= repeats <= 1000 or not (math.isfinite(budget) and budget > 0):
        raise MlfootprintError(f"--repeats must be between 1 and 1000 and --budget a positive number of seconds "
                               f"(got {repeats}, {budget})")
    if not 0 < min_saving < 0.5:
        raise MlfootprintError(f"--min-saving must be a fraction between 0 and 0.5, e.g. 0.02 (got {min_saving})")


def _check_up_front(country: str | None, store: str | None, outputs: list[Path]) -> None:
    """What would otherwise fail only after minutes of trials: settings, the store, the output files."""
    import os

    from ..config import load_settings
    from ..store import open_store

    settings, _ = load_settings({"country": country, "store": store})
    open_store(settings.recording.store, write=True)
    for path in outputs:
        parent = path.resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise MlfootprintError(f"cannot write {path}: {parent} is not a writable folder")


def _load_script(script: Path) -> Any:
    """Import the user's script as a module, with one clear line for what goes wrong at import."""
    import importlib.util
    import traceback

    folder = str(script.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)  # its neighbours import; they do not shadow installed packages (e.g. matplotlib)
    spec = importlib.util.spec_from_file_location("mlfootprint_reduce_script", script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except SystemExit as exc:
        raise MlfootprintError(f"{script} called sys.exit({exc.code!r}) while being imported: a reduce script "
                               "must only define train_trial, evaluate and predict at its top level") from None
    except SyntaxError as exc:
        raise MlfootprintError(f"cannot import {script}: syntax error at line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(script)]
        where = f" (line {frames[-1].lineno})" if frames else ""
        raise MlfootprintError(f"cannot import {script}: {type(exc).__name__}: {exc}{where}") from None
    return module
