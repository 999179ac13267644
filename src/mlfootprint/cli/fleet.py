"""`mlfootprint fleet`: the footprint of a whole platform from the Prometheus telemetry it already runs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ConfigError, MlfootprintError
from .app import app, err, out

TOKEN_ENV = "MLFOOTPRINT_PROMETHEUS_TOKEN"
PASSWORD_ENV = "MLFOOTPRINT_PROMETHEUS_PASSWORD"
URL_ENV = "MLFOOTPRINT_PROMETHEUS_URL"


def _secret(path: Optional[Path], env: str, what: str) -> str | None:
    """A credential from a file (first line) or the environment; never from the command line, where
    it would show in the process list and the shell's history."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
        if not text:
            raise ConfigError(f"{what} {path} is empty")
        return text.splitlines()[0].strip()
    value = os.environ.get(env, "").strip()
    return value or None


def _labels(text: str, what: str) -> tuple[str, ...]:
    from ..fleet.promql import check_label

    return tuple(check_label(x.strip(), what) for x in text.split(",") if x.strip())


@app.command(short_help="A platform's footprint per team and model, from Prometheus")
def fleet(
    prometheus: Annotated[Optional[str], typer.Option(metavar="URL", help=f"Prometheus (or Thanos, Mimir, "
                          f"VictoriaMetrics) base URL, e.g. http://prometheus:9090 (default: {URL_ENV}).")] = None,
    start: Annotated[str, typer.Option(metavar="TIME", help="ISO 8601 time, or a duration before --end: 30d, 12h.")] = "30d",
    end: Annotated[str, typer.Option(metavar="TIME", help="ISO 8601 time, or now.")] = "now",
    month: Annotated[Optional[str], typer.Option(metavar="YYYY-MM", help="A calendar month (UTC), instead of "
                                                 "--start/--end.")] = None,
    by: Annotated[str, typer.Option(metavar="LABEL[,LABEL…]", help="Group by these labels: namespace, pod, container, "
                                    "host (each source's own names), or any label the series carry.")] = "namespace",
    source: Annotated[Optional[str], typer.Option(metavar="NAME[,NAME]", help="dcgm, kepler, node-exporter, "
                                                  "mlfootprint (default: those found, one per kind of hardware).")] = None,
    metric: Annotated[Optional[str], typer.Option(metavar="SELECTOR", help="Any energy counter instead of a preset, "
                                                  "e.g. my_gpu_energy_joules_total{cluster=\"a\"} (needs --unit).")] = None,
    unit: Annotated[Optional[str], typer.Option(metavar="J|mJ|uJ|Wh|kWh", help="The --metric counter's unit.")] = None,
    workload_label: Annotated[Optional[str], typer.Option(metavar="LABEL", help="--metric: the label whose presence "
                                                          "means a workload holds the device (default: pod).")] = "pod",
    filter_: Annotated[Optional[str], typer.Option("--filter", metavar="MATCHERS", help="Label matchers added to "
                                                   "every energy selector, e.g. 'cluster=\"eu-1\"'.")] = None,
    place_label: Annotated[Optional[str], typer.Option(metavar="LABEL", help="The label that says where a device is "
                                                       "(host, cluster, ...), matched against --places.")] = None,
    places: Annotated[Optional[Path], typer.Option(metavar="CSV", help="Label value -> site: value, site, country or "
                                                   "region, pue, renewable_share, wue, price_per_kwh, currency, "
                                                   "intensity_csv.")] = None,
    country: Annotated[Optional[str], typer.Option(metavar="CODE", help="Default place: ISO 3166 code or zone.")] = None,
    region: Annotated[Optional[str], typer.Option(metavar="PROVIDER:REGION", help="Default place: a cloud region.")] = None,
    pue: Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help="Default PUE.")] = None,
    renewable_share: Annotated[Optional[float], typer.Option(metavar="0-1", help="Default share covered by renewable "
                                                             "contracts (market-based CO2e).")] = None,
    intensity_csv: Annotated[Optional[str], typer.Option(metavar="CSV", help="Default hourly intensity series.")] = None,
    price_per_kwh: Annotated[Optional[float], typer.Option(metavar="PRICE", help="Electricity price (needs --currency).")] = None,
    currency: Annotated[Optional[str], typer.Option(metavar="ISO4217", help="Currency of the prices.")] = None,
    serving: Annotated[Optional[str], typer.Option(metavar="vllm|tgi|triton|tfserving", help="Join a model "
                                                   "server's request and token counters (serve's presets).")] = None,
    requests: Annotated[Optional[str], typer.Option(metavar="SELECTOR", help="Request counter (instead of, or over, "
                                                    "the --serving preset's).")] = None,
    tokens: Annotated[Optional[str], typer.Option(metavar="SELECTOR", help="Token counter.")] = None,
    model_label: Annotated[Optional[str], typer.Option(metavar="LABEL", help="The counters' model label (vLLM: "
                                                       "model_name).")] = None,
    join_on: Annotated[str, typer.Option(metavar="LABEL[,LABEL]", help="Labels that join a workload's energy to its "
                                         "counters.")] = "namespace,pod",
    kind_label: Annotated[Optional[str], typer.Option(metavar="LABEL", help="A label that says the kind of work "
                                                      "(training, serving, ...).")] = None,
    no_previous: Annotated[bool, typer.Option("--no-previous", help="Skip the previous period (the top movers).")] = False,
    bearer_token_file: Annotated[Optional[Path], typer.Option(metavar="FILE", help=f"Bearer token (default: "
                                                              f"{TOKEN_ENV}).")] = None,
    basic_auth_user: Annotated[Optional[str], typer.Option(metavar="USER", help="Basic-auth user.")] = None,
    basic_auth_password_file: Annotated[Optional[Path], typer.Option(metavar="FILE", help=f"Basic-auth password "
                                                                     f"(default: {PASSWORD_ENV}).")] = None,
    ca_file: Annotated[Optional[Path], typer.Option(metavar="PEM", help="CA certificate(s) to verify the server.")] = None,
    cert_file: Annotated[Optional[Path], typer.Option(metavar="PEM", help="Client certificate (mutual TLS).")] = None,
    key_file: Annotated[Optional[Path], typer.Option(metavar="PEM", help="Client key (mutual TLS).")] = None,
    insecure_skip_verify: Annotated[bool, typer.Option("--insecure-skip-verify", help="Do not verify the server's "
                                                       "TLS certificate (say so knowingly).")] = False,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Per request.")] = 120.0,
    concurrency: Annotated[int, typer.Option(metavar="N", help="Queries in flight at once.")] = 4,
    note: Annotated[Optional[str], typer.Option(metavar="TEXT", help="A line for the report's header (e.g. the "
                                                "platform's name, or that the data is simulated).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE.json", help="Write the JSON result "
                                                   "(for report, statement).")] = None,
    html: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Write the monthly HTML report.")] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Write the groups as CSV.")] = None,
) -> None:
    """Energy, CO2e, water and cost of a platform per team, model and kind of work, from the counters its
    Prometheus already holds (DCGM, Kepler, node exporter, model servers); idle capacity as its own group."""
    from ..fleet import PromClient, Request, access_from, fleet_footprint
    from ..fleet.collect import Options
    from ..fleet.places import load_sites, make_site
    from ..fleet.plan import Window, month as month_window, parse_time
    from ..fleet.sources import AUTO_ORDER, PRESETS, Source, custom, named, with_selector
    from ..fleet.sources import serving as serving_counters

    url = prometheus or os.environ.get(URL_ENV, "").strip()
    if not url:
        raise ConfigError(f"--prometheus URL is needed (or {URL_ENV}), e.g. http://prometheus:9090")
    if not 0 < timeout <= 3600:
        raise ConfigError(f"--timeout must be more than 0 and at most 3600 seconds, got {timeout:g}")
    if note is not None and len(note) > 300:
        raise ConfigError(f"--note is {len(note)} characters long: keep it under 300")
    if not 1 <= concurrency <= 64:
        raise ConfigError(f"--concurrency must be between 1 and 64, got {concurrency}")
    if html is not None:
        from ..extras import need

        need("fleet --html (the HTML report)", "plots")  # before any query, not after minutes of them
    now = time.time()
    if month:
        first, last = month_window(month)
        window = Window.of(first, min(last, now), now)
    else:
        t_end = parse_time(end, now, what="--end")
        window = Window.of(parse_time(start, now, before=t_end, what="--start"), t_end, now)
    group_by = _labels(by, "--by") if by.strip() else ()
    if metric is not None:
        if unit is None:
            raise ConfigError("--metric needs --unit (J, mJ, uJ, Wh or kWh): the counter's unit")
        if source is not None:
            raise ConfigError("give --source or --metric, not both")
        sources: list[Source] | None = [custom(metric, unit, workload_label=workload_label)]
    else:
        sources = named(source) if source is not None else None
    candidates = [PRESETS[n] for n in AUTO_ORDER]
    if filter_ is not None:
        sources = [with_selector(s, filter_) for s in sources] if sources else None
        candidates = [with_selector(s, filter_) for s in candidates]
    default_site = make_site("default", {"country": country, "region": region, "pue": pue,
                                         "renewable_share": renewable_share, "price_per_kwh": price_per_kwh,
                                         "currency": currency, "intensity_csv": intensity_csv}, "argument")
    if place_label is not None:
        _labels(place_label, "--place-label")
    if places is not None and place_label is None:
        place_label = "host"
    sites = load_sites(default_site, str(places) if places else None, place_label)
    counters = serving_counters(serving, requests, tokens, model_label)
    request = Request(window, sources, group_by, sites, counters, _labels(join_on, "--join-on") or ("namespace", "pod"),
                      _labels(kind_label, "--kind-label")[0] if kind_label else None, not no_previous,
                      Options(concurrency=concurrency), tuple(candidates), note)
    access = access_from(url, bearer_token=_secret(bearer_token_file, TOKEN_ENV, "--bearer-token-file"),
                         basic_user=basic_auth_user,
                         basic_password=_secret(basic_auth_password_file, PASSWORD_ENV, "--basic-auth-password-file"),
                         ca_file=str(ca_file) if ca_file else None, cert_file=str(cert_file) if cert_file else None,
                         key_file=str(key_file) if key_file else None, insecure_skip_verify=insecure_skip_verify,
                         timeout_s=timeout)
    result = fleet_footprint(PromClient(access), request)
    _write(result, json_out, output, html, csv_out)


def _write(result: object, json_out: bool, output: Optional[Path], html: Optional[Path], csv_out: Optional[Path]) -> None:
    from ..fleet.result import FleetResult
    from ..record import dumps

    assert isinstance(result, FleetResult)
    data = result.to_json()
    written = []
    if output is not None:
        _save(output, dumps(data, indent=2) + "\n")
        written.append(output)
    if html is not None:
        from ..report.fleet_html import fleet_report

        _save(html, fleet_report(result))
        written.append(html)
    if csv_out is not None:
        import io

        from ..report.fleet_files import write_fleet_csv

        buf = io.StringIO()
        write_fleet_csv(result, buf)
        _save(csv_out, buf.getvalue())
        written.append(csv_out)
    if json_out:
        typer.echo(dumps(data, indent=2))
    else:
        from ..report.fleet_terminal import print_fleet

        print_fleet(result, out)
    for path in written:
        err.print(f"wrote {path}", markup=False, highlight=False)


def fleet_statement_file(path: Path) -> str:
    """The fleet form of `statement`, for a result written by `fleet -o FILE.json`."""
    import json

    from ..fleet.result import FleetResult, is_fleet_json
    from ..report.fleet_statement import fleet_statement
    from ..userfile import read_text

    text = read_text(path, "fleet result")  # a regular file of bounded size, never a FIFO or a device
    try:
        data = json.loads(text)
        if not is_fleet_json(data):
            raise ValueError("not a fleet result (mlfootprint fleet -o FILE.json)")
        return fleet_statement(FleetResult.from_json(data))
    except (ValueError, OSError, KeyError, TypeError, RecursionError) as exc:  # as `report FILE.json` (R8)
        raise MlfootprintError(f"cannot make a statement of {path}: {type(exc).__name__}: {exc}") from None


def _save(path: Path, text: str) -> None:
    from ..atomic import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise MlfootprintError(f"cannot write {path}: {exc.strerror or exc}") from None


__all__ = ["fleet", "fleet_statement_file"]
