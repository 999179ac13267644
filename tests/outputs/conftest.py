"""Outputs are tested from snapshots: a LiveFigures and a RunRecord made here, no sampling run, no sleeps."""

from __future__ import annotations

import pytest

from mlfootprint.live import ChannelLive, LiveFigures
from mlfootprint.record import ComponentRow, PhaseRow, RunRecord, RunRow, ValueRow, to_record


@pytest.fixture
def live() -> LiveFigures:
    return LiveFigures(run_id="abc123", project='a "quoted"\nproject', host="node-1", job_id=None, t_s=12.5,
                       channels=(ChannelLive("gpu:0", "gpu", "NVIDIA H100", "measured", 1200.0, 310.0),
                                 ChannelLive("cpu:modelled", "cpu", "AMD EPYC", "modelled", 300.0, 24.0)),
                       energy_j=1500.0, facility_energy_j=2340.0, co2e_kg=1.9e-4,
                       phase_energy_j={"forward": 900.0, "backward": 500.0, "": 100.0})


@pytest.fixture
def record() -> RunRecord:
    run = RunRow(id="abc123", project="=cmd|' /C calc'!A0", status="completed", started_at="2026-12-05T04:00:00+00:00",
                 ended_at="2026-12-05T04:00:12+00:00", heartbeat_at=None, duration_s=12.5, energy_j=1500.0,
                 energy_uncertainty_j=75.0, facility_energy_j=2340.0, pue=1.56, co2e_kg=1.9e-4, country="FR",
                 region=None, intensity_g_per_kwh=41.4, intensity_source="Ember", scope="machine", interval_s=1.0,
                 host="node-1", pid=42, command="python train.py", exit_code=0, settings_json="{}",
                 warnings_json="[]", impact_json=None)
    comps = [ComponentRow("gpu:0", "gpu", "NVIDIA H100", "measured", "nvml", 0.05, 1200.0),
             ComponentRow("cpu:modelled", "cpu", "AMD EPYC", "modelled", "model", 0.5, 300.0)]
    phases = [PhaseRow("forward", 6.0, 900.0, 800.0, 100.0, 0.0, 3, 0.0),
              PhaseRow("backward", 4.0, 500.0, 400.0, 100.0, 0.0, 3, 0.0)]
    return to_record(run, comps, phases, [ValueRow("count", "samples", 300.0), ValueRow("metric", "accuracy", 0.93)])
