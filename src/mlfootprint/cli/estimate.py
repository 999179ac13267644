"""`mlfootprint estimate` (the footprint of a run before it happens) and `hardware` (the catalogue it uses)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import MlfootprintError
from .app import app, out


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MlfootprintError(f"{what} {text!r} is not a number (e.g. 70e9)") from None
    return _positive(value, what, text)


def _positive(value: float, what: str, shown: str | None = None) -> float:
    """`value` if it is a positive number below 1e30; else one line naming it (as the user wrote it)."""
    if not math.isfinite(value) or not 0 < value < 1e30:
        raise MlfootprintError(f"{what} must be a positive number below 1e30, got {shown or repr(value)!r}")
    return value


def _sweep_params(text: str, points: int) -> list[float]:
    lo, hi = (_number(p, "--params") for p in text.split(":", 1))
    if hi <= lo:
        raise MlfootprintError(f"--params {text!r}: the sweep must go from small to large, e.g. 1e8:1e12")
    return [lo * (hi / lo) ** (i / (points - 1)) for i in range(points)]


def _tokens_for(text: str, params: float) -> float:
    if text.lower().endswith("x"):  # tokens per parameter, e.g. 20x (Hoffmann et al. 2022's compute-optimal ratio)
        return _number(text[:-1], "--tokens multiplier") * params
    return _number(text, "--tokens")


@app.command()
def estimate(
    params: Annotated[Optional[str], typer.Option(metavar="N|LOW:HIGH", help="Parameters, e.g. 70e9; a sweep: 1e8:1e12.")] = None,
    tokens: Annotated[Optional[str], typer.Option(metavar="N|Nx", help="Training tokens (2e12), or tokens per parameter (20x).")] = None,
    hardware: Annotated[Optional[str], typer.Option(metavar="KEY", help="Accelerator key: 'mlfootprint hardware' lists them.")] = None,
    count: Annotated[Optional[int], typer.Option(metavar="N", help="Accelerators in parallel (wall time, server share).")] = None,
    model: Annotated[Optional[str], typer.Option(metavar="NAME", help="A known model, e.g. llama-2-70b (published specs).")] = None,
    gpu_hours: Annotated[Optional[float], typer.Option(metavar="HOURS", help="Accelerator-hours, instead of params x tokens.")] = None,
    power_w: Annotated[Optional[float], typer.Option(metavar="WATTS", help="Average watts per accelerator (default: TDP).")] = None,
    host_w: Annotated[float, typer.Option(metavar="WATTS", help="Host watts per accelerator (CPUs, RAM, network).")] = 0.0,
    mfu: Annotated[Optional[float], typer.Option(metavar="0-1", help="Model FLOPs utilization, 0-1, if you know "
                                                 "yours (overrides --utilization).")] = None,
    utilization: Annotated[str, typer.Option(metavar="effective|peak", help="effective: fitted to published runs, "
                                             "every hour the accelerators were held; peak: papers' steady-state MFU "
                                             "by family.")] = "effective",
    precision: Annotated[str, typer.Option(metavar="fp32|tf32|bf16|fp8", help="Peak used: fp32, tf32, bf16 or fp8.")] = "bf16",
    active_params: Annotated[Optional[str], typer.Option(metavar="N", help="Mixture of experts: parameters active per token.")] = None,
    layers: Annotated[Optional[int], typer.Option(metavar="N", help="Layers (adds the attention FLOPs with --d-model, --seq-len).")] = None,
    d_model: Annotated[Optional[int], typer.Option(metavar="N", help="Hidden size.")] = None,
    seq_len: Annotated[Optional[int], typer.Option(metavar="TOKENS", help="Sequence length (context, for inference).")] = None,
    inference: Annotated[bool, typer.Option("--inference", help="Serving: decode roofline (memory and compute), "
                                            "calibrated on published measurements.")] = False,
    tokens_per_request: Annotated[Optional[float], typer.Option(metavar="N", help="Inference: output tokens per request.")] = None,
    prompt_tokens: Annotated[Optional[float], typer.Option(metavar="N", help="Inference: prompt tokens per request.")] = None,
    batch: Annotated[Optional[int], typer.Option(metavar="N", help="Inference: concurrent sequences (default 64).")] = None,
    kv_dim: Annotated[Optional[int], typer.Option(metavar="N", help="Inference: key/value heads x head dim "
                                                  "(grouped-query attention; default d-model).")] = None,
    expert_share: Annotated[Optional[float], typer.Option(metavar="SHARE", help="Inference, mixture of experts: routed "
                                                          "experts per token / routed experts (8 of 128: 0.0625); "
                                                          "without it every parameter counts as routed.")] = None,
    requests: Annotated[Optional[str], typer.Option(metavar="N", help="Inference: number of requests, e.g. 1e6.")] = None,
    country: Annotated[Optional[str], typer.Option(metavar="CODE", help="ISO 3166 code or zone (US-CA).")] = None,
    region: Annotated[Optional[str], typer.Option(metavar="PROVIDER:REGION", help="Cloud region, e.g. gcp:europe-west1.")] = None,
    pue: Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help="Facility PUE (default: cited industry average).")] = None,
    intensity: Annotated[Optional[float], typer.Option(metavar="G/KWH", help="Grid intensity, gCO2e/kWh, instead of the zone's.")] = None,
    wue: Annotated[Optional[float], typer.Option(metavar="L/KWH", help="On-site water, L/kWh of IT energy.")] = None,
    price_per_kwh: Annotated[Optional[float], typer.Option(metavar="PRICE", help="Electricity price per kWh (needs --currency).")] = None,
    currency: Annotated[Optional[str], typer.Option(metavar="ISO4217", help="ISO 4217 code of --price-per-kwh.")] = None,
    points: Annotated[int, typer.Option(metavar="N", help="Points in a --params sweep.")] = 9,
    plot: Annotated[Path, typer.Option(metavar="PNG", help="Where a sweep writes its plot (PNG).")] = Path("estimate-sweep.png"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with every assumption and its source.")] = False,
) -> None:
    """Estimate energy, CO2e (operational and embodied), water and cost of a run before it happens."""
    from ..estimate import Workload, estimate as run_estimate
    from ..estimate.models import get as get_model
    from ..record import dumps

    for name, value in (("--gpu-hours", gpu_hours), ("--power-w", power_w), ("--host-w", host_w), ("--mfu", mfu),
                        ("--tokens-per-request", tokens_per_request), ("--prompt-tokens", prompt_tokens)):
        if value is not None and not math.isfinite(value):
            raise MlfootprintError(f"{name} must be a finite number, got {value}")

    spec = get_model(model) if model else None
    if spec is not None and spec.tokens is None and tokens is None and gpu_hours is None and not spec.hours \
            and not inference:
        raise MlfootprintError(f"{spec.name}: training tokens are not published; give --tokens or --gpu-hours")
    same_hw = hardware is None or (spec is not None and hardware.strip().lower() == spec.hardware)
    # the published training run, on its own hardware: its accelerators, power, place and hours apply
    as_published = spec is not None and same_hw and not inference
    base: dict[str, Any] = dict(
        hardware=hardware or (spec.hardware if spec else None),
        count=count if count is not None else (spec.accelerators if spec and as_published else None),
        active_params=_number(active_params, "--active-params") if active_params else (spec.active_params if spec else None),
        layers=layers if layers is not None else (spec.layers if spec else None),
        d_model=d_model if d_model is not None else (spec.d_model if spec else None),
        seq_len=seq_len if seq_len is not None else (spec.seq_len if spec else None), inference=inference, mfu=mfu,
        kv_dim=kv_dim if kv_dim is not None else (spec.kv_dim if spec else None), batch=batch, prompt_tokens=prompt_tokens,
        expert_share=expert_share if expert_share is not None else (spec.expert_share if spec else None),
        output_tokens=tokens_per_request if inference else None,
        utilization=utilization.strip().lower(), precision=precision, host_w=host_w, accelerator_hours=gpu_hours,
        power_w=power_w if power_w is not None else (spec.power_w if spec and as_published else None))
    if not inference and (batch is not None or prompt_tokens is not None or tokens_per_request is not None):
        raise MlfootprintError("--batch, --prompt-tokens and --tokens-per-request describe serving: add --inference")
    if inference:
        if tokens_per_request is None or requests is None:
            if tokens is None:
                raise MlfootprintError("--inference needs --tokens-per-request and --requests (or --tokens in total)")
        else:
            per_request = _positive(tokens_per_request, "--tokens-per-request")
            tokens = repr(_positive(per_request * _number(requests, "--requests"), "--tokens-per-request x --requests"))
        if spec is not None and tokens is None:
            raise MlfootprintError("--inference with --model needs --tokens-per-request and --requests")
    place = _place(country, region, pue, intensity, wue, price_per_kwh, currency)
    if spec is not None and as_published and not (country or region or pue is not None or intensity is not None):
        place = _published_place(place, spec)  # where it ran, as published, unless you say otherwise

    if params and ":" in params:
        if tokens is None:
            raise MlfootprintError("a sweep needs --tokens: a number, or tokens per parameter such as 20x")
        results = []
        for n in _sweep_params(params, max(2, points)):
            results.append(run_estimate(Workload(params=n, tokens=_tokens_for(tokens, n), label=f"{n:.3g}", **base), place))
        _write_plot(results, plot)
        if as_json:
            typer.echo(dumps({"sweep": results, "plot": str(plot)}, indent=2))
        else:
            _print_sweep(results, plot)
        return

    n = _number(params, "--params") if params else (spec.params if spec else None)
    if base["accelerator_hours"] is None and spec is not None and as_published and params is None and tokens is None \
            and spec.hours:
        base["accelerator_hours"] = spec.hours  # the published figure beats our FLOPs model
    d = _tokens_for(tokens, n or 1) if tokens else (spec.tokens if spec and not inference else None)
    result = run_estimate(Workload(params=n, tokens=d, label=spec.name if spec else None, **base), place)
    if spec is not None:
        result["model_source"] = spec.source
        result["published"] = _published_beside(spec, result, base, n, d, place, as_published)
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        _print_one(result)


def _published_place(place: Any, spec: Any) -> Any:
    from dataclasses import replace

    if spec.pue is not None:
        place = replace(place, pue=spec.pue, pue_source=f"published with {spec.name} ({spec.source})", pue_range=None)
    if spec.intensity_g_per_kwh is not None:
        place = replace(place, intensity_g_per_kwh=spec.intensity_g_per_kwh, intensity_range_g_per_kwh=None,
                        intensity_source=f"published with {spec.name} ({spec.source})")
    return place


def _published_beside(spec: Any, result: dict[str, Any], base: dict[str, Any], n: float | None, d: float | None,
                      place: Any, comparable: bool) -> dict[str, Any] | None:
    """The model's published figures, the estimate from its parameters and tokens alone, and the
    differences: what `--model` prints under the estimate."""
    from ..estimate import Workload, estimate as run_estimate

    if not comparable:
        return None
    from_size = None
    if n and d and spec.hardware:
        fields = dict(base, accelerator_hours=None)
        try:
            from_size = run_estimate(Workload(params=n, tokens=d, **fields), place)
        except MlfootprintError:  # e.g. no peak or TDP for this hardware: the published figures still stand
            from_size = None

    def diff(estimated: float | None, published: float | None) -> float | None:
        return None if estimated is None or not published else (estimated - published) / published

    return {
        "accelerator_hours": spec.hours, "co2e_kg": spec.published_co2e_kg, "energy_j": spec.published_energy_j,
        "source": spec.source,
        "from_params_and_tokens": None if from_size is None else {
            "accelerator_hours": from_size["accelerator_hours"], "range": from_size["accelerator_hours_range"],
            "co2e_kg": from_size["co2e_kg"], "hours_difference": diff(from_size["accelerator_hours"], spec.hours),
            "co2e_difference": diff(from_size["co2e_kg"], spec.published_co2e_kg)},
        "co2e_difference": diff(result["co2e_kg"], spec.published_co2e_kg),
        "place_published": spec.pue is not None and spec.intensity_g_per_kwh is not None,
    }


def _place(country: str | None, region: str | None, pue: float | None, intensity: float | None, wue: float | None,
           price: float | None, currency: str | None) -> Any:
    from dataclasses import replace

    from ..config import load_settings
    from ..factors import place_for
    from ..grid import resolve_location

    settings, origins = load_settings({"country": country, "region": region, "pue": pue, "wue": wue,
                                       "price_per_kwh": price, "currency": currency})
    location, _ = resolve_location(settings.site.country, settings.site.region)
    place = place_for(settings, origins, location)
    if intensity is not None:
        if not 0 <= intensity < 5000:
            raise MlfootprintError(f"--intensity must be between 0 and 5000 gCO2e/kWh, got {intensity:g}")
        place = replace(place, intensity_g_per_kwh=intensity, intensity_source="given", intensity_range_g_per_kwh=None)
    return place


def _print_one(result: dict[str, Any]) -> None:
    from rich.console import Group
    from rich.table import Table

    from ..report.format import fmt_energy
    from ..report.model import Citations
    from ..report.terminal import impact_table, notes

    cite = Citations()

    def ref(text: str) -> str:
        n = cite(text)
        return f"[{n}]" if n else ""

    title = f"estimate · {result['label'] or result['hardware'] or ''} · {result['workload']}"
    table = Table(title=title, title_justify="left")
    table.add_column("assumption")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("src", justify="right", no_wrap=True)
    for a in result["assumptions"]:
        v = a["value"]
        table.add_row(a["name"], f"{v:,.4g} {a['unit']}".strip() if isinstance(v, (int, float)) else str(v), ref(a["source"]))
    table.add_section()
    lo, hi = result["accelerator_hours_range"]
    table.add_row("[b]accelerator-hours[/]", f"[b]{result['accelerator_hours']:,.0f}[/]", "")
    if lo != hi:
        table.add_row("  range", f"{lo:,.0f} – {hi:,.0f}", "")
    if result["wall_time_s"]:
        table.add_row("wall time", f"{result['wall_time_s'] / 86400:,.1f} days", "")
    table.add_row("[b]IT energy[/]", f"[b]{fmt_energy(result['energy_j'])}[/]", "")
    parts: list[Any] = [table, impact_table(result["impact"], cite)]
    pub = result.get("published")
    if pub:
        from rich.text import Text

        from ..report.format import fmt_co2e

        segments = []
        if pub["accelerator_hours"]:
            segments.append(f"{pub['accelerator_hours']:,.0f} accelerator-hours")
        if pub["co2e_kg"]:
            note = "" if pub["place_published"] else (", at our default place: the publication gives no PUE or grid "
                                                     "intensity")
            segments.append(f"{fmt_co2e(pub['co2e_kg'])} CO2e" + (
                f" (this estimate {pub['co2e_difference']:+.0%}{note})" if pub["co2e_difference"] is not None else ""))
        size = pub.get("from_params_and_tokens")
        if size:
            segments.append(f"from parameters and tokens alone: {size['accelerator_hours']:,.0f} h "
                            f"({size['range'][0]:,.0f}-{size['range'][1]:,.0f})" + (
                                f", {size['hours_difference']:+.0%} against the published hours"
                                if size["hours_difference"] is not None else ""))
        line = Text("published: ", style="bold") + Text("; ".join(segments))
        parts.append(line)
        parts.append(Text(f"source: {pub['source']}", style="dim"))
    out.print(Group(*parts, notes(cite)))


def _print_sweep(results: list[dict[str, Any]], plot: Path) -> None:
    from rich.table import Table

    from ..report.terminal import fmt_co2e, fmt_energy

    table = Table(title="estimate sweep (training, estimated)", title_justify="left")
    for col in ("params", "tokens", "GPU-hours", "IT energy", "CO2e oper.", "CO2e emb."):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        table.add_row(f"{r['params']:.2g}", f"{r['tokens']:.2g}", f"{r['accelerator_hours']:,.0f}", fmt_energy(r["energy_j"]),
                      fmt_co2e(r["co2e_kg"]), fmt_co2e(r["co2e_embodied_kg"]))
    out.print(table)
    out.print(f"plot: {plot}")


def _write_plot(results: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MlfootprintError("a sweep plot needs matplotlib: pip install 'mlfootprint[plots]'") from None
    params = [r["params"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(params, [r["energy_kwh"] / 1000 for r in results], "o-", label="IT energy (MWh)")
    ax.loglog(params, [r["co2e_total_kg"] / 1000 for r in results], "s-", label="CO2e total (t)")
    ax.loglog(params, [r["water_l"] / 1000 for r in results], "^-", label="water (m³)")
    ax.set_xlabel("parameters")
    ax.set_title("Estimated training footprint against model size (estimated, not measured)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise MlfootprintError(f"cannot write the plot to {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


@app.command()
def hardware() -> None:
    """The accelerator catalogue: TDP, memory, dense peak TFLOP/s, embodied CO2e, default MFU, sources."""
    from rich.table import Table

    from ..hardware import accelerators, mfu_defaults

    table = Table(title="accelerators (dense peak TFLOP/s; '-' = not published, never guessed)", title_justify="left")
    for col in ("key", "TDP W", "mem GB", "mem TB/s", "fp32", "tf32", "bf16", "fp8", "kgCO2e", "MFU"):
        table.add_column(col, justify="left" if col == "key" else "right", no_wrap=True)
    mfu = mfu_defaults()

    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:g}"

    for a in accelerators().values():
        table.add_row(a.key, cell(a.tdp_w), cell(a.memory_gb), cell(a.memory_tb_s), *(cell(a.peak_tflops[p]) for p in
                      ("fp32", "tf32", "bf16", "fp8")), cell(a.embodied_kg),
                      cell(mfu[a.family].value) if a.family in mfu else "-")
    out.print(table)
    sources = sorted({a.source for a in accelerators().values()} | {a.embodied_source for a in accelerators().values()
                                                                    if a.embodied_source})
    out.print("Sources: " + " | ".join(sources), highlight=False)
    out.print("MFU by family: " + " | ".join(f"{k} {v.value:g} ({v.source})" for k, v in mfu.items()), highlight=False)
