"""`mlfootprint estimate` (the footprint of a run before it happens) and `hardware` (the catalogue it uses).

Parsing only: the options become an `estimate.Request` and a place, one library call answers
(`estimate.from_catalogue`, `estimate.sweep` or `estimate.estimate`), report/estimate_view.py prints.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MlfootprintError
from .app import app, out

SWEEP_PNG = "estimate_sweep.png"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MlfootprintError(f"{what} {text!r} is not a number (e.g. 70e9)") from None
    if not math.isfinite(value) or not 0 < value < 1e30:
        raise MlfootprintError(f"{what} must be a positive number below 1e30, got {text!r}")
    return value


def _tokens(text: str | None) -> tuple[float | None, float | None]:
    """(tokens, tokens per parameter) from "2e12" or "20x" (Hoffmann et al. 2022's compute-optimal ratio)."""
    if text is None:
        return None, None
    if text.lower().endswith("x"):
        return None, _number(text[:-1], "--tokens multiplier")
    return _number(text, "--tokens"), None


def _plot_path(plot: Path) -> Path:
    """Where the sweep plot goes: `plot`, or a file in it when it is a folder."""
    return plot / SWEEP_PNG if plot.is_dir() else plot


@app.command(short_help="Estimate a run's footprint before it happens")
def estimate(
    params: Annotated[Optional[str], typer.Option(metavar="N|LOW:HIGH", help="Parameters, e.g. 70e9; a sweep: 1e8:1e12.")] = None,
    tokens: Annotated[Optional[str], typer.Option(metavar="N|Nx", help="Training tokens (2e12), or tokens per parameter (20x).")] = None,
    hardware: Annotated[Optional[str], typer.Option(metavar="KEY", help="Accelerator key: 'mlfootprint hardware' lists them.")] = None,
    count: Annotated[Optional[int], typer.Option(metavar="N", help="Accelerators in parallel (wall time, server share).")] = None,
    model: Annotated[Optional[str], typer.Option(metavar="NAME", help="A known model, e.g. llama-2-70b (published specs).")] = None,
    accelerator_hours: Annotated[Optional[float], typer.Option(metavar="HOURS", help="Accelerator-hours, instead of params x tokens.")] = None,
    gpu_hours: Annotated[Optional[float], typer.Option(metavar="HOURS", hidden=True, help="Old name of --accelerator-hours.")] = None,
    power_w: Annotated[Optional[float], typer.Option(metavar="WATTS", help="Average watts per accelerator (default: TDP).")] = None,
    host_w: Annotated[float, typer.Option(metavar="WATTS", help="Host watts per accelerator (CPUs, RAM, network).")] = 0.0,
    mfu: Annotated[Optional[float], typer.Option(metavar="0-1", help="Model FLOPs utilization, 0-1, if you know "
                                                 "yours (overrides --utilization).")] = None,
    utilization: Annotated[str, typer.Option(metavar="effective|peak", help="effective: fitted to published runs, "
                                             "every hour the accelerators were held; peak: papers' steady-state MFU "
                                             "by family.")] = "effective",
    precision: Annotated[Optional[str], typer.Option(metavar="fp32|tf32|bf16|fp8", help="Peak used (default bf16); "
                                                     "fp8 training takes the measured FP8 gain.")] = None,
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
    attention_width: Annotated[Optional[int], typer.Option(metavar="N", help="Inference: query heads x head dim "
                                                           "(default d-model; latent attention: see README).")] = None,
    expert_share: Annotated[Optional[float], typer.Option(metavar="SHARE", help="Inference, mixture of experts: routed "
                                                          "experts per token / routed experts (8 of 128: 0.0625); "
                                                          "without it every parameter counts as routed.")] = None,
    experts: Annotated[Optional[int], typer.Option(metavar="N", help="Inference, mixture of experts: routed experts "
                                                   "per layer.")] = None,
    expert_parallel: Annotated[bool, typer.Option("--expert-parallel", help="Inference: whole experts spread over the "
                                                  "accelerators (vLLM --enable-expert-parallel).")] = False,
    expert_precision: Annotated[Optional[str], typer.Option(metavar="fp8|bf16", help="Inference: the experts' weights, "
                                                            "when not --precision.")] = None,
    requests: Annotated[Optional[str], typer.Option(metavar="N", help="Inference: number of requests, e.g. 1e6.")] = None,
    country: Annotated[Optional[str], typer.Option(metavar="CODE", help="ISO 3166 code or zone (US-CA).")] = None,
    region: Annotated[Optional[str], typer.Option(metavar="PROVIDER:REGION", help="Cloud region, e.g. gcp:europe-west1.")] = None,
    pue: Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help="Facility PUE (default: cited industry average).")] = None,
    intensity: Annotated[Optional[float], typer.Option(metavar="G/KWH", help="Grid intensity, gCO2e/kWh, instead of the zone's.")] = None,
    wue: Annotated[Optional[float], typer.Option(metavar="L/KWH", help="On-site water, L/kWh of IT energy.")] = None,
    price_per_kwh: Annotated[Optional[float], typer.Option(metavar="PRICE", help="Electricity price per kWh (needs --currency).")] = None,
    currency: Annotated[Optional[str], typer.Option(metavar="ISO4217", help="ISO 4217 code of --price-per-kwh.")] = None,
    points: Annotated[int, typer.Option(metavar="2-1000", help="Points in a --params sweep.")] = 9,
    plot: Annotated[Path, typer.Option(metavar="PNG|DIR", help="Where a sweep writes its plot (PNG; in a folder: "
                                       f"{SWEEP_PNG}).")] = Path("estimate-sweep.png"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with every assumption and its source.")] = False,
) -> None:
    """Estimate energy, CO2e (operational and embodied), water and cost of a run before it happens."""
    from .. import estimate as lib
    from ..record import dumps
    from ..report.estimate_view import print_estimate, print_sweep, write_sweep_png
    from ..shapes import to_json

    for name, value in (("--accelerator-hours", accelerator_hours), ("--gpu-hours", gpu_hours), ("--power-w", power_w),
                        ("--host-w", host_w), ("--mfu", mfu), ("--tokens-per-request", tokens_per_request),
                        ("--prompt-tokens", prompt_tokens)):
        if value is not None and not math.isfinite(value):
            raise MlfootprintError(f"{name} must be a finite number, got {value}")
    if gpu_hours is not None and accelerator_hours is not None and gpu_hours != accelerator_hours:
        raise MlfootprintError("--gpu-hours is the old name of --accelerator-hours: give one of them")
    total_tokens, per_param = _tokens(tokens)
    sweep = params is not None and ":" in params
    request = lib.Request(
        params=None if params is None or sweep else _number(params, "--params"), tokens=total_tokens,
        tokens_per_param=per_param, hardware=hardware, count=count,
        accelerator_hours=accelerator_hours if accelerator_hours is not None else gpu_hours, power_w=power_w,
        host_w=host_w, mfu=mfu, utilization=utilization.strip().lower(), precision=precision,  # type: ignore[arg-type]
        active_params=_number(active_params, "--active-params") if active_params else None, layers=layers,
        d_model=d_model, seq_len=seq_len, inference=inference, tokens_per_request=tokens_per_request,
        requests=_number(requests, "--requests") if requests else None, prompt_tokens=prompt_tokens, batch=batch,
        kv_dim=kv_dim, expert_share=expert_share, experts=experts, attention_width=attention_width,
        expert_parallel=expert_parallel, expert_precision=expert_precision)
    located = bool(country or region or pue is not None or intensity is not None)
    where = lib.place(country, region, pue, intensity, wue, price_per_kwh, currency)

    if sweep:
        assert params is not None
        from ..extras import need

        low, high = (_number(p, "--params") for p in params.split(":", 1))
        need("a --params sweep (it draws its plot with matplotlib)", "plots", ("matplotlib",))
        results = lib.sweep(low, high, points, request, where, model)
        target = _plot_path(plot)
        try:
            write_sweep_png(results, target)
        except OSError as exc:
            raise MlfootprintError(f"cannot write the plot to {target}: {exc.strerror or exc}") from None
        if as_json:
            typer.echo(dumps({"sweep": [to_json(r) for r in results], "plot": str(target)}, indent=2))
        else:
            print_sweep(results, target, out)
        return
    if model:
        result: lib.Estimate = lib.from_catalogue(model, where, located=located, **vars(request))
    else:
        result = lib.estimate(lib.workload(request), where)
    if as_json:
        typer.echo(dumps(to_json(result), indent=2))
    else:
        print_estimate(result, out)


@app.command(short_help="The accelerator catalogue: TDP, memory, peak TFLOP/s")
def hardware() -> None:
    """The accelerator catalogue: TDP, memory, dense peak TFLOP/s, embodied CO2e, default MFU, sources."""
    from rich.table import Table

    from ..hardware import accelerators, mfu_defaults

    table = Table(title="accelerators (dense peak TFLOP/s; - = not published)", title_justify="left",
                  padding=(0, 0), pad_edge=False, collapse_padding=True)
    for col in ("key", "TDP W", "GB", "TB/s", "fp32", "tf32", "bf16", "fp8", "kgCO2e", "MFU"):
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
