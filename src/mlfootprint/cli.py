"""The `mlfootprint` command: a thin layer over the library.

Bad input (unknown country, PUE < 1, an unreadable store, an unknown run) prints one line on stderr
and exits 2, with no traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from .errors import MlfootprintError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Measure the energy, carbon and other footprints of machine-learning runs.")
err = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Run store: a SQLite path or a SQLAlchemy URL "
                                                 "(default: MLFOOTPRINT_STORE, else the user data dir).")]


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


class Scope(str, Enum):
    machine = "machine"
    process = "process"


@app.command(context_settings={"allow_interspersed_args": False})
def track(
    command: Annotated[list[str], typer.Argument(help="The command to run, after --.", show_default=False)],
    project: Annotated[Optional[str], typer.Option(help="Project name to file the run under.")] = None,
    country: Annotated[Optional[str], typer.Option(help="ISO 3166 code (FR, FRA) or zone (US-CA).")] = None,
    region: Annotated[Optional[str], typer.Option(help="Cloud region, e.g. gcp:europe-west1, aws:us-east-1.")] = None,
    pue: Annotated[Optional[float], typer.Option(help="Power usage effectiveness of the facility (>= 1).")] = None,
    interval: Annotated[Optional[float], typer.Option("--interval", help="Seconds between sensor reads.")] = None,
    scope: Annotated[Optional[Scope], typer.Option(help="Charge the whole machine, or only the command's "
                                                   "process tree (CPU-time and memory share).")] = None,
    store: StoreOpt = None,
    no_gpu: Annotated[bool, typer.Option("--no-gpu", help="Do not read GPUs.")] = False,
    epochs: Annotated[Optional[int], typer.Option(help="Total epochs/steps; the command reports progress with "
                                                  "mlfootprint.report_progress(step). Shows a progress bar and forecast.")] = None,
    budget_kwh: Annotated[Optional[float], typer.Option(help="Warn when the forecast facility energy exceeds this.")] = None,
    budget_co2e_kg: Annotated[Optional[float], typer.Option(help="Warn when the forecast CO2e exceeds this.")] = None,
    stop_over_budget: Annotated[bool, typer.Option("--stop-over-budget", help="Then stop the command (SIGTERM, "
                                                   "SIGKILL 10 s later); its data are kept.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id at the end.")] = False,
) -> None:
    """Run COMMAND under the meter; stream its output; exit with its exit code."""
    import tempfile

    from .progress import ENV_VAR, read_progress
    from .tracker import track as Tracker

    if not command:
        raise MlfootprintError("no command given: write it after --, e.g. mlfootprint track -- python train.py")
    if os.sep not in command[0] and shutil.which(command[0]) is None:
        raise MlfootprintError(f"cannot run {command[0]!r}: no such command on PATH")
    if epochs is not None and epochs < 1:
        raise MlfootprintError(f"--epochs must be a positive integer, got {epochs}")
    tracker = Tracker(project=project, country=country, region=region, pue=pue, interval_s=interval,
                      scope=scope.value if scope else None, store=store, gpu=False if no_gpu else None,
                      budget_kwh=budget_kwh, budget_co2e_kg=budget_co2e_kg, stop_over_budget=stop_over_budget or None,
                      progress_bar=(epochs is not None and not quiet) or None, command=shlex.join(command))
    run = tracker.start()
    progress_file = os.path.join(tempfile.mkdtemp(prefix="mlfootprint-"), "progress")
    child_env = dict(os.environ, **{ENV_VAR: progress_file})
    try:
        child = subprocess.Popen(command, env=child_env)
    except OSError as exc:
        tracker.stop("failed", 127)
        raise MlfootprintError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None

    def relay_progress(_meter: Any, _tick: Any = run._on_tick) -> None:
        reported = read_progress(progress_file)
        if reported is not None:
            run.progress(reported[0], reported[1] or epochs)
        _tick(_meter)

    run.meter.on_tick = relay_progress
    run.watch.on_over_budget = lambda: _terminate(child)
    rc = _wait_forwarding_signals(child)
    final = read_progress(progress_file)  # the last report may have landed after the last tick
    if final is not None:
        run.progress(final[0], final[1] or epochs)
    exit_code = rc if rc >= 0 else 128 - rc
    killed = rc in (-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP)
    tracker.stop("completed" if rc == 0 else "interrupted" if killed else "failed", exit_code)
    if quiet:
        err.print(run.id)
    else:
        from .report.terminal import print_run

        print_run(run.record, err, show_warnings=False)  # logged at start already
    raise typer.Exit(exit_code)


def _terminate(child: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM now, SIGKILL after `grace_s` if it is still running (from a timer thread)."""
    import threading

    try:
        child.terminate()
    except ProcessLookupError:
        return
    timer = threading.Timer(grace_s, lambda: child.poll() is None and child.kill())
    timer.daemon = True
    timer.start()


def _wait_forwarding_signals(child: subprocess.Popen[bytes]) -> int:
    """Wait for the child; pass on SIGTERM/SIGHUP, and SIGINT when no terminal already sent it."""
    def forward(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and _terminal_sends_sigint_to_child():
            return
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _terminal_sends_sigint_to_child() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 20,
    project: Annotated[Optional[str], typer.Option(help="Only this project.")] = None,
    store: StoreOpt = None,
) -> None:
    """Table of stored runs, newest first."""
    from .report.terminal import runs_table
    from .store import open_store

    rows = open_store(store).list_runs(limit=limit, project=project)
    if not rows:
        err.print("no runs stored yet: try  mlfootprint track -- python train.py")
        return
    out.print(runs_table(rows, out.width))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full JSON record.")] = False,
    store: StoreOpt = None,
) -> None:
    """One run: energy per component, where each number came from, CO2e."""
    from .report.terminal import print_run
    from .store import open_store

    record = open_store(store).get_run(run_id)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
    else:
        print_run(record, out)


@app.command()
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or json.")] = ExportFormat.csv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    project: Annotated[Optional[str], typer.Option(help="Only this project.")] = None,
    store: StoreOpt = None,
) -> None:
    """All runs as CSV (one row per run) or JSON (full records)."""
    from .report.files import to_csv, to_json
    from .store import open_store

    db = open_store(store)
    records = [db.get_run(r["id"]) for r in db.list_runs(project=project)]
    text = to_csv(records) if fmt is ExportFormat.csv else to_json(records)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise MlfootprintError(f"cannot write {output}: {exc.strerror or exc}") from None
    err.print(f"wrote {len(records)} runs to {output}")


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
    from .reduce import strategies as s

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

    from .reduce import Experiment

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

    from .report.terminal import fmt_energy as fmt

    err.print(f"running {repeats} repeat(s) of each strategy on {script} …")
    result = experiment.run(chosen, progress=progress)
    result.table(out)
    out.print(result.recommendation(), highlight=False)
    if plot:
        out.print(f"Pareto plot: {result.pareto_plot(str(plot))}")
    if json_out:
        json_out.write_text(json.dumps(result.records(), indent=2, default=str))
        out.print(f"results: {json_out}")


@app.command()
def when(
    duration: Annotated[str, typer.Option(help="How long the job runs: 6h, 90m, 1h30m.")],
    within: Annotated[str, typer.Option(help="Latest start, from now: 24h, 48h.")] = "24h",
    region: Annotated[Optional[str], typer.Option(help="GB for the GB Carbon Intensity API (no key).")] = None,
    zone: Annotated[Optional[str], typer.Option(help="An Electricity Maps zone (needs ELECTRICITYMAPS_TOKEN).")] = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="A forecast CSV: time, intensity_g_per_kwh.")] = None,
    energy_kwh: Annotated[Optional[float], typer.Option(help="The job's facility energy, for the saving in kg.")] = None,
    now: Annotated[Optional[str], typer.Option(help="Treat this ISO time as now (default: the clock).")] = None,
) -> None:
    """The cleanest time to start a job of DURATION, and what it saves against starting now."""
    from datetime import datetime, timezone

    from .grid.advice import parse_duration, when as advise
    from .grid.series import electricitymaps_forecast, from_csv, gb_forecast, parse_time
    from .report.terminal import fmt_co2e

    job, window = parse_duration(duration), parse_duration(within)
    start = parse_time(now) if now else datetime.now(timezone.utc)
    if csv_file is not None:
        series = from_csv(csv_file, zone or region or "")
    elif (region or "").upper() == "GB":
        series = gb_forecast(start)
    elif zone:
        series = electricitymaps_forecast(zone)
    else:
        raise MlfootprintError("say where the forecast comes from: --csv FILE, --region GB, or --zone ZONE "
                               "(Electricity Maps, with ELECTRICITYMAPS_TOKEN)")
    advice = advise(series, job, start, window)
    wait = advice.start - advice.now_start
    out.print(f"best start: {advice.start:%Y-%m-%d %H:%M} UTC (in {wait.total_seconds() / 3600:.1f} h), "
              f"{advice.intensity_g_per_kwh:.0f} gCO2e/kWh on average over {job.total_seconds() / 3600:g} h")
    out.print(f"starting now: {advice.now_intensity_g_per_kwh:.0f} gCO2e/kWh → waiting saves {advice.saving:.0%} "
              f"of the job's CO2e" + (f" ({fmt_co2e(energy_kwh * (advice.now_intensity_g_per_kwh - advice.intensity_g_per_kwh) / 1000)})"
                                      if energy_kwh else ""))
    out.print(f"source: {advice.source}", style="dim")


@app.command()
def where(
    energy_kwh: Annotated[float, typer.Option(help="The job's IT energy in kWh.")],
    candidates: Annotated[str, typer.Option(help="Comma-separated countries or regions: FR,DE,US-CA,gcp:europe-north1.")],
    here: Annotated[Optional[str], typer.Option(help="Where it would run otherwise (default: the first candidate).")] = None,
    pue: Annotated[float, typer.Option(help="PUE applied everywhere.")] = 1.56,
) -> None:
    """The cleanest place to run a job of ENERGY_KWH, and what it saves against running here."""
    from rich.table import Table

    from .grid.advice import where as rank
    from .report.terminal import fmt_co2e

    if pue < 1.0:
        raise MlfootprintError(f"invalid pue={pue}: must be at least 1.0")
    codes = [c.strip() for c in candidates.split(",") if c.strip()]
    options = rank(energy_kwh, codes + ([here] if here and here not in codes else []), pue)
    base = options[codes.index(here) if here in codes else (len(options) - 1 if here else 0)]
    table = Table("where", "gCO2e/kWh", "CO2e", "vs here", "source", title=f"{energy_kwh:g} kWh at PUE {pue:g}",
                  title_justify="left")
    for o in sorted(options, key=lambda o: o.co2e_kg):
        name = o.location.region or o.location.country or "?"
        delta = (o.co2e_kg - base.co2e_kg) / base.co2e_kg if base.co2e_kg else 0.0
        table.add_row(name + (" (here)" if o is base else ""), f"{o.location.intensity_g_per_kwh:g}",
                      fmt_co2e(o.co2e_kg), f"{delta:+.0%}", o.location.intensity_source)
    out.print(table)
    best = min(options, key=lambda o: o.co2e_kg)
    if best is not base:
        out.print(f"cleanest: {best.location.region or best.location.country}, saving "
                  f"{fmt_co2e(base.co2e_kg - best.co2e_kg)} ({1 - best.co2e_kg / base.co2e_kg:.0%}) against "
                  f"{base.location.region or base.location.country}")


@app.command()
def locations(
    search: Annotated[Optional[str], typer.Argument(help="Filter by code or name.")] = None,
) -> None:
    """Known countries, zones and cloud regions with their grid intensity and source."""
    from rich.table import Table

    from .grid import all_regions, all_zones

    table = Table("code", "name", "gCO2e/kWh", "year", "source")
    needle = (search or "").lower()
    for z in all_zones().values():
        if needle in f"{z.zone} {z.alpha3} {z.name}".lower():
            table.add_row(f"{z.zone} {z.alpha3}".strip(), z.name, f"{z.intensity_g_per_kwh:g}", str(z.year),
                          f"{z.source} ({z.basis})")
    for r in all_regions().values():
        if needle in f"{r.region} {r.location}".lower():
            ci = f"{r.intensity_g_per_kwh:g}" if r.intensity_g_per_kwh is not None else f"= {r.zone}"
            table.add_row(r.region, r.location, ci, str(r.year or ""), r.source)
    out.print(table)


def main() -> None:
    try:
        app()
    except MlfootprintError as exc:
        err.print(f"mlfootprint: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
