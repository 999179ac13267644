"""Carbon-aware advice and the location tables: when, where, locations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MlfootprintError
from .app import app, err, out


@app.command(short_help="The cleanest time to start a job, and what it saves")
def when(
    duration: Annotated[str, typer.Option(metavar="6h|90m", help="How long the job runs: 6h, 90m, 1h30m.")],
    within: Annotated[str, typer.Option(metavar="24h", help="Latest start, from now: 24h, 48h.")] = "24h",
    region: Annotated[Optional[str], typer.Option(metavar="GB", help="GB for the GB Carbon Intensity API (no key).")] = None,
    zone: Annotated[Optional[str], typer.Option(metavar="ZONE", help="An Electricity Maps zone (needs ELECTRICITYMAPS_TOKEN).")] = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", metavar="CSV", help="A forecast CSV: time, intensity_g_per_kwh.")] = None,
    energy_kwh: Annotated[Optional[float], typer.Option(metavar="KWH", help="The job's facility energy, for the saving in kg.")] = None,
    now: Annotated[Optional[str], typer.Option(metavar="ISO-TIME", help="Treat this ISO time as now (default: the clock).")] = None,
) -> None:
    """The cleanest time to start a job of DURATION, and what it saves against starting now."""
    from datetime import datetime, timezone

    from ..grid.advice import parse_duration, when as advise
    from ..grid.series import electricitymaps_forecast, from_csv, gb_forecast, parse_time
    from ..report.terminal import fmt_co2e

    job, window = parse_duration(duration), parse_duration(within)
    if energy_kwh is not None and not 0 < energy_kwh < 1e12:
        raise MlfootprintError(f"invalid --energy-kwh {energy_kwh!r}: must be a positive number below 1e12")
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


@app.command(short_help="The cleanest place to run a job, and what it saves")
def where(
    energy_kwh: Annotated[float, typer.Option(metavar="KWH", help="The job's IT energy in kWh.")],
    candidates: Annotated[str, typer.Option(metavar="LIST", help="Comma-separated countries or regions: FR,DE,US-CA,gcp:europe-north1.")],
    here: Annotated[Optional[str], typer.Option(metavar="ZONE", help="Where it would run otherwise (default: the first candidate).")] = None,
    pue: Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help="PUE applied everywhere (default: the "
                                                 "configured PUE, else the cited industry average).")] = None,
) -> None:
    """The cleanest place to run a job of ENERGY_KWH, and what it saves against running here."""
    from rich.table import Table

    from ..grid.advice import where as rank
    from ..config import load_settings
    from ..report.format import fmt_co2e

    pue = load_settings({"pue": pue})[0].site.pue  # validated, and MLFOOTPRINT_PUE / the config file apply here too
    codes = [c.strip() for c in candidates.split(",") if c.strip()]
    options = rank(energy_kwh, codes + ([here] if here and here not in codes else []), pue)
    base = options[codes.index(here) if here in codes else (len(options) - 1 if here else 0)]
    table = Table("where", "gCO2e/kWh", "basis", "CO2e", "vs here", "source", title=f"{energy_kwh:g} kWh at PUE {pue:g}",
                  title_justify="left")
    for o in sorted(options, key=lambda o: o.co2e_kg):
        name = o.location.region or o.location.country or "?"
        delta = (o.co2e_kg - base.co2e_kg) / base.co2e_kg if base.co2e_kg else 0.0
        table.add_row(name + (" (here)" if o is base else ""), f"{o.location.intensity_g_per_kwh:g}", o.location.basis,
                      fmt_co2e(o.co2e_kg), f"{delta:+.0%}", o.location.intensity_source)
    out.print(table)
    bases = sorted({o.location.basis for o in options})
    if len(bases) > 1:
        err.print(f"mlfootprint: note: the figures compared have different bases ({', '.join(bases)}): a lifecycle "
                  "figure counts upstream and supply-chain emissions that direct and operational ones leave out, so "
                  "the ranking favours the latter; compare like with like where you can", markup=False, soft_wrap=True)
    best = min(options, key=lambda o: o.co2e_kg)
    if best is not base:
        out.print(f"cleanest: {best.location.region or best.location.country}, saving "
                  f"{fmt_co2e(base.co2e_kg - best.co2e_kg)} ({1 - best.co2e_kg / base.co2e_kg:.0%}) against "
                  f"{base.location.region or base.location.country}")


@app.command(short_help="Known countries, zones and cloud regions")
def locations(
    search: Annotated[Optional[str], typer.Argument(metavar="SEARCH", help="Filter by code or name.")] = None,
) -> None:
    """Known countries, zones and cloud regions with their grid intensity and source."""
    from rich.table import Table

    from ..grid import all_regions, all_zones

    table = Table("code", "name", "gCO2e/kWh", "year", "source", "CFE")
    needle = (search or "").lower()
    for z in all_zones().values():
        if needle in f"{z.zone} {z.alpha3} {z.name}".lower():
            table.add_row(f"{z.zone} {z.alpha3}".strip(), z.name, f"{z.intensity_g_per_kwh:g}", str(z.year),
                          f"{z.source} ({z.basis})", "")
    for r in all_regions().values():
        if needle in f"{r.region} {r.location}".lower():
            ci = f"{r.intensity_g_per_kwh:g}" if r.intensity_g_per_kwh is not None else f"= {r.zone}"
            # CFE: the provider's share of carbon-free energy in the region's hours (Google publishes it)
            table.add_row(r.region, r.location, ci, str(r.year or ""), r.source, f"{r.cfe:.0%}" if r.cfe is not None else "")
    out.print(table)

