"""The plots' choices that a picture cannot be trusted without: a readable projects chart whatever the number
of projects, and axes in a unit that fits the numbers."""

from __future__ import annotations

import dataclasses
import time

import pytest

import mlfootprint
from mlfootprint.record import RunRow, row
from mlfootprint.report.plots import OTHER_COLOUR, PROJECTS_SHOWN, energy_unit, project_segments, projects_plot
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import open_store


@pytest.fixture
def stored_row() -> RunRow:
    sensor = ScriptedSensor([(0.0, 30.0), (1e6, 30.0)], time.monotonic, signal="energy-counter")
    with mlfootprint.track(project="one", sensors=[sensor], interval_s=0.05, flush_interval_s=0.1) as run:
        time.sleep(0.1)
    assert run.wait_stored(10)
    return row(RunRow, open_store().list_runs(limit=1)[0])


@pytest.mark.parametrize("projects", [1, PROJECTS_SHOWN, PROJECTS_SHOWN + 1, 20, 60])
def test_the_projects_chart_names_at_most_nine_projects_in_distinct_colours(stored_row: RunRow, projects: int) -> None:
    rows = [dataclasses.replace(stored_row, id=f"r{i}", project=f"project-{i:02d}", energy_j=100.0 + i,
                                started_at=f"2026-01-{1 + i % 5:02d}T10:00:00+00:00") for i in range(projects)]
    segments = project_segments(rows)
    assert len(segments) == min(projects, PROJECTS_SHOWN + 1)
    assert len({s.colour for s in segments}) == len(segments)  # no two segments look alike
    named = segments[:PROJECTS_SHOWN]
    assert [s.label for s in named] == [f"project-{i:02d}" for i in reversed(range(projects))][:PROJECTS_SHOWN]
    if projects > PROJECTS_SHOWN:
        other = segments[-1]
        rest = projects - PROJECTS_SHOWN
        assert other.colour == OTHER_COLOUR and other.label == f"{rest} other project{'s' if rest > 1 else ''}"
    total = sum(sum(s.energy_j_by_day.values()) for s in segments)
    assert total == pytest.approx(sum(r.energy_j for r in rows))  # every joule is in the chart once
    assert "<svg" in (projects_plot(rows) or "")


@pytest.mark.parametrize("peak_j, unit", [(4e-4, "µJ"), (0.25, "mJ"), (1.0, "J"), (9_000.0, "J"), (2e5, "kJ"),
                                          (3.6e8, "kWh"), (7.2e9, "MWh")])
def test_an_axis_takes_a_unit_that_fits(peak_j: float, unit: str) -> None:
    factor, found = energy_unit(peak_j)
    assert found == unit and 0.1 <= peak_j * factor < 10_000
