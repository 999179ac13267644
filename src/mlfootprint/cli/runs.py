"""Measuring and looking at runs: track, runs, show, export."""

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

from ..errors import MlfootprintError
from . import StoreOpt, app, err, out


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
    wue: Annotated[Optional[float], typer.Option(help="On-site water usage effectiveness, L/kWh of IT energy "
                                                 "(default: the cited US average).")] = None,
    price_per_kwh: Annotated[Optional[float], typer.Option(help="Electricity price per kWh (needs --currency).")] = None,
    currency: Annotated[Optional[str], typer.Option(help="ISO 4217 code of the prices given, e.g. EUR.")] = None,
    instance_price_per_hour: Annotated[Optional[float], typer.Option(help="What the machine costs per hour.")] = None,
    renewable_share: Annotated[Optional[float], typer.Option(help="Share (0-1) covered by renewable contracts: "
                                                             "adds a market-based CO2e.")] = None,
    intensity_csv: Annotated[Optional[Path], typer.Option(help="Hourly intensity CSV (time, intensity_g_per_kwh): "
                                                          "each sample is charged at its own hour.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id at the end.")] = False,
) -> None:
    """Run COMMAND under the meter; stream its output; exit with its exit code."""
    import tempfile

    from ..progress import ENV_VAR, read_progress
    from ..tracker import track as Tracker

    if not command:
        raise MlfootprintError("no command given: write it after --, e.g. mlfootprint track -- python train.py")
    if os.sep not in command[0] and shutil.which(command[0]) is None:
        raise MlfootprintError(f"cannot run {command[0]!r}: no such command on PATH")
    if epochs is not None and epochs < 1:
        raise MlfootprintError(f"--epochs must be a positive integer, got {epochs}")
    tracker = Tracker(project=project, country=country, region=region, pue=pue, interval_s=interval,
                      scope=scope.value if scope else None, store=store, gpu=False if no_gpu else None,
                      budget_kwh=budget_kwh, budget_co2e_kg=budget_co2e_kg, stop_over_budget=stop_over_budget or None,
                      progress_bar=(epochs is not None and not quiet) or None, wue=wue, price_per_kwh=price_per_kwh,
                      currency=currency, instance_price_per_hour=instance_price_per_hour,
                      renewable_share=renewable_share, intensity_csv=str(intensity_csv) if intensity_csv else None,
                      command=shlex.join(command))
    run = tracker.start()
    progress_dir = tempfile.mkdtemp(prefix="mlfootprint-")
    progress_file = os.path.join(progress_dir, "progress")
    try:
        try:
            child = subprocess.Popen(command, env=dict(os.environ, **{ENV_VAR: progress_file}))
        except OSError as exc:
            tracker.stop("failed", 127)
            raise MlfootprintError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None

        def relay_progress() -> None:
            reported = read_progress(progress_file)
            if reported is not None:
                run.progress(reported[0], reported[1] or epochs)

        save_tick = run._on_tick  # the child's progress first, then the run's own periodic work
        run.meter.on_tick = lambda meter: (relay_progress(), save_tick(meter))
        run.watch.on_over_budget = lambda: _terminate(child)
        rc = _wait_forwarding_signals(child)
        relay_progress()  # the last report may have landed after the last tick
    finally:
        shutil.rmtree(progress_dir, ignore_errors=True)
    exit_code = rc if rc >= 0 else 128 - rc
    killed = rc in (-signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP)
    tracker.stop("completed" if rc == 0 else "interrupted" if killed else "failed", exit_code)
    if quiet:
        err.print(run.id)
    else:
        from ..report.terminal import print_run

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
    from ..report.terminal import runs_table
    from ..store import open_store

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
    from ..report.terminal import print_run
    from ..store import open_store

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
    from ..report.files import to_csv, to_json
    from ..store import open_store

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
