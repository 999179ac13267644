"""What the report and the dashboard show a person, read back from a real headless Chromium (Debian's
chromium and chromium-driver through selenium): numbers under their headers, phases largest first, the
compare page explaining a difference, a way back to the lists from every page, empty pages that say so.
docs/screenshots/ (tools/screenshots.py) pictures the same pages with real runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mlfootprint
from mlfootprint.sensors import ScriptedSensor
from tests.browser import chromium
from tests.net import free_port, wait_for

MLFOOTPRINT = [sys.executable, "-m", "mlfootprint"]


def _run(project: str, *, watts: float, steps: int = 3, **kwargs: Any) -> mlfootprint.Run:
    """A run with three phases of different lengths: forward > backward > data in energy."""
    sensor = ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic, key="gpu:0", kind="gpu",
                            signal="energy-counter")
    with mlfootprint.track(project=project, sensors=[sensor], interval_s=0.05, flush_interval_s=0.1, **kwargs) as run:
        for _ in range(steps):
            for phase, seconds in (("forward", 0.12), ("backward", 0.06), ("data", 0.02)):
                with run.phase(phase):
                    time.sleep(seconds)
        run.count(samples=100)
    assert run.wait_stored(10)
    return run


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    b = chromium(1200, 1000)
    yield b
    b.quit()


def _cells(browser: Any, table_id: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = browser.find_element(By.ID, table_id).find_elements(By.TAG_NAME, "tr")
    return [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th,td")] for r in rows]


def _numbers_sit_under_their_headers(browser: Any, table_id: str) -> int:
    """Every right-aligned header's right edge is its column's right edge; returns how many were checked."""
    checked = browser.execute_script("""
        const table = document.getElementById(arguments[0]);
        const heads = [...table.rows[0].cells];
        let checked = 0;
        heads.forEach((th, i) => {
          if (!th.classList.contains('n')) return;
          if (getComputedStyle(th).textAlign !== 'right') throw new Error('header ' + th.textContent + ' is not right-aligned');
          const edge = th.getBoundingClientRect().right - parseFloat(getComputedStyle(th).paddingRight);
          for (const row of [...table.rows].slice(1)) {
            const td = row.cells[i];
            if (!td || !td.textContent.trim()) continue;
            const range = document.createRange(); range.selectNodeContents(td);
            const right = range.getBoundingClientRect().right;
            if (Math.abs(right - edge) > 1.5) throw new Error(`${th.textContent}: ${td.textContent} ends at ${right}, its header at ${edge}`);
            checked++;
          }
        });
        return checked;""", table_id)
    return int(checked)


def test_the_report_lists_phases_largest_first_with_numbers_under_their_headers(browser: Any, isolated_env: Path,
                                                                               tmp_path: Path) -> None:
    run = _run("report-phases", watts=40.0)
    page = tmp_path / "report.html"
    done = subprocess.run([*MLFOOTPRINT, "report", run.id, "-o", str(page)], capture_output=True, text=True,
                          env=dict(os.environ, MLFOOTPRINT_STORE=str(isolated_env)))
    assert done.returncode == 0, done.stderr
    browser.get(page.as_uri())
    phases = _cells(browser, "phases")
    assert phases[0][:4] == ["phase", "time", "IT energy", "share"]
    assert "per item" not in phases[0]  # no phase counted items: no empty column
    names = [r[0] for r in phases[1:]]
    assert names[:3] == ["forward", "backward", "data"] and names[-1] == "(outside phases)"
    for table in ("phases", "impact", "components"):
        assert _numbers_sit_under_their_headers(browser, table) > 0, table
    started = browser.find_element("css selector", ".meta").text
    assert " UTC" in started and "T" not in started.split("started ", 1)[1][:16]


def test_every_dashboard_page_has_the_way_back_to_the_lists(browser: Any, isolated_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    a = _run("nav", watts=30.0)
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        _run("ddp", watts=20.0, steps=1, job="test:nav")
    monkeypatch.delenv("RANK")
    with _dashboard(isolated_env) as base:
        for path in ("/", "/jobs", "/projects", f"/run/{a.id}", "/job/test:nav", f"/compare?a={a.id}&b={a.id}",
                     "/run/nosuchrun", "/projects?x=1"):
            browser.get(base + path)
            links = [x.get_attribute("href") for x in browser.find_element(By.ID, "nav").find_elements(By.TAG_NAME, "a")]
            assert links == [base + "/", base + "/jobs", base + "/projects"], path


def test_the_compare_page_explains_a_difference(browser: Any, isolated_env: Path) -> None:
    from selenium.webdriver.common.by import By

    a = _run("compare", watts=30.0, country="FR")
    b = _run("compare", watts=60.0, country="PL", steps=4)
    with _dashboard(isolated_env) as base:
        browser.get(f"{base}/compare?a={a.id}&b={b.id}")
        rows = {r[0]: r[1:] for r in _cells(browser, "comparison")}
    head = next(iter(rows.values()))
    assert head[0].startswith(f"a: {a.id}") and head[1].startswith(f"b: {b.id}") and head[2] == "b / a"
    assert rows["where"][:2] == ["FR", "PL"]
    assert float(rows["grid intensity (gCO2e/kWh)"][2]) > 5  # PL's grid is several times FR's
    assert "PUE" in rows and "how the IT energy was obtained" in rows
    assert float(rows["IT energy, component: gpu"][2]) == pytest.approx(b.energy_j / a.energy_j, rel=0.01)
    labels = list(rows)
    phases = [label for label in labels if label.startswith("IT energy, phase: ")]
    assert phases == ["IT energy, phase: forward", "IT energy, phase: backward", "IT energy, phase: data"]
    assert labels.index("IT energy, component: gpu") < labels.index(phases[0])
    assert browser.find_element(By.ID, "compare-plot").find_elements(By.TAG_NAME, "svg")


def test_empty_pages_say_so(browser: Any, isolated_env: Path) -> None:
    from selenium.webdriver.common.by import By

    _run("no-jobs-here", watts=10.0, steps=1)
    with _dashboard(isolated_env) as base:
        browser.get(base + "/jobs")
        assert "No distributed jobs stored" in browser.find_element(By.ID, "empty").text
        assert not browser.find_elements(By.ID, "jobs")
        browser.get(base + "/?project=nothing-by-this-name")
        assert "No runs match these filters" in browser.find_element(By.ID, "empty").text


def test_the_projects_page_stays_readable_with_twenty_projects(browser: Any, isolated_env: Path) -> None:
    from selenium.webdriver.common.by import By

    from mlfootprint.report.plots import PROJECTS_SHOWN

    for i in range(20):
        _run(f"project-{i:02d}", watts=5.0 + i, steps=1)
    with _dashboard(isolated_env) as base:
        browser.get(base + "/projects")
        svg = browser.find_element(By.ID, "projects-plot").get_attribute("innerHTML")
        listed = [r[0] for r in _cells(browser, "projects")[1:]]
    assert len(listed) == 20 and listed[0] == "project-19"  # every project in the table, largest first
    # matplotlib writes each text it draws as a comment beside its outline: the legend names 9 and "11 other"
    named = [f"project-{i:02d}" for i in range(20) if f"<!-- project-{i:02d} -->" in svg]
    assert len(named) == PROJECTS_SHOWN and f"<!-- {20 - PROJECTS_SHOWN} other projects -->" in svg


class _dashboard:
    """The dashboard over `store` for a `with` block (the runs are stored before it starts)."""

    def __init__(self, store: Path) -> None:
        self.store = store

    def __enter__(self) -> str:
        port = free_port()
        self.server = subprocess.Popen([*MLFOOTPRINT, "dashboard", "--port", str(port), "--store", str(self.store)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/")
        return base

    def __exit__(self, *exc: object) -> None:
        self.server.terminate()
        self.server.wait(timeout=10)
