"""An experiment is one entry in the store: track(kind="experiment") groups its trials (track(trial_of=ID)),
measures nothing itself, and no joule or embodied share is counted twice, whatever run is around it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlfootprint import track
from mlfootprint.errors import MlfootprintError
from mlfootprint.record import RunRecord
from mlfootprint.report.statement import statement
from mlfootprint.store import open_store
from tests.store.test_spool import good_payload


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


def stored(store: Path, *runs: object) -> list[RunRecord]:
    for r in runs:
        assert r.wait_stored(60)  # type: ignore[attr-defined]
    reader = open_store(str(store))
    return [reader.get_run(r.id) for r in runs]  # type: ignore[attr-defined]


def test_an_entry_measures_nothing_its_trials_are_charged_and_listed_under_it(isolated_env: Path) -> None:
    with track(project="exp", kind="experiment", sensors=[], interval_s=0.05) as entry:
        with track(trial_of=entry.id, interval_s=0.05) as trial:
            busy(0.3)
        with track(project="mine", interval_s=0.05) as inside:  # the user's own run, beside the trials
            busy(0.3)
    e, t, i = stored(isolated_env, entry, trial, inside)
    assert e.kind == "experiment" and e.energy_j == 0 and e.parent_id is None
    assert e.impact is not None and e.impact.co2e_embodied_kg.value == 0, "the trials are charged the hardware"
    assert (t.kind, t.parent_id, t.project) == ("trial", e.id, "exp"), "a trial is filed in its experiment's project"
    assert t.energy_j > 0 and all(c.charged_to is None for c in t.components)
    assert i.kind == "run" and i.parent_id is None and i.energy_j > 0, "a run inside an entry is charged itself"
    reader = open_store(str(isolated_env))
    assert {r.id for r in reader.list_runs(top_level_only=True)} == {e.id, i.id}
    inner = reader.child_totals([e.id])[e.id]
    assert inner.children == 1 and inner.energy_j == pytest.approx(t.energy_j)
    with pytest.raises(MlfootprintError, match="measures nothing itself: quote one of its trials"):
        statement(e)
    assert "a trial of experiment" in statement(t)


def test_trials_inside_a_measuring_run_are_charged_to_it(isolated_env: Path) -> None:
    """`mlfootprint track -- mlfootprint reduce ...`, or reduce inside the user's own run: the run around
    measures the machine, so the trials' devices are charged there (counted once), grouped all the same."""
    with track(project="outer", interval_s=0.05) as outer:
        with track(kind="experiment", sensors=[], interval_s=0.05) as entry:
            with track(trial_of=entry.id, interval_s=0.05) as trial:
                busy(0.3)
    o, e, t = stored(isolated_env, outer, entry, trial)
    assert e.parent_id == o.id and t.parent_id == e.id and t.kind == "trial"
    assert t.energy_j == 0 and t.components and all(c.charged_to == o.id for c in t.components)
    assert o.energy_j > 0
    assert [r.id for r in open_store(str(isolated_env)).list_runs(top_level_only=True)] == [o.id]


def test_bad_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="kind must be 'run' or 'experiment'"):
        track(kind="trial")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trial_of"):
        track(trial_of="abc", parent_id="def")


def test_a_trial_s_spool_file_can_be_stored() -> None:
    """A trial whose store was unreachable is written to a spool file; importing it must accept its kind."""
    from mlfootprint.store.fit import check_payload

    payload = good_payload()
    payload["run"].update(kind="trial", parent_id="e1")
    assert check_payload(payload, "x.json")["run"]["kind"] == "trial"
