"""Where a run's figures go besides the store: one interface, three moments, one thread of their own.

An output gets `start(live)` when the run starts, `flush(live)` after each write to the store (every
`flush_interval_s`) and `end(record)` with the finished record. `live` is a `LiveFigures` snapshot
taken under the meter's lock, `record` the typed `RunRecord`: an output never reaches into the run.
Outputs are named by `outputs=` / MLFOOTPRINT_OUTPUTS:

    prometheus[:HOST:PORT]   live OpenMetrics endpoint (default 127.0.0.1:9464)
    textfile:PATH            the same metrics written to PATH at every flush (node-exporter textfile)
    mlflow                   metrics at every flush, totals and the record at the end (active MLflow run)
    wandb                    the same into W&B (offline mode unless you have a run or are logged in)
    json:PATH                the final record
    codecarbon:PATH          a row in CodeCarbon's emissions.csv format, appended
    html:PATH                the HTML report

Why a thread of their own: an output may talk to a server (MLflow retries an unreachable tracking
server for minutes). Every call runs on the outputs' thread, never on the host's path: `start`
returns at once, flushes that pile up behind a slow output are replaced by the newest, and the end
waits at most `END_WAIT_S` before the host goes on (the thread keeps trying until the interpreter
exits, at most `EXIT_WAIT_S` more). An output that fails is reported once and skipped after; none
ever raises into the run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..config import parse_output
from ..errors import MissingDependency
from ..extras import need
from ..live import LiveFigures

if TYPE_CHECKING:
    from ..record import RunRecord, SampleRow

log = logging.getLogger("mlfootprint")

END_WAIT_S = 1.0  # the longest a run's end waits for its outputs before the host goes on
EXIT_WAIT_S = 10.0  # the longest the interpreter's exit waits for outputs still finishing

__all__ = ["END_WAIT_S", "NEEDS", "Output", "Outputs", "build"]

# output -> (the extra that brings what it imports, the modules of that extra it needs; None: all of them)
NEEDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "prometheus": ("prometheus", None), "textfile": ("prometheus", None), "html": ("plots", None),
    "mlflow": ("trackers", ("mlflow",)), "wandb": ("trackers", ("wandb",)),
}
_warned: set[str] = set()  # outputs already reported as not installed in this process


class Output(Protocol):
    def start(self, live: LiveFigures) -> None: ...

    def flush(self, live: LiveFigures) -> None: ...

    def end(self, record: RunRecord) -> None: ...


SamplesOf = Callable[[str], "list[SampleRow]"]  # a run id -> its stored samples (waits for the final write)


def build(specs: Sequence[str], samples_of: SamplesOf | None = None) -> list[Output]:
    """The outputs named by `specs` (already checked by the settings). `samples_of` gives the HTML report
    the run's stored samples for its power plot. An output whose library is not installed is left out,
    with one warning (per process) that names the `pip install` to run: the run goes on without it."""
    made: list[Output] = []
    for spec in specs:
        name, arg = parse_output(spec)
        if name in NEEDS:
            try:
                need(f"output {spec}", *NEEDS[name])
            except MissingDependency as exc:
                if spec not in _warned:
                    _warned.add(spec)
                    log.warning("mlfootprint: %s; the run goes on without it", exc)
                continue
        if name in ("prometheus", "textfile"):
            from .prometheus import PrometheusOutput, TextfileOutput

            made.append(PrometheusOutput(arg) if name == "prometheus" else TextfileOutput(arg or ""))
        elif name in ("mlflow", "wandb"):
            from .trackers import MlflowOutput, WandbOutput

            made.append(MlflowOutput() if name == "mlflow" else WandbOutput())
        else:
            from .files import CodecarbonOutput, HtmlOutput, JsonOutput

            if name == "html":
                made.append(HtmlOutput(arg or "", samples_of))
            else:
                made.append((JsonOutput if name == "json" else CodecarbonOutput)(arg or ""))
    return made


_STOP = object()


class Outputs:
    """Calls every output at each moment, on a thread of their own; one failing output is reported once
    and skipped after."""

    def __init__(self, outputs: list[Output]) -> None:
        self.outputs = outputs
        self._failed: set[int] = set()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._latest: LiveFigures | None = None  # the newest flush not yet handed over
        self._latest_lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if not outputs:
            self._done.set()

    def start(self, live: LiveFigures) -> None:
        if not self.outputs:
            return
        self._thread = threading.Thread(target=self._loop, name=f"mlfootprint-outputs-{live.run_id}", daemon=True)
        self._queue.put(("start", live))
        self._thread.start()

    def flush(self, live: LiveFigures) -> None:
        """Hand the newest figures over; a flush not yet taken is replaced, never queued behind."""
        if self._thread is None:
            return
        with self._latest_lock:
            pending = self._latest is not None
            self._latest = live
        if not pending:
            self._queue.put(("flush", None))

    def end(self, record: RunRecord, wait_s: float = END_WAIT_S) -> bool:
        """Hand the final record over and wait at most `wait_s`; True once every output is done."""
        if self._thread is None:
            return True
        self._queue.put(("end", record))
        self._queue.put(_STOP)
        return self._done.wait(wait_s)

    def wait(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)

    def _loop(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                moment, value = item
                if moment == "flush":
                    with self._latest_lock:
                        value, self._latest = self._latest, None
                    if value is None:
                        continue
                self._each(moment, value)
        finally:
            self._done.set()

    def _each(self, moment: str, value: Any) -> None:
        for i, out in enumerate(self.outputs):
            if i in self._failed:
                continue
            try:
                getattr(out, moment)(value)
            except Exception as exc:  # never into the run
                self._failed.add(i)
                from ..urlmask import mask_text

                log.warning("mlfootprint: output %s failed at %s (%s: %s); it is skipped from now on",
                            type(out).__name__, moment, type(exc).__name__, mask_text(str(exc)))
