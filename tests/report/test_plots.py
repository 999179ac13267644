"""The plots' choices that a picture cannot be trusted without: a readable projects chart whatever the number
of projects, and axes in a unit that fits the numbers."""

from __future__ import annotations

import pytest

from mlfootprint.report.plots import OTHER_COLOUR, PROJECTS_SHOWN, energy_unit, project_segments, projects_plot
from mlfootprint.store.reader import ProjectDay


@pytest.mark.parametrize("projects", [1, PROJECTS_SHOWN, PROJECTS_SHOWN + 1, 20, 60])
def test_the_projects_chart_names_at_most_nine_projects_in_distinct_colours(projects: int) -> None:
    days = [ProjectDay(project=f"project-{i:02d}", day=f"2026-01-{1 + i % 5:02d}", runs=1, energy_j=100.0 + i,
                       co2e_kg=1e-5, last_started=f"2026-01-{1 + i % 5:02d}T10:00:00+00:00") for i in range(projects)]
    segments = project_segments(days)
    assert len(segments) == min(projects, PROJECTS_SHOWN + 1)
    assert len({s.colour for s in segments}) == len(segments)  # no two bands look alike
    named = segments[:PROJECTS_SHOWN]
    assert [s.label for s in named] == [f"project-{i:02d}" for i in reversed(range(projects))][:PROJECTS_SHOWN]
    if projects > PROJECTS_SHOWN:
        other = segments[-1]
        rest = projects - PROJECTS_SHOWN
        assert other.colour == OTHER_COLOUR and other.label == f"{rest} other project{'s' if rest > 1 else ''}"
    total = sum(sum(s.energy_j_by_day.values()) for s in segments)
    assert total == pytest.approx(sum(d.energy_j for d in days))  # every joule is in the chart once
    assert "<svg" in (projects_plot(days) or "")


@pytest.mark.parametrize("peak_j, unit", [(4e-4, "µJ"), (0.25, "mJ"), (1.0, "J"), (9_000.0, "J"), (2e5, "kJ"),
                                          (3.6e8, "kWh"), (7.2e9, "MWh")])
def test_an_axis_takes_a_unit_that_fits(peak_j: float, unit: str) -> None:
    factor, found = energy_unit(peak_j)
    assert found == unit and 0.1 <= peak_j * factor < 10_000
