"""Measuring and looking at runs: track, runs, show, jobs, export, import, merge."""

from __future__ import annotations

import os
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..errors import MlfootprintError, StoreMissingError
from .app import (CountryOpt, IntervalOpt, NoGpuOpt, ProjectOpt, PueOpt, QuietOpt, RegionOpt, StoreOpt, setting_help, app,
                  err, out)

if TYPE_CHECKING:
    from ..tracker import Run


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"
    codecarbon = "codecarbon"


class Scope(str, Enum):
    machine = "machine"
    process = "process"


@app.command(context_settings={"allow_interspersed_args": False}, short_help="Run a command under the meter and store its footprint")
def track(
    command: Annotated[list[str], typer.Argument(help="The command to run, after --.", show_default=False,
                                                 metavar="-- COMMAND [ARGS]...")],
    project: ProjectOpt = None,
    country: CountryOpt = None,
    region: RegionOpt = None,
    pue: PueOpt = None,
    interval: IntervalOpt = None,
    scope: Annotated[Optional[Scope], typer.Option(help=setting_help("scope"))] = None,
    store: StoreOpt = None,
    no_gpu: NoGpuOpt = False,
    epochs: Annotated[Optional[int], typer.Option(metavar="N", help="Total epochs/steps; the command reports progress "
                                                  "with mlfootprint.report_progress(step). Shows a progress bar (facility "
                                                  "energy) and the forecast.")] = None,
    budget_kwh: Annotated[Optional[float], typer.Option(metavar="KWH", help=setting_help("budget_kwh"))] = None,
    budget_co2e_kg: Annotated[Optional[float], typer.Option(metavar="KG", help=setting_help("budget_co2e_kg"))] = None,
    stop_over_budget: Annotated[bool, typer.Option("--stop-over-budget", help="Then stop the command (SIGTERM, "
                                                   "SIGKILL 10 s later); its data are kept.")] = False,
    wue: Annotated[Optional[float], typer.Option(metavar="L/KWH", help=setting_help("wue"))] = None,
    price_per_kwh: Annotated[Optional[float], typer.Option(metavar="PRICE", help=setting_help("price_per_kwh"))] = None,
    currency: Annotated[Optional[str], typer.Option(metavar="ISO4217", help=setting_help("currency"))] = None,
    instance_price_per_hour: Annotated[Optional[float], typer.Option(metavar="PRICE",
                                                                     help=setting_help("instance_price_per_hour"))] = None,
    renewable_share: Annotated[Optional[float], typer.Option(metavar="0-1", help=setting_help("renewable_share"))] = None,
    intensity_csv: Annotated[Optional[str], typer.Option(metavar="CSV", help=setting_help("intensity_csv"))] = None,
    prometheus: Annotated[Optional[str], typer.Option(metavar="[HOST:]PORT", help="Serve live metrics for Prometheus "
                                                      "at this address while the command runs (e.g. :9464).")] = None,
    outputs: Annotated[Optional[str], typer.Option("--outputs", metavar="LIST", help=setting_help("outputs"))] = None,
    job: Annotated[Optional[str], typer.Option(metavar="ID", help=setting_help("job"))] = None,
    quiet: QuietOpt = False,
) -> None:
    """Run COMMAND under the meter; stream its output; exit with its exit code.

    The command always runs once the settings are valid: a store that is being created by other jobs,
    locked, full or unreachable only delays where the record lands (a spool file, imported later).
    """
    from ..command import run_command
    from ..tracker import track as Tracker

    if epochs is not None and epochs < 1:
        raise MlfootprintError(f"--epochs must be a positive integer, got {epochs}")
    if intensity_csv is not None and not intensity_csv.strip():
        raise MlfootprintError("--intensity-csv is empty: give the path of a CSV with columns datetime, "
                               "intensity_g_per_kwh")
    tracker = Tracker(project, country=country, region=region, pue=pue, interval_s=interval,
                      scope=scope.value if scope else None, store=store, gpu=False if no_gpu else None,
                      budget_kwh=budget_kwh, budget_co2e_kg=budget_co2e_kg, stop_over_budget=stop_over_budget or None,
                      progress_bar=(epochs is not None and not quiet) or None, wue=wue, price_per_kwh=price_per_kwh,
                      currency=currency, instance_price_per_hour=instance_price_per_hour,
                      renewable_share=renewable_share, intensity_csv=intensity_csv, job=job,
                      outputs=_outputs(outputs, prometheus), command=shlex.join(command))
    result = run_command(command, tracker, epochs=epochs)
    print_summary(result.run, quiet, note=result.run.warnings[-1] if result.left_behind else None)
    raise typer.Exit(result.exit_code)


def print_summary(run: Run, quiet: bool, note: str | None = None) -> None:
    """The run's short summary (or only its id) on stderr after a wrapped command. Never raises: the
    command's exit code is the answer, and nothing printed after it may replace it."""
    try:
        if note:
            err.print(f"mlfootprint: note: {note}", markup=False)
        if quiet:
            err.print(run.id, markup=False)
        else:
            from ..report.terminal import print_run

            print_run(run.record, err, show_warnings=False)  # logged at start already
    except Exception as exc:
        err.print(f"mlfootprint: could not print the run's summary ({type(exc).__name__}); run id {run.id}",
                  markup=False)


def _outputs(given: str | None, prometheus: str | None) -> list[str] | None:
    """--outputs plus --prometheus, as the `outputs` setting (None: leave it to the environment/config)."""
    items = [i for i in (given or "").split(",") if i.strip()]
    if prometheus is not None:
        items.append(f"prometheus:{prometheus.lstrip(':')}" if prometheus.strip(":") else "prometheus")
    return items or None


def reader(store: str | None, *, write: bool = False) -> Any:
    """The store, opened read-only (a store that does not exist yet is not created), or for writing. A
    PostgreSQL URL whose driver is not installed is one line with the `pip install` to run."""
    from ..extras import need_store_driver
    from ..store import open_store, to_url

    need_store_driver(to_url(store))
    return open_store(store, write=write)


@app.command(short_help="List stored runs, newest first")
def runs(
    limit: Annotated[int, typer.Option(metavar="N", help="Show at most this many (1-100000).")] = 20,
    project: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only this project.")] = None,
    nested: Annotated[bool, typer.Option("--nested", help="Also list runs nested in another run and the trials of "
                                         "experiments (by default they count in the line of the run they belong to).")
                      ] = False,
    store: StoreOpt = None,
) -> None:
    """Table of stored runs, newest first."""
    from ..report.terminal import runs_table

    if not 1 <= limit <= 100_000:
        raise MlfootprintError(f"--limit must be between 1 and 100000, got {limit}")
    try:
        db = reader(store)
    except StoreMissingError as exc:
        if store or os.environ.get("MLFOOTPRINT_STORE"):
            raise
        err.print("no runs stored yet: try  mlfootprint track -- python train.py", markup=False)
        return
    rows = db.list_runs(limit=limit, project=project, top_level_only=not nested)
    if not rows:
        from ..report.format import plain

        err.print(f"no runs of project {plain(project)!r} in {db.display_url}" if project else
                  "no runs stored yet: try  mlfootprint track -- python train.py", markup=False)
        return
    out.print(runs_table(rows, out.width, {} if nested else db.child_totals([r.id for r in rows])))


@app.command(short_help="One run or job: the figure to quote; --details for sources")
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_OR_JOB_ID", help="Run id or job id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full JSON record.")] = False,
    details: Annotated[bool, typer.Option("--details", help="Every component, impact figure and source, phases and "
                                          "quality (by default a short summary).")] = False,
    every_row: Annotated[bool, typer.Option("--all", help="For a job: list every GPU and rank (by default a large "
                                            "job lists the flagged ranks and the highest and lowest energy).")] = False,
    store: StoreOpt = None,
) -> None:
    """One run (IT and facility energy, operational and total CO2e, the figure to quote), one distributed
    job (totals, energy by node and GPU, phases across ranks, stragglers), or one reduce experiment (its
    trials and what they used in all)."""
    from ..jobs import JobSummary
    from ..lookup import find
    from ..record import dumps

    db = reader(store)
    found = find(db, run_id)
    if as_json:
        typer.echo(dumps(found, indent=2))
    elif not isinstance(found, JobSummary) and found.kind == "experiment" and not details:
        from ..report.terminal import experiment_view

        out.print(experiment_view(found, db.children(found.id), out.width))
    elif isinstance(found, JobSummary):
        from ..report.job_view import print_job

        print_job(found, out, every_row=every_row)
    else:
        from ..report.terminal import print_run

        print_run(found, out, details=details)


@app.command(short_help="List distributed jobs (torchrun, Slurm, MPI) and their ranks")
def jobs(
    limit: Annotated[int, typer.Option(metavar="N", help="Show at most this many (1-100000).")] = 20,
    project: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only jobs with runs of this project.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    store: StoreOpt = None,
) -> None:
    """One row per distributed job (torchrun, Slurm, MPI): ranks, nodes, GPUs, energy, CO2e, status."""
    from ..jobs import list_jobs
    from ..record import dumps
    from ..report.job_view import jobs_table

    if not 1 <= limit <= 100_000:
        raise MlfootprintError(f"--limit must be between 1 and 100000, got {limit}")
    rows = list_jobs(reader(store), limit=limit, project=project)
    if as_json:
        typer.echo(dumps(rows, indent=2))
    elif not rows:
        err.print("no distributed jobs stored: runs join a job when launched by torchrun, srun or mpirun "
                  "(or with --job / MLFOOTPRINT_JOB)", markup=False)
    else:
        out.print(jobs_table(rows, out.width))


@app.command(short_help="Write all runs as CSV, JSON or CodeCarbon's CSV")
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv, json, or codecarbon (its emissions.csv "
                                              "columns and units).")] = ExportFormat.csv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                   help="File to write (default: stdout).")] = None,
    project: Annotated[Optional[str], typer.Option(metavar="NAME", help="Only this project.")] = None,
    store: StoreOpt = None,
) -> None:
    """All runs as CSV (one row per run), JSON (full records) or CodeCarbon's emissions.csv columns, streamed."""
    from ..outputs.files import write_codecarbon
    from ..report.files import write_csv, write_json

    db = reader(store)
    writer = {ExportFormat.csv: write_csv, ExportFormat.json: write_json, ExportFormat.codecarbon: write_codecarbon}[fmt]
    if output is None:
        writer(db.iter_records(project), sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as f:
            n = writer(db.iter_records(project), f)
    except OSError as exc:
        raise MlfootprintError(f"cannot write {output}: {exc.strerror or exc}") from None
    err.print(f"wrote {n} runs to {output}", markup=False)


@app.command(name="import", short_help="Store runs kept in spool or rescue files")
def import_(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Spool or rescue files "
                                                "(mlfootprint-run-ID.json) of runs the store could not take.")],
    store: StoreOpt = None,
) -> None:
    """Store runs kept in spool or rescue files; samples already stored are skipped, so this is safe to repeat."""
    from ..store import spool

    payloads = [(f, spool.read(f)) for f in files]  # all readable before anything is written
    db = reader(store, write=True)
    for path, payload in payloads:
        run_id, added = db.import_rows(payload)
        out.print(f"imported run {run_id} ({added} new samples) from {path}", markup=False, highlight=False)


@app.command(short_help="Copy the runs of other stores into this one")
def merge(
    sources: Annotated[list[str], typer.Argument(metavar="STORE...", help="Run stores to copy from: SQLite files "
                                                 "(e.g. one per node of a cluster without a database) or URLs.")],
    store: StoreOpt = None,
) -> None:
    """Copy every run of other stores into this one (--store / MLFOOTPRINT_STORE); a distributed job whose
    nodes wrote separate files becomes one job again. Safe to repeat: stored samples are skipped."""
    from ..store.urls import to_url

    target = reader(store, write=True)
    readers = []
    for source in sources:  # every source readable before anything is written
        if to_url(source) == target.url:
            raise MlfootprintError(f"{source!r} is the target store itself; give the other nodes' files")
        readers.append(reader(source))
    total_runs = total_samples = 0
    for source, source_store in zip(sources, readers):
        runs_n = samples_n = 0
        for payload in source_store.payloads():
            _, added = target.import_rows(payload)
            runs_n, samples_n = runs_n + 1, samples_n + added
        out.print(f"merged {runs_n} runs ({samples_n} new samples) from {source_store.display_url}", markup=False,
                  highlight=False)
        total_runs, total_samples = total_runs + runs_n, total_samples + samples_n
    err.print(f"{total_runs} runs from {len(sources)} store(s) merged into {target.display_url}", markup=False)


__all__ = ["export", "import_", "jobs", "merge", "print_summary", "runs", "show", "track"]
