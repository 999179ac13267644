"""Serving: energy per request and per token of a running model server.

`scrape.py` reads the server's Prometheus counters, `windows.py` pairs their increase with the
energy measured over the same time window, `monitor.py` runs that loop beside a run (what
`mlfootprint serve` does, and what a Python supervisor or notebook can do too), `figures.py` turns
the windows into the figures `show` prints, and `estimate.py` puts the estimator's figure beside them
once, when the run ends.

    from mlfootprint.serving import ServerMonitor, Selector, serve_config
    url, counters = "http://127.0.0.1:8000/metrics", [Selector.parse("vllm:request_success_total")]
    with mlfootprint.track(project="my-server") as run:
        ServerMonitor(run, url, counters, serve_config(url, counters, window_s=10)).run_until(duration_s=600)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .figures import PerUnit, ServeConfig, Serving, ServingEstimate, Window, summarize_windows

if TYPE_CHECKING:
    from .monitor import ServerMonitor, serve_config
    from .scrape import PRESETS, Selector

__all__ = ["PRESETS", "PerUnit", "Selector", "ServeConfig", "ServerMonitor", "Serving", "ServingEstimate", "Window",
           "serve_config", "summarize_windows"]


def __getattr__(name: str) -> Any:
    # the loop and the scraper import urllib and psutil: only code that measures a server needs them
    if name in ("ServerMonitor", "serve_config"):
        from . import monitor

        return getattr(monitor, name)
    if name in ("PRESETS", "Selector"):
        from . import scrape

        return getattr(scrape, name)
    raise AttributeError(f"module 'mlfootprint.serving' has no attribute {name!r}")
