"""`mlfootprint serve`: energy per request and per token of a model server, from outside it (the loop
itself is the library's: serving/monitor.py).

The server is not ours to edit (TensorFlow Serving, Triton, vLLM, TGI, or a Python app): we run it
(or attach to it with --pid), measure the machine (or, in process scope, the server's process tree),
and every --window seconds read its Prometheus request and token counters. Each window pairs the
counters' increase with the energy measured over it (serving/windows.py); the record keeps the
windows, and `show` prints J per request and per token idle included and excluded, p50/p95 over the
windows, the idle share and CO2e per 1,000 requests (serving/__init__.py says how each is defined).
"""

from __future__ import annotations

import shlex
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import MlfootprintError
from ..shapes import to_json
from .app import CountryOpt, IntervalOpt, NoGpuOpt, ProjectOpt, PueOpt, QuietOpt, RegionOpt, StoreOpt, app
from .runs import Scope, print_summary


class Preset(str, Enum):
    vllm = "vllm"
    tgi = "tgi"
    triton = "triton"
    tfserving = "tfserving"


@app.command(context_settings={"allow_interspersed_args": False}, short_help="Measure a model server: energy per request and per token")
def serve(
    command: Annotated[Optional[list[str]], typer.Argument(help="The server to run, after --.", show_default=False,
                                                           metavar="[-- COMMAND [ARGS]...]")] = None,
    metrics_url: Annotated[Optional[str], typer.Option(metavar="URL", help="The server's Prometheus endpoint "
                                                       "(default: the preset's).")] = None,
    preset: Annotated[Optional[Preset], typer.Option(help="Counters (and endpoint) of a known server.")] = None,
    requests_counter: Annotated[Optional[str], typer.Option(metavar="NAME", help="Counter of requests answered, e.g. "
                                                            "vllm:request_success_total or name{label=\"v\"}.")] = None,
    tokens_counter: Annotated[Optional[str], typer.Option(metavar="NAME", help="Counter of tokens generated.")] = None,
    model_params: Annotated[Optional[float], typer.Option(metavar="N", help="The served model's parameters (e.g. "
                                                          "8e9): the record then shows the inference estimate beside "
                                                          "the measurement (needs --hardware).")] = None,
    model: Annotated[Optional[str], typer.Option(metavar="NAME", help="A known model (e.g. llama-3.1-8b): its size "
                                                 "and shape for the estimate, instead of --model-params.")] = None,
    model_layers: Annotated[Optional[int], typer.Option(metavar="N", help="Estimate: the model's layers.")] = None,
    model_d_model: Annotated[Optional[int], typer.Option(metavar="N", help="Estimate: its hidden size.")] = None,
    model_kv_dim: Annotated[Optional[int], typer.Option(metavar="N", help="Estimate: key/value heads x head dim.")] = None,
    batch: Annotated[Optional[int], typer.Option(metavar="N", help="Estimate: the server's concurrent sequences "
                                                 "(e.g. vLLM max_num_seqs; default 64).")] = None,
    prompt_tokens: Annotated[Optional[float], typer.Option(metavar="N", help="Estimate: prompt tokens per request.")] = None,
    hardware: Annotated[Optional[str], typer.Option(metavar="KEY", help="The accelerator it runs on, for the estimate "
                                                    "(`mlfootprint hardware` lists them).")] = None,
    tokens_per_request: Annotated[Optional[float], typer.Option(metavar="N", help="Tokens per request, for the "
                                                                "estimate when no token counter is read.")] = None,
    pid: Annotated[Optional[int], typer.Option(metavar="PID", help="Attach to a running server instead of running "
                                               "COMMAND (process scope charges its process tree).")] = None,
    window: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds per window (1-3600).")] = 10.0,
    duration: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="Stop after this long (a server we "
                                                      "started gets SIGTERM).")] = None,
    project: ProjectOpt = None,
    country: CountryOpt = None,
    region: RegionOpt = None,
    pue: PueOpt = None,
    interval: IntervalOpt = None,
    scope: Annotated[Optional[Scope], typer.Option(help="Charge the whole machine, or the server's process tree.")] = None,
    store: StoreOpt = None,
    no_gpu: NoGpuOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure a model server: IT energy per request and per token, idle included and excluded."""
    from ..serving.monitor import measure_server, serve_config
    from ..serving.scrape import PRESETS, Selector
    from ..tracker import track as Tracker

    command = command or []
    if not 1 <= window <= 3600:
        raise MlfootprintError(f"--window must be between 1 and 3600 seconds, got {window:g}")
    if duration is not None and not duration > 0:
        raise MlfootprintError(f"--duration must be a positive number of seconds, got {duration:g}")
    if pid is not None and not 1 <= pid <= 2**31 - 1:
        raise MlfootprintError(f"--pid {pid}: no such process (a process id is between 1 and {2**31 - 1})")
    chosen = PRESETS[preset.value] if preset else {}
    url = metrics_url or chosen.get("url")
    counter = requests_counter or chosen.get("requests")
    if not url:
        raise MlfootprintError("no metrics endpoint: give --metrics-url URL (the server's Prometheus /metrics) "
                               "or --preset vllm|tgi|triton|tfserving")
    if not url.startswith(("http://", "https://")):
        from ..urlmask import mask_url

        raise MlfootprintError(f"--metrics-url {mask_url(url)!r} is not an http:// or https:// URL")
    if not counter:
        raise MlfootprintError("no request counter: give --requests-counter NAME or --preset vllm|tgi|triton|tfserving")
    try:
        selectors = [Selector.parse(counter)]
        token_name = tokens_counter or chosen.get("tokens")
        if token_name:
            selectors.append(Selector.parse(token_name))
    except ValueError as exc:
        raise MlfootprintError(str(exc)) from None
    _check_estimate_inputs(model, model_params, hardware, model_layers, model_d_model, model_kv_dim, batch,
                           prompt_tokens, tokens_per_request)
    config = serve_config(url, selectors, window, preset=preset.value if preset else None, attached_pid=pid,
                          model=model, model_params=model_params, hardware=hardware, layers=model_layers,
                          d_model=model_d_model, kv_dim=model_kv_dim, batch=batch, prompt_tokens=prompt_tokens,
                          tokens_per_request=tokens_per_request)
    tracker = Tracker(project or "serve", country=country, region=region, pue=pue, interval_s=interval,
                      scope=scope.value if scope else None, store=store, gpu=False if no_gpu else None,
                      command=shlex.join(command) if command else f"(attached to pid {pid})", pid=pid,
                      extra={"serve": to_json(config)})
    result = measure_server(tracker, url, selectors, config, command=command or None, pid=pid, duration_s=duration)
    print_summary(result.run, quiet)
    raise typer.Exit(result.exit_code)


def _check_estimate_inputs(model: str | None, model_params: float | None, hardware: str | None,
                           layers: int | None, d_model: int | None, kv_dim: int | None, batch: int | None,
                           prompt_tokens: float | None, tokens_per_request: float | None) -> None:
    """The estimate's inputs, refused now in one line (an unknown model or accelerator lists the known ones)."""
    if model is not None:
        from ..estimate.models import get as get_model

        model_params = model_params or get_model(model).params
    if (model_params is None) != (hardware is None):
        raise MlfootprintError("the inference estimate needs both --model-params (or --model) and --hardware")
    for name, value in (("--model-layers", layers), ("--model-d-model", d_model), ("--model-kv-dim", kv_dim),
                        ("--batch", batch)):
        if value is not None and value < 1:
            raise MlfootprintError(f"{name} must be a positive integer, got {value}")
    if prompt_tokens is not None and not 0 <= prompt_tokens < 1e30:
        raise MlfootprintError(f"--prompt-tokens must be a number from 0 to 1e30, got {prompt_tokens:g}")
    if model_params is not None:
        from ..hardware import get

        if not model_params > 0:
            raise MlfootprintError(f"--model-params must be a positive number, got {model_params:g}")
        get(hardware or "")
    if tokens_per_request is not None and not tokens_per_request > 0:
        raise MlfootprintError(f"--tokens-per-request must be a positive number, got {tokens_per_request:g}")
