"""What a newcomer reads in the terminal (issue 22): a run's summary is short and names the figure to
quote; `runs` keeps its energy and CO2e columns whole at every width down to 80, a long command shortened
first."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from mlfootprint.record import RunRow
from mlfootprint.report.format import fmt_co2e, fmt_energy
from mlfootprint.report.terminal import runs_table


def _row(i: int, energy_j: float, co2e_kg: float, command: str) -> RunRow:
    return RunRow(id=f"{i:012x}", project=f"project-with-a-long-name-{i}", status="completed",
                  started_at=f"2026-12-0{i}T10:00:00+00:00", ended_at=None, heartbeat_at=None, duration_s=3600.0 * i,
                  energy_j=energy_j, energy_uncertainty_j=0.0, facility_energy_j=energy_j * 1.2, pue=1.2,
                  co2e_kg=co2e_kg, country="FR", region="FR-north-and-a-long-zone-name", intensity_g_per_kwh=50.0,
                  intensity_source="test", scope="machine", interval_s=1.0, host="h", pid=1, command=command,
                  exit_code=0, settings_json=None, warnings_json=None, impact_json=None)


@pytest.mark.parametrize("width", [80, 100, 140])
def test_runs_keeps_energy_and_co2e_whole_at_every_width(width: int) -> None:
    long_command = "python train.py " + " ".join(f"--option-{k} value-{k}" for k in range(30))
    rows = [_row(1, 1.234e9, 12.5, long_command), _row(2, 987.0, 3.2e-6, "python -c 'print(1)'"),
            _row(3, 4.56e6, 0.0712, long_command)]
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(runs_table(rows, width))
    text = out.getvalue()
    assert all(len(line) <= width for line in text.splitlines()), text
    assert "IT energy" in text and "CO2e op." in text, text
    for r in rows:
        line = next(line for line in text.splitlines() if r.id in line)
        assert fmt_energy(r.energy_j) in line and fmt_co2e(r.co2e_kg) in line, (width, line)
    if width >= 140:
        assert "python train.py" in text, "a wide terminal shows the command (shortened)"


def test_a_tracked_command_ends_with_a_short_summary_naming_the_figure_to_quote(isolated_env: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "--country", "FR", "--", sys.executable,
                           "-c", "print('the command ran')"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="100"))
    assert done.returncode == 0, done.stderr
    assert "the command ran" in done.stdout
    summary = [line for line in done.stderr.splitlines() if line.strip()]
    assert 3 <= len(summary) <= 15, done.stderr
    quote = [line for line in summary if line.startswith("quote:")]
    assert len(quote) == 1 and "CO2e" in quote[0], done.stderr
    assert "Traceback" not in done.stderr
