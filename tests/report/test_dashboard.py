"""The dashboard's kept pages: drawn once, drawn again as soon as what they show changes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import mlfootprint
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.shapes import to_json

pytest.importorskip("starlette")
pytest.importorskip("matplotlib")


def _run(project: str, watts: float) -> mlfootprint.Run:
    sensor = ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic, signal="energy-counter")
    with mlfootprint.track(project=project, sensors=[sensor], interval_s=0.05) as run:
        with run.phase("train"):
            time.sleep(0.2)
    assert run.wait_stored(10)
    return run


def test_pages_are_kept_until_what_they_show_changes(isolated_env: Path) -> None:
    from starlette.testclient import TestClient

    from mlfootprint.report.dashboard import create_app
    from mlfootprint.store import open_store

    first = _run("vision", 40.0)
    app = create_app(str(isolated_env))
    client = TestClient(app, base_url="http://127.0.0.1")
    pages = app.state.pages
    projects = client.get("/projects").text
    run_page = client.get(f"/run/{first.id}").text
    assert client.get("/projects").text == projects and client.get(f"/run/{first.id}").text == run_page
    assert (pages.misses, pages.hits) == (2, 2), "the second visit of each page is the kept one"
    # a new run changes the per-day totals: the projects page is drawn again and shows it
    _run("speech", 80.0)
    assert "speech" in client.get("/projects").text and pages.misses == 3
    # a newer copy of the run (a later flush, an import) changes its record: its page is drawn again
    before = open_store(str(isolated_env)).get_run(first.id)
    open_store(str(isolated_env), write=True).save_measured(
        first.id, {"energy_j": before.energy_j * 1000, "facility_energy_j": before.facility_energy_j * 1000},
        [to_json(c) for c in open_store(str(isolated_env)).get_run(first.id).components], [])
    changed = client.get(f"/run/{first.id}").text
    assert changed != run_page and pages.misses == 4
    assert client.get(f"/run/{first.id}").text == changed and pages.misses == 4
