"""`mlfootprint reduce`: strategy experiments on a user's script."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import MlfootprintError
from . import StoreOpt, app, err, out


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
    pairs: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        try:
            pairs[name.strip()] = float(value)
        except ValueError:
            raise MlfootprintError(f"invalid {what} {item!r}: expected metric=number, e.g. accuracy=0.95") from None
    return pairs


def _strategies(spec: str) -> list[Any]:
    from ..reduce import strategies as s

    chosen: list[Any] = []
    for raw in filter(None, (x.strip() for x in spec.split(","))):
        name, _, args = raw.partition(":")
        try:
            if name == "region":
                if not args:
                    raise MlfootprintError("region needs candidates, e.g. region:FR:SE:gcp:europe-north1")
                chosen.append(s.region(*_split_regions(args)))
            elif name in STRATEGY_NAMES:
                chosen.append(STRATEGY_NAMES[name](s))
            else:
                known = ", ".join([*STRATEGY_NAMES, "region:CODE[:CODE…]"])
                raise MlfootprintError(f"unknown strategy {name!r}: known strategies are {known}")
        except ValueError as exc:
            raise MlfootprintError(f"strategy {raw!r}: {exc}") from None
    return chosen


def _split_regions(args: str) -> list[str]:
    """'FR:SE:gcp:europe-north1' → ['FR', 'SE', 'gcp:europe-north1'] (a provider prefix keeps its region)."""
    parts, out = args.split(":"), []
    while parts:
        head = parts.pop(0)
        out.append(f"{head}:{parts.pop(0)}" if head in ("gcp", "aws", "azure") and parts else head)
    return out


@app.command()
def reduce(
    script: Annotated[Path, typer.Argument(help="Python file defining train_trial(setup), evaluate(model) "
                                                "and optionally predict(model).")],
    strategies: Annotated[str, typer.Option(help="Comma-separated: " + ", ".join(STRATEGY_NAMES)
                                            + ", region:FR:SE (baseline is always included).")] = "amp,batch,optimizer",
    target: Annotated[Optional[str], typer.Option(help="Quality to reach, e.g. accuracy=0.95.")] = None,
    tolerance: Annotated[Optional[str], typer.Option(help="Largest acceptable quality loss, e.g. accuracy=0.01.")] = None,
    repeats: Annotated[int, typer.Option(help="Repeats of every strategy, for the spread.")] = 3,
    budget: Annotated[float, typer.Option("--budget", help="Seconds for the whole experiment.")] = 600.0,
    plot: Annotated[Optional[Path], typer.Option(help="Write the energy–quality Pareto plot (PNG) here.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write per-strategy results as JSON here.")] = None,
    country: Annotated[Optional[str], typer.Option(help="Where the trials run (ISO code).")] = None,
    store: StoreOpt = None,
) -> None:
    """Measure energy-saving strategies on your own training script and recommend what pays."""
    import importlib.util

    from ..reduce import Experiment

    if not script.is_file():
        raise MlfootprintError(f"script {str(script)!r} not found")
    chosen = _strategies(strategies)
    goal, tol = _parse_pairs(target, "target"), _parse_pairs(tolerance, "tolerance")
    if repeats < 1 or budget <= 0:
        raise MlfootprintError(f"--repeats must be >= 1 and --budget > 0 (got {repeats}, {budget})")
    sys.path.insert(0, str(script.resolve().parent))
    spec = importlib.util.spec_from_file_location("mlfootprint_reduce_script", script)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    for needed in ("train_trial", "evaluate"):
        if not callable(getattr(module, needed, None)):
            raise MlfootprintError(f"{script} defines no {needed}(): a reduce script needs train_trial(setup) "
                                   "(a generator yielding the model after each epoch) and evaluate(model) -> metrics")
    experiment = Experiment(module.train_trial, module.evaluate, predict_fn=getattr(module, "predict", None),
                            target=goal, tolerance=tol or None, repeats=repeats, budget_s=budget,
                            country=country, store=store, project=f"reduce:{script.stem}")
    n = 0

    def progress(trial: Any) -> None:
        nonlocal n
        n += 1
        figure = fmt(trial.energy_j) if trial.status == "ok" else f"{trial.status}: {trial.reason}"
        err.print(f"  trial {n}: {trial.strategy} (repeat {trial.repeat + 1}) {figure}", highlight=False)

    from ..report.terminal import fmt_energy as fmt

    err.print(f"running {repeats} repeat(s) of each strategy on {script} …")
    result = experiment.run(chosen, progress=progress)
    result.table(out)
    out.print(result.recommendation(), highlight=False)
    if plot:
        out.print(f"Pareto plot: {result.pareto_plot(str(plot))}")
    if json_out:
        json_out.write_text(json.dumps(result.records(), indent=2, default=str))
        out.print(f"results: {json_out}")
