"""`mlfootprint serve`: energy per request and per token of a model server, from outside it.

The server is not ours to edit (TensorFlow Serving, Triton, vLLM, TGI, or a Python app): we run it
(or attach to it with --pid), measure the machine (or, in process scope, the server's process tree),
and every --window seconds read its Prometheus request and token counters. Each window pairs the
counters' increase with the energy measured over it (serving/windows.py); the record keeps the
windows, and `show` prints J per request and per token idle included and excluded, p50/p95 over the
windows, the idle share and CO2e per 1,000 requests (serving/__init__.py says how each is defined).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from ..errors import MlfootprintError
from . import CountryOpt, IntervalOpt, NoGpuOpt, ProjectOpt, PueOpt, QuietOpt, RegionOpt, StoreOpt, app, err
from .process import SignalRelay, become_subreaper, check_interpreter, die_with_parent, terminate, why_not_run
from .runs import Scope, print_summary


class Preset(str, Enum):
    vllm = "vllm"
    tgi = "tgi"
    triton = "triton"
    tfserving = "tfserving"


@app.command(context_settings={"allow_interspersed_args": False})
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
    """Measure a model server: energy per request and per token, idle included and excluded."""
    from ..serving.scrape import PRESETS, Selector
    from ..tracker import track as Tracker

    command = command or []
    if bool(command) == (pid is not None):
        raise MlfootprintError("give the server to run after -- , or --pid of a running one (not both)")
    if not 1 <= window <= 3600:
        raise MlfootprintError(f"--window must be between 1 and 3600 seconds, got {window:g}")
    if duration is not None and not duration > 0:
        raise MlfootprintError(f"--duration must be a positive number of seconds, got {duration:g}")
    chosen = PRESETS[preset.value] if preset else {}
    url = metrics_url or chosen.get("url")
    counter = requests_counter or chosen.get("requests")
    if not url:
        raise MlfootprintError("no metrics endpoint: give --metrics-url URL (the server's Prometheus /metrics) "
                               "or --preset vllm|tgi|triton|tfserving")
    if not url.startswith(("http://", "https://")):
        raise MlfootprintError(f"--metrics-url {url!r} is not an http:// or https:// URL")
    if not counter:
        raise MlfootprintError("no request counter: give --requests-counter NAME or --preset vllm|tgi|triton|tfserving")
    try:
        selectors = [Selector.parse(counter)]
        token_name = tokens_counter or chosen.get("tokens")
        if token_name:
            selectors.append(Selector.parse(token_name))
    except ValueError as exc:
        raise MlfootprintError(str(exc)) from None
    spec = None
    if model is not None:
        from ..estimate.models import get as get_model

        spec = get_model(model)
        if model_params is None:
            model_params = spec.params
    if (model_params is None) != (hardware is None):
        raise MlfootprintError("the inference estimate needs both --model-params (or --model) and --hardware")
    for name, value in (("--model-layers", model_layers), ("--model-d-model", model_d_model),
                        ("--model-kv-dim", model_kv_dim), ("--batch", batch)):
        if value is not None and value < 1:
            raise MlfootprintError(f"{name} must be a positive integer, got {value}")
    if prompt_tokens is not None and not 0 <= prompt_tokens < 1e30:
        raise MlfootprintError(f"--prompt-tokens must be a number from 0 to 1e30, got {prompt_tokens:g}")
    if model_params is not None:
        from ..hardware import get

        if not model_params > 0:
            raise MlfootprintError(f"--model-params must be a positive number, got {model_params:g}")
        get(hardware or "")  # an unknown accelerator is refused now, with the known ones listed
    if tokens_per_request is not None and not tokens_per_request > 0:
        raise MlfootprintError(f"--tokens-per-request must be a positive number, got {tokens_per_request:g}")
    if pid is not None:
        import psutil

        if not psutil.pid_exists(pid):
            raise MlfootprintError(f"--pid {pid}: no such process")
    else:
        if os.sep not in command[0] and shutil.which(command[0]) is None:
            raise MlfootprintError(f"cannot run {command[0]!r}: no such command on PATH")
        check_interpreter(command[0])

    config = {"metrics_url": url, "requests_counter": str(selectors[0]),
              "tokens_counter": str(selectors[1]) if len(selectors) > 1 else None,
              "preset": preset.value if preset else None, "window_s": window,
              "attached_pid": pid, "model_params": model_params, "hardware": hardware,
              "model_active_params": spec.active_params if spec else None,
              "model_layers": model_layers or (spec.layers if spec else None),
              "model_d_model": model_d_model or (spec.d_model if spec else None),
              "model_kv_dim": model_kv_dim or (spec.kv_dim if spec else None), "batch": batch,
              "model_expert_share": spec.expert_share if spec else None,
              "prompt_tokens": prompt_tokens,
              "tokens_per_request": tokens_per_request}
    tracker = Tracker(project=project or "serve", country=country, region=region, pue=pue, interval_s=interval,
                      scope=scope.value if scope else None, store=store, gpu=False if no_gpu else None,
                      command=shlex.join(command) if command else f"(attached to pid {pid})",
                      pid=pid, extra={"serve": config})
    run = tracker.start()
    exit_code = 0
    child: subprocess.Popen[bytes] | None = None
    relay = None
    try:
        if command:
            become_subreaper()
            relay = SignalRelay()
            try:
                child = subprocess.Popen(command, preexec_fn=die_with_parent())
            except OSError as exc:
                relay.restore()
                tracker.stop("failed", 127)
                raise MlfootprintError(f"cannot run {command[0]!r}: {why_not_run(exc, command[0])}") from None
            relay.child = child
        stopping = _watch(run, selectors, url, window, duration, child, pid)
        if child is not None:
            if stopping:
                terminate(child)
            rc = child.wait()
            # stopped by us (--duration) or by SIGINT/SIGTERM passed on to it: a server's normal end
            exit_code = 0 if rc in (-signal.SIGTERM, -signal.SIGINT) else (rc if rc >= 0 else 128 - rc)
    finally:
        if relay is not None:
            relay.restore()
    status = "completed" if exit_code == 0 else "failed"
    tracker.stop(status, exit_code if command else None)
    print_summary(run, quiet)
    raise typer.Exit(exit_code)


POLL_S = 1.0  # counters are read this often, so a server that stops loses at most this much of its last window


def _watch(run: Any, selectors: list[Any], url: str, window_s: float, duration_s: float | None,
           child: subprocess.Popen[bytes] | None, pid: int | None) -> bool:
    """Read the counters every second and close a window every `window_s`, until the server ends
    (False) or --duration asks us to stop it (True). The last, partial window ends at the last read."""
    import psutil

    from ..serving.scrape import fetch, read_counters
    from ..serving.windows import WindowCounter

    counter = WindowCounter()
    stop = {"now": False}
    if child is None:  # attached: our own SIGINT/SIGTERM end the measurement, not the server
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, lambda *_: stop.update(now=True))
    failures, first_error = 0, None
    latest: tuple[float, float, list[float | None]] | None = None  # the last read, with the energy then
    start = time.monotonic()
    next_poll = next_window = start

    def close(reading: tuple[float, float, list[float | None]]) -> None:
        window = counter.observe(*reading)
        if window is not None:
            run.windows.append(dict(window, i=len(run.windows)))

    def ended(result: bool) -> bool:
        if latest is not None and counter.last_t_s is not None and latest[0] > counter.last_t_s:
            close(latest)
        return result

    while True:
        if (child is not None and child.poll() is not None) or (pid is not None and not psutil.pid_exists(pid)) \
                or stop["now"]:
            return ended(False)
        if duration_s is not None and time.monotonic() - start >= duration_s:
            return ended(True)
        now = time.monotonic()
        if now >= next_poll:
            next_poll = now + min(POLL_S, window_s)
            try:
                values = read_counters(fetch(url, timeout_s=min(5.0, window_s)), selectors)
            except Exception as exc:  # not up yet, or a bad answer: the window grows until the next read
                failures += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                if failures * POLL_S > 120 and not run.windows:
                    _warn_once(run, f"the metrics endpoint {url} has not answered for {failures * POLL_S:.0f} s "
                                    f"({first_error}); still measuring energy")
                values = None
            if values is not None:
                for sel, value in zip(selectors, values):
                    if value is None:
                        _warn_once(run, f"the metrics at {url} have no series named {sel}: it is not counted "
                                        "(check --requests-counter / --tokens-counter)")
                boundary = now >= next_window or counter.last_t_s is None
                if boundary:
                    run.meter.sample()  # the energy up to this moment, paired with the counters just read
                with run.meter.lock:
                    latest = (run.meter.elapsed_s, sum(st.energy_j for st in run.meter.states.values()), values)
                if boundary:
                    next_window = now + window_s
                    close(latest)
        time.sleep(max(0.0, min(0.2, next_poll - time.monotonic())))


def _warn_once(run: Any, message: str) -> None:
    if message not in run.warnings:
        run.warnings.append(message)
        err.print(f"mlfootprint: {message}", markup=False)
