"""`mlfootprint fleet` against a real Prometheus holding series whose energy is known exactly."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.prom import Prometheus, backfill
from tests.fleet.synthetic import HOUR, Fleet

MLFOOTPRINT = [sys.executable, "-m", "mlfootprint"]


@pytest.fixture(scope="module")
def fleet_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Prometheus]]:
    t0 = math.floor(time.time() / HOUR) * HOUR - 9 * HOUR
    fleet = Fleet(t0)
    tsdb = tmp_path_factory.mktemp("fleet") / "tsdb"
    backfill(fleet.openmetrics(), tsdb)
    server = Prometheus(tsdb)
    try:
        server.wait_ready()
        yield fleet, server
    finally:
        server.stop()


def _fleet(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MLFOOTPRINT, "fleet", "--prometheus", url, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def _window(fleet: Fleet) -> tuple[float, float]:
    """Not on a sample time or an hour: the edges must be interpolated, not rounded to a scrape."""
    return fleet.t0 + HOUR + 37, fleet.t0 + 6 * HOUR - 11


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_each_namespace_gets_its_known_energy_idle_capacity_apart(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    done = _fleet(server.url, "--source", "dcgm,kepler", "--by", "namespace", "--start", _iso(a), "--end", _iso(b),
                  "--country", "FR", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = fleet.expected(a, b)
    groups = {g["labels"].get("namespace", "unallocated") if not g["unallocated"] else "unallocated": g
              for g in result["groups"]}
    assert set(groups) == set(expected)
    for name, joules in expected.items():
        assert groups[name]["energy_j"] == pytest.approx(joules, rel=0.01), name
    idle = groups["unallocated"]
    assert idle["unallocated"] and idle["name"] == "unallocated (idle capacity)" and idle["labels"] == {}
    assert result["totals"]["unallocated_j"] == pytest.approx(expected["unallocated"], rel=0.01)
    # every figure says how it was obtained
    for g in result["groups"]:
        for key in ("energy", "facility_energy_j", "co2e_location_kg", "co2e_embodied_kg", "co2e_total_kg", "water_l"):
            fig = g["impact"][key]
            assert fig["basis"] in ("measured", "modelled", "estimated") and fig["source"], (g["name"], key)
            assert fig["low"] <= fig["value"] <= fig["high"]
    assert groups["team-a"]["impact"]["energy"]["basis"] == "modelled"  # GPU measured + Kepler's modelled CPU share
    assert {s["name"] for s in result["sources"]} == {"dcgm", "kepler"}
    assert result["queries"] and all(q["promql"] for q in result["queries"])


def test_the_reset_and_both_gaps_are_reported_and_counted(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    done = _fleet(server.url, "--source", "dcgm", "--by", "namespace", "--start", _iso(a), "--end", _iso(b), "--json",
                  "--no-previous")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    resets = result["resets"]
    assert len(resets) == 1 and resets[0]["series"]["UUID"] == "GPU-node-b-0" and resets[0]["group"] == "namespace=team-a"
    assert resets[0]["value_after"] < resets[0]["value_before"]
    gaps = sorted(result["gaps"], key=lambda g: g["length_s"])
    assert len(gaps) == 2 and all(g["series"]["UUID"] == "GPU-node-b-1" and g["counted"] for g in gaps)
    # 10 and 80 minutes of missing samples: the gaps run from the last sample before to the first after
    assert 600 <= gaps[0]["length_s"] <= 600 + 2 * 15
    assert 4800 <= gaps[1]["length_s"] <= 4800 + 2 * 15
    gpu = fleet.gpus[3]
    start, end = gaps[1]["start"], gaps[1]["end"]
    assert start < end
    across = gpu.wave.energy(fleet.t0, fleet.t0 + 3 * HOUR + 3000, fleet.t0 + 5 * HOUR + 600)
    assert gaps[1]["energy_j"] == pytest.approx(across, rel=0.02)
    expected = fleet.expected(a, b, cpu=False)
    team_b = next(g for g in result["groups"] if g["labels"].get("namespace") == "team-b")
    assert team_b["energy_j"] == pytest.approx(expected["team-b"], rel=0.01)


def test_joules_per_thousand_requests_per_model_from_vllm_counters(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    done = _fleet(server.url, "--source", "dcgm,kepler", "--by", "namespace", "--start", _iso(a), "--end", _iso(b),
                  "--serving", "vllm", "--json", "--no-previous")
    assert done.returncode == 0, done.stderr
    serving = json.loads(done.stdout)["serving"]
    assert serving["model_label"] == "model_name" and serving["join_on"] == ["namespace", "pod"]
    models = {m["model"]: m for m in serving["models"]}
    assert set(models) == {"llama-3-8b", "mistral-7b"}
    for model, pod in (("llama-3-8b", "serve-1"), ("mistral-7b", "serve-2")):
        energy = fleet.pod_energy("team-b", pod, a, b)
        requests = fleet.requests(model, a, b)
        m = models[model]
        assert m["requests"] == pytest.approx(requests, rel=0.01)
        assert m["energy_j"] == pytest.approx(energy, rel=0.01)
        assert m["j_per_1k_requests"] == pytest.approx(energy / requests * 1000, rel=0.02)
        assert m["j_per_million_tokens"] > 0 and m["co2e_kg_per_1k_requests"] > 0
    kinds = json.loads(done.stdout)["kinds"]
    assert set(kinds) == {"serving", "other", "unallocated"}


def test_the_previous_period_gives_the_top_movers(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = fleet.t0 + 3.5 * HOUR, fleet.t0 + 6 * HOUR  # the previous period: t0+1h to t0+3.5h
    done = _fleet(server.url, "--source", "dcgm", "--by", "namespace", "--start", _iso(a), "--end", _iso(b), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    previous = fleet.expected(a - 2.5 * HOUR, a, cpu=False)
    got = result["previous"]["groups"]
    assert got["namespace=team-c"] == pytest.approx(previous["team-c"], rel=0.01)
    movers = {m["name"]: m for m in result["movers"]}
    now_c = fleet.expected(a, b, cpu=False)["team-c"]
    assert movers["namespace=team-c"]["change_j"] == pytest.approx(now_c - previous["team-c"], rel=0.02)


def test_sites_from_a_mapping_file_and_an_hourly_series(fleet_data: tuple[Fleet, Prometheus], tmp_path: Path) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    hourly = tmp_path / "se-hourly.csv"
    rows = ["datetime,intensity_g_per_kwh"] + [f"{_iso(fleet.t0 + h * HOUR)},{20 + h}" for h in range(8)]
    hourly.write_text("\n".join(rows) + "\n")
    places = tmp_path / "places.csv"
    places.write_text(f"value,site,country,pue,renewable_share,intensity_csv\nnode-a,paris,FR,1.2,0.9,\n"
                      f"node-b,stockholm,SE,1.1,,{hourly}\n")
    done = _fleet(server.url, "--source", "dcgm", "--by", "namespace", "--start", _iso(a), "--end", _iso(b),
                  "--place-label", "host", "--places", str(places), "--country", "DE", "--json", "--no-previous")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sites = {s["name"]: s for s in result["sites"]}
    assert set(sites) == {"paris", "stockholm", "default"} and sites["stockholm"]["hourly"]
    assert sites["paris"]["pue"] == 1.2 and sites["paris"]["renewable_share"] == 0.9
    assert any("node-c" in w and "default place" in w for w in result["warnings"])
    team_a = next(g for g in result["groups"] if g["labels"].get("namespace") == "team-a")
    assert {s["site"] for s in team_a["sites"]} == {"paris", "stockholm"}
    location = team_a["impact"]["co2e_location_kg"]
    assert "paris" in location["source"] and "matched to its hours" in location["source"]
    # the market-based figure needs every site to state its instruments: node-b's does not
    assert team_a["impact"]["co2e_market_kg"] is None
    assert sites["default"]["zone"] == "DE"


def test_the_html_csv_and_statement_of_a_fleet_result(fleet_data: tuple[Fleet, Prometheus], tmp_path: Path) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    result_file, page, table = tmp_path / "fleet.json", tmp_path / "fleet.html", tmp_path / "fleet.csv"
    done = _fleet(server.url, "--by", "namespace", "--start", _iso(a), "--end", _iso(b), "--serving", "vllm",
                  "--country", "FR", "-o", str(result_file), "--csv", str(table), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "unallocated (idle capacity)" in done.stdout
    report = subprocess.run([*MLFOOTPRINT, "report", str(result_file), "-o", str(page)], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    html = page.read_text()
    assert 'id="groups"' in html and 'id="timeline-plot"' in html and "<script" not in html.lower()
    rows = table.read_text().splitlines()
    assert rows[0].startswith("group,") and any("unallocated" in r for r in rows)
    statement = subprocess.run([*MLFOOTPRINT, "statement", str(result_file)], capture_output=True, text=True)
    assert statement.returncode == 0, statement.stderr
    assert "unallocated" in statement.stdout and "[1]" in statement.stdout


def test_a_source_that_is_not_there_is_said_so(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    done = _fleet(server.url, "--source", "mlfootprint", "--start", _iso(a), "--end", _iso(b))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "mlfootprint_energy_joules_total" in done.stderr and "no series" in done.stderr


def test_node_exporter_rapl_counters_that_wrap_per_host(fleet_data: tuple[Fleet, Prometheus]) -> None:
    fleet, server = fleet_data
    a, b = _window(fleet)
    done = _fleet(server.url, "--source", "node-exporter", "--by", "host", "--start", _iso(a), "--end", _iso(b),
                  "--json", "--no-previous")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    groups = {g["labels"]["host"]: g for g in result["groups"]}
    assert set(groups) == {"node-a:9100", "node-b:9100", "node-c:9100"}
    for instance, group in groups.items():
        # no workload label on a host's counters: unallocated, split by the host they carry
        assert group["unallocated"] and group["name"] == f"unallocated (idle capacity), host={instance}"
        # increase() takes each wrap as a restart from zero: a wrap loses up to one scrape's energy (~1 %)
        want = fleet.host_energy(instance.split(":")[0], a, b)
        assert want * 0.97 < group["energy_j"] <= want * 1.005, instance
    assert result["sources"][0]["method"] == "increase" and result["resets_not_listed"] > 10
    assert any("wrap" in w for w in result["warnings"])


HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def test_the_monthly_report_in_a_real_browser(fleet_data: tuple[Fleet, Prometheus], tmp_path: Path) -> None:
    from tests.browser import chromium
    from tests.test_share import _errors

    fleet, server = fleet_data
    a, b = fleet.t0 + 3.5 * HOUR, fleet.t0 + 6 * HOUR
    result_file, page = tmp_path / "fleet.json", tmp_path / "fleet.html"
    done = _fleet(server.url, "--by", "namespace", "--start", _iso(a), "--end", _iso(b), "--serving", "vllm",
                  "--country", "FR", "--renewable-share", "0.5", "--note", HOSTILE, "-o", str(result_file),
                  "--html", str(page))
    assert done.returncode == 0, done.stderr
    browser = chromium()
    try:
        from selenium.webdriver.common.by import By

        browser.get(page.as_uri())
        assert browser.find_element(By.ID, "note").text == HOSTILE  # shown as text, not run as markup
        for plot in ("timeline-plot", "groups-plot", "kinds-plot", "models-plot"):
            assert browser.find_element(By.ID, plot).find_elements(By.TAG_NAME, "svg"), plot
        groups = browser.find_element(By.ID, "groups").text
        assert "namespace=team-a" in groups and "unallocated (idle capacity)" in groups
        assert "mistral-7b" in browser.find_element(By.ID, "models").text
        assert "team-c" in browser.find_element(By.ID, "movers").text
        assert "CO2e market-based" in browser.find_element(By.ID, "totals").text
        assert _errors(browser) == []
        shots = Path(__file__).resolve().parents[2] / "out" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "fleet_report.png"))
    finally:
        browser.quit()
