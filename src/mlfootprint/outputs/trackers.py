"""Experiment trackers: MLflow and Weights & Biases.

At every flush: IT and facility energy, CO2e and power so far as metrics (step = the flush number;
names in outputs/metrics.py). At the end: the totals, each phase's energy, and the full record as an
artifact (`mlfootprint/record.json`). Calls run on the outputs' thread (outputs/__init__.py): a tracking
server that does not answer delays nothing. Into the
active MLflow run / W&B run when there is one; otherwise one is started for the run's length (W&B in
offline mode unless WANDB_MODE says otherwise), so nothing is sent anywhere unless you set it up.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..live import LiveFigures
from ..record import dumps
from . import metrics as m

if TYPE_CHECKING:
    from ..record import RunRecord


def _final(record: RunRecord) -> dict[str, float]:
    out = {m.IT_ENERGY.tracker: record.energy_j, m.CO2E.tracker: record.co2e_kg,
           m.FACILITY_ENERGY.tracker: record.facility_energy_j, "mlfootprint/duration_s": record.duration_s}
    if record.impact is not None:
        out["mlfootprint/co2e_total_kg"] = record.impact.co2e_total_kg.value
        out["mlfootprint/co2e_embodied_kg"] = record.impact.co2e_embodied_kg.value
        out["mlfootprint/water_l"] = record.impact.water_l.value
    for p in record.phases:
        name = "".join(c if c.isalnum() or c in "_-./ " else "_" for c in p.phase)
        out[f"{m.PHASE_ENERGY.tracker}/{name}"] = p.energy_j
    return out


@contextmanager
def _record_file(record: RunRecord) -> Iterator[str]:
    """The record as `record.json` in a temporary folder, for a tracker to copy as an artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(record, indent=2))
        yield path


class MlflowOutput:
    """Logs through MlflowClient with the run's id. MLflow's active run is per thread: the host's is looked
    up here, on the host's thread, when the run starts (only if MLflow is already loaded: a host with an
    active run has loaded it); otherwise a run is started on the outputs' thread and ended there."""

    def __init__(self) -> None:
        mlflow = sys.modules.get("mlflow")
        active = mlflow.active_run() if mlflow is not None else None
        self._host_run_id: str | None = active.info.run_id if active is not None else None
        self._started = False
        self._step = 0
        self._run_id: str | None = None
        self._client: Any = None

    def start(self, live: LiveFigures) -> None:
        import mlflow

        self._client = mlflow.tracking.MlflowClient()
        if self._host_run_id is not None:
            self._run_id = self._host_run_id
        else:
            self._run_id = mlflow.start_run(run_name=f"{live.project}-{live.run_id}").info.run_id
            self._started = True
        self._client.set_tag(self._run_id, "mlfootprint.run_id", live.run_id)
        self._client.set_tag(self._run_id, "mlfootprint.project", live.project)

    def _log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._client.log_batch(self._run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])

    def flush(self, live: LiveFigures) -> None:
        self._step += 1
        self._log(m.tracker_metrics(live), self._step)

    def end(self, record: RunRecord) -> None:
        self._log(_final(record), self._step + 1)
        with _record_file(record) as path:
            self._client.log_artifact(self._run_id, path, artifact_path="mlfootprint")
        if self._started:
            import mlflow

            mlflow.end_run()


class WandbOutput:
    def __init__(self) -> None:
        self._run: Any = None
        self._started = False
        self._step = 0

    def start(self, live: LiveFigures) -> None:
        import wandb

        self._run = wandb.run
        if self._run is None:
            self._run = wandb.init(project=live.project, name=f"{live.project}-{live.run_id}",
                                   mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
                                   config={"mlfootprint_run_id": live.run_id})
            self._started = True

    def flush(self, live: LiveFigures) -> None:
        self._step += 1
        self._run.log(m.tracker_metrics(live), step=self._step)

    def end(self, record: RunRecord) -> None:
        import wandb

        final = _final(record)
        self._run.log(final, step=self._step + 1)
        for key, value in final.items():
            self._run.summary[key] = value
        with _record_file(record) as path:
            artifact = wandb.Artifact(f"mlfootprint-{record.id}", type="mlfootprint-record")
            artifact.add_file(path, name="record.json")
            self._run.log_artifact(artifact)
        if self._started:
            self._run.finish()
