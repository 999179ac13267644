"""Experiment trackers: MLflow and Weights & Biases.

At every flush: energy, CO2e and power so far as metrics (step = the flush number). At the end: the
totals, each phase's energy, and the full record as an artifact (`mlfootprint/record.json`). Into the
active MLflow run / W&B run when there is one; otherwise one is started for the run's length (W&B in
offline mode unless WANDB_MODE says otherwise), so nothing is sent anywhere unless you set it up.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
import time
from typing import Any

from ..record import dumps


def _metrics(run: Any) -> dict[str, float]:
    with run.meter.lock:
        per = {k: s.energy_j for k, s in run.meter.states.items()}
        power = sum(s.interval_power_w or 0.0 for s in run.meter.states.values())
    out = {"mlfootprint/energy_j": sum(per.values()), "mlfootprint/co2e_kg": run.co2e_kg,
           "mlfootprint/power_w": power}
    for key, joules in per.items():
        out[f"mlfootprint/component_energy_j/{key.replace(':', '_')}"] = joules
    return out


def _final(record: dict[str, Any]) -> dict[str, float]:
    out = {"mlfootprint/energy_j": record["energy_j"], "mlfootprint/co2e_kg": record["co2e_kg"],
           "mlfootprint/facility_energy_j": record["facility_energy_j"], "mlfootprint/duration_s": record["duration_s"]}
    impact = record.get("impact") or {}
    for key in ("co2e_total_kg", "co2e_embodied_kg", "water_l"):
        if impact.get(key):
            out[f"mlfootprint/{key}"] = impact[key]["value"]
    for p in record.get("phases", []):
        name = "".join(c if c.isalnum() or c in "_-./ " else "_" for c in p["phase"])
        out[f"mlfootprint/phase_energy_j/{name}"] = p["energy_j"]
    return out


@contextmanager
def _record_file(record: dict[str, Any]) -> Iterator[str]:
    """The record as `record.json` in a temporary folder, for a tracker to copy as an artifact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(record, indent=2))
        yield path


class MlflowOutput:
    """Logs through MlflowClient with the run's id: flushes come from the writer thread, where MLflow's
    thread-local active run does not exist (the fluent API would start a stray run there)."""

    def __init__(self) -> None:
        self._started = False
        self._step = 0
        self._run_id: str | None = None
        self._client: Any = None

    def start(self, run: Any) -> None:
        import mlflow

        active = mlflow.active_run()
        if active is None:
            active = mlflow.start_run(run_name=f"{run.project}-{run.id}")
            self._started = True
        self._run_id = active.info.run_id
        self._client = mlflow.tracking.MlflowClient()
        self._client.set_tag(self._run_id, "mlfootprint.run_id", run.id)
        self._client.set_tag(self._run_id, "mlfootprint.project", run.project)

    def _log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._client.log_batch(self._run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])

    def flush(self, run: Any) -> None:
        self._step += 1
        self._log(_metrics(run), self._step)

    def end(self, run: Any, record: dict[str, Any]) -> None:
        self._log(_final(record), self._step + 1)
        with _record_file(record) as path:
            self._client.log_artifact(self._run_id, path, artifact_path="mlfootprint")
        if self._started:
            import mlflow

            active = mlflow.active_run()
            if active is not None and active.info.run_id == self._run_id:
                mlflow.end_run()
            else:
                self._client.set_terminated(self._run_id)


class WandbOutput:
    def __init__(self) -> None:
        self._run: Any = None
        self._started = False
        self._step = 0

    def start(self, run: Any) -> None:
        import wandb

        self._run = wandb.run
        if self._run is None:
            self._run = wandb.init(project=run.project, name=f"{run.project}-{run.id}",
                                   mode=os.environ.get("WANDB_MODE", "offline"),
                                   config={"mlfootprint_run_id": run.id})
            self._started = True

    def flush(self, run: Any) -> None:
        self._step += 1
        self._run.log(_metrics(run), step=self._step)

    def end(self, run: Any, record: dict[str, Any]) -> None:
        import wandb

        final = _final(record)
        self._run.log(final, step=self._step + 1)
        for key, value in final.items():
            self._run.summary[key] = value
        with _record_file(record) as path:
            artifact = wandb.Artifact(f"mlfootprint-{run.id}", type="mlfootprint-record")
            artifact.add_file(path, name="record.json")
            self._run.log_artifact(artifact)
        if self._started:
            self._run.finish()
