"""Sharing a footprint: an HTML report, a paper statement, and what this machine can measure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import MlfootprintError
from .app import StoreOpt, app, err, out
from .runs import reader

DEFAULT_REPORT = "footprint-report.html"


@app.command(short_help="Write a self-contained HTML report of a run or job")
def report(
    run_id: Annotated[str, typer.Argument(metavar="RUN_OR_JOB_ID|FILE.json", help="Run id or job id (a unique prefix "
                                          "is enough), or a reduce --json-file result or estimate --json sweep.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="HTML file to write.")] = Path(DEFAULT_REPORT),
    store: StoreOpt = None,
) -> None:
    """One self-contained HTML file: power over time with phases, energy by phase and component,
    impact with ranges and sources, quality, forecast vs actual; for a reduce result the Pareto plot,
    for an estimate sweep the footprint against model size. Opens offline."""
    from ..extras import need
    from ..report import write_report

    need("the HTML report", "plots")  # matplotlib draws its plots, Jinja2 writes the page
    if run_id.endswith(".json") and Path(run_id).exists():  # a file, or a FIFO/device refused by name
        path = _result_page(Path(run_id), output)
    else:
        path = write_report(reader(store), run_id, output)
    err.print(f"wrote {path} — open it in a browser: file://{path.resolve()}", markup=False, highlight=False)


def _result_page(source: Path, output: Path) -> Path:
    import json

    from ..atomic import write_atomic
    from ..fleet.result import is_fleet_json
    from ..report.html import result_report
    from ..userfile import read_text

    text = read_text(source, "result file")  # a regular file of bounded size, never a FIFO or a device
    try:
        data = json.loads(text)
        if is_fleet_json(data):  # a `fleet -o FILE.json` result: the fleet's monthly page
            from ..report.fleet_html import fleet_report_of

            page = fleet_report_of(data)
        else:
            page = result_report(data)
    except (ValueError, OSError, KeyError, TypeError, RecursionError) as exc:
        raise MlfootprintError(f"cannot make a report of {source}: {type(exc).__name__}: {exc}") from None
    try:
        write_atomic(output, page)
    except OSError as exc:
        raise MlfootprintError(f"cannot write {output}: {exc.strerror or exc}") from None
    return output


@app.command(short_help="A paragraph a paper can quote, with its sources")
def statement(
    run_id: Annotated[str, typer.Argument(metavar="RUN_OR_JOB_ID|FLEET.json", help="Run id or job id (a unique "
                                          "prefix is enough), or a fleet result (fleet -o FILE.json).")],
    store: StoreOpt = None,
) -> None:
    """A paragraph a paper can quote: hardware, hours, energy and how it was obtained, PUE, grid
    intensity, CO2e with its range, embodied CO2e, water, each with its source."""
    if run_id.endswith(".json") and Path(run_id).exists():  # a file, or a FIFO/device refused by name
        from .fleet import fleet_statement_file

        typer.echo(fleet_statement_file(Path(run_id)))
        return
    from ..report import statement_of

    typer.echo(statement_of(reader(store), run_id))


@app.command(short_help="Which sensors this machine would use, and what is missing")
def doctor() -> None:
    """Which sensors this machine would use and why; what is missing and how to fix it."""
    from ..config import load_settings
    from ..jobenv import detect
    from ..sensors import amd_driver_present, discover_sensors, nvidia_driver_present
    from ..sensors.rapl import POWERCAP_ROOT, RaplSensor
    from ..store.urls import display_url, to_url

    settings, origins = load_settings()
    sensors, warnings = discover_sensors(gpu=settings.sampling.gpu)
    out.print(f"mlfootprint {_version()} · Python {sys.version.split()[0]} · {sys.platform}", markup=False)
    out.print("sensors that a run here would use:", markup=False)
    for sensor in sensors:
        for ch in sensor.channels():
            out.print(f"  {ch.key:<16} {ch.kind:<4} {ch.method:<9} {ch.source} ({ch.name})", markup=False)
    advice = []
    if not nvidia_driver_present():
        advice.append("no NVIDIA driver found (/dev/nvidiactl, /proc/driver/nvidia): NVIDIA GPUs are not read")
    else:
        try:
            import pynvml  # noqa: F401
        except ImportError:
            advice.append("NVIDIA driver present but nvidia-ml-py is not installed: pip install nvidia-ml-py")
    if not amd_driver_present():
        advice.append("no amdgpu driver (/dev/kfd): AMD GPUs are not read")
    if not any(isinstance(s, RaplSensor) for s in sensors):
        if not POWERCAP_ROOT.exists():
            advice.append(f"no {POWERCAP_ROOT}: CPU energy is modelled from utilization (a VM or non-Linux host)")
        else:
            advice.append(f"{POWERCAP_ROOT} is there but not readable: CPU energy is modelled; to measure it, "
                          "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj (or a udev rule)")
    for line in warnings + advice:
        out.print(f"  note: {line}", markup=False)
    job = detect(override=settings.recording.job)
    out.print(f"distributed job: {job.job_id} (rank {job.rank}, from {job.detected_from})" if job else
              "distributed job: none detected (no torchrun, Slurm or MPI variables)", markup=False)
    out.print(f"store: {display_url(to_url(settings.recording.store))} (from {origins.get('store', 'default')})", markup=False)
    out.print(f"location: {settings.site.region or settings.site.country or 'not set: the world average is used'}",
              markup=False)


def _version() -> str:
    from ..version import __version__

    return __version__


__all__ = ["DEFAULT_REPORT", "doctor", "report", "statement"]
