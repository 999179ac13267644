"""Where a run's figures go besides the terminal: one interface, three moments.

An output gets `start(run)` when the run starts, `flush(run)` after each write to the store (on the
writer thread, every `flush_interval_s`), and `end(run, record)` with the final record. The run store
itself drives that cadence (recorder.py writes, then calls the others); Prometheus, its textfile
variant, MLflow, W&B, the JSON record, CodeCarbon's CSV and the HTML report are outputs named by
`outputs=` / MLFOOTPRINT_OUTPUTS:

    prometheus[:HOST:PORT]   live OpenMetrics endpoint (default 127.0.0.1:9464)
    textfile:PATH            the same metrics written to PATH at every flush (node-exporter textfile)
    mlflow                   metrics at every flush, totals and the record at the end (active MLflow run)
    wandb                    the same into W&B (offline mode unless you have a run or are logged in)
    json:PATH                the final record
    codecarbon:PATH          a row in CodeCarbon's emissions.csv format, appended
    html:PATH                the HTML report

An output never raises into the run: a failure is logged once and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger("mlfootprint")

NAMES = ("prometheus", "textfile", "mlflow", "wandb", "json", "codecarbon", "html")


class Output(Protocol):
    def start(self, run: Any) -> None: ...

    def flush(self, run: Any) -> None: ...

    def end(self, run: Any, record: dict[str, Any]) -> None: ...


def parse(spec: str) -> tuple[str, str | None]:
    """'prometheus:127.0.0.1:9464' -> ('prometheus', '127.0.0.1:9464'); checks the name and argument."""
    name, _, arg = spec.strip().partition(":")
    name = name.lower()
    if name not in NAMES:
        raise ValueError(f"unknown output {spec!r}: expected one of {', '.join(NAMES)} (e.g. prometheus:9464, "
                         "json:run.json)")
    if name in ("textfile", "json", "codecarbon", "html") and not arg:
        raise ValueError(f"output {name} needs a file: {name}:PATH")
    if name == "prometheus":  # refused with the other settings, before the run starts
        from .prometheus import address

        address(arg)
    return name, arg or None


def build(specs: Sequence[str]) -> list[Output]:
    made: list[Output] = []
    for spec in specs:
        name, arg = parse(spec)
        if name == "prometheus":
            from .prometheus import PrometheusOutput

            made.append(PrometheusOutput(arg))
        elif name == "textfile":
            from .prometheus import TextfileOutput

            made.append(TextfileOutput(arg or ""))
        elif name in ("mlflow", "wandb"):
            from .trackers import MlflowOutput, WandbOutput

            made.append(MlflowOutput() if name == "mlflow" else WandbOutput())
        else:
            from .files import CodecarbonOutput, HtmlOutput, JsonOutput

            made.append({"json": JsonOutput, "codecarbon": CodecarbonOutput, "html": HtmlOutput}[name](arg or ""))
    return made


class Outputs:
    """Calls every output at each moment; one failing output is reported once and skipped after."""

    def __init__(self, outputs: list[Output]) -> None:
        self.outputs = outputs
        self._failed: set[int] = set()

    def _each(self, moment: str, *args: Any) -> None:
        for i, out in enumerate(self.outputs):
            if i in self._failed:
                continue
            try:
                getattr(out, moment)(*args)
            except Exception as exc:  # never into the run
                self._failed.add(i)
                log.warning("mlfootprint: output %s failed at %s (%s: %s); it is skipped from now on",
                            type(out).__name__, moment, type(exc).__name__, exc)

    def start(self, run: Any) -> None:
        self._each("start", run)

    def flush(self, run: Any) -> None:
        self._each("flush", run)

    def end(self, run: Any, record: dict[str, Any]) -> None:
        self._each("end", run, record)
