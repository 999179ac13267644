"""The impact model: hardware catalogue, embodied CO2e, water, cost, market-based CO2e, equivalents,
hourly intensity per sample, and how `show` presents them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

import mlfootprint
from mlfootprint import hardware, impact
from mlfootprint.constants import DEFAULT_LIFETIME_YEARS, DEFAULT_USAGE_RATE, J_PER_KWH
from mlfootprint.embodied import items_for_run
from mlfootprint.errors import ConfigError
from mlfootprint.factors import electricity_price, water_generation
from mlfootprint.ranges import Range
from mlfootprint.sensors import ScriptedSensor
from mlfootprint.store import open_store


def steady(watts: float, key: str = "gpu:0", kind: str = "gpu", name: str = "scripted") -> ScriptedSensor:
    return ScriptedSensor([(0.0, watts), (1e6, watts)], time.monotonic, key=key, kind=kind, name=name)  # type: ignore[arg-type]


def rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("mlfootprint.data").joinpath(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@pytest.mark.parametrize("filename", ["hardware.csv", "mfu.csv", "water_generation.csv", "electricity_prices.csv",
                                      "models.csv"])
def test_every_data_row_names_its_source(filename: str) -> None:
    table = rows(filename)
    assert table, filename
    for r in table:
        assert r["source"].strip(), r
        if filename == "hardware.csv" and r["embodied_kg"]:
            assert r["embodied_source"].strip(), r


def test_catalogue_resolves_its_sources_and_leaves_unknowns_empty() -> None:
    accs = hardware.accelerators()
    assert {"v100-sxm2", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "b200", "l4", "t4", "mi250x",
            "mi300x", "tpu-v3", "tpu-v4", "tpu-v5e", "tpu-v5p"} <= set(accs)
    for a in accs.values():
        assert "datasheet" in a.source or "specifications" in a.source or "documentation" in a.source or "data sheet" in a.source
        half, single = a.peak_tflops["bf16"], a.peak_tflops["fp32"]
        if a.key in ("a10g", "rtx-6000-ada"):  # their datasheets state no BF16 figure: left empty, never guessed
            assert half is None, a.key
            continue
        assert half is not None and (single is None or half > single), a.key
    assert accs["tpu-v4"].tdp_w is None  # Google publishes none: empty, not guessed
    assert accs["h100-sxm"].embodied_kg == 164 and "HGX H100" in (accs["h100-sxm"].embodied_source or "")


@pytest.mark.parametrize("nvml_name,key", [("NVIDIA H100 80GB HBM3", "h100-sxm"), ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
                                           ("NVIDIA A100-SXM4-40GB", "a100-40gb"), ("NVIDIA A100 80GB PCIe", "a100-80gb-pcie"),
                                           ("Tesla V100-SXM2-32GB", "v100-sxm2"), ("Tesla T4", "t4"), ("NVIDIA L4", "l4"),
                                           ("NVIDIA H100 PCIe", "h100-pcie"), ("NVIDIA GeForce RTX 4090", "rtx-4090"),
                                           ("NVIDIA GeForce RTX 4060", None)])
def test_nvml_device_names_match_catalogue_rows(nvml_name: str, key: str | None) -> None:
    found = hardware.match_device(nvml_name)
    assert (found.key if found else None) == key


def test_unknown_hardware_lists_the_known_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown hardware 'x100'.*a100-80gb.*h100-sxm"):
        hardware.get("x100")
    assert hardware.get("A100").key == "a100-80gb"  # short alias for the SXM part


def place(**kw: object) -> impact.Place:
    base = dict(pue=1.5, pue_source="p", intensity_g_per_kwh=400.0, intensity_source="i", wue_l_per_kwh=1.8,
                wue_source="w", generation_water_l_per_kwh=3.0, generation_water_source="g")
    return impact.Place(**{**base, **kw})  # type: ignore[arg-type]


def test_assess_composes_every_figure_from_its_inputs() -> None:
    life_s = DEFAULT_LIFETIME_YEARS.value * impact.SECONDS_PER_YEAR * DEFAULT_USAGE_RATE.value
    items = [impact.EmbodiedItem("gpu", 1000.0, 1.0, "src")]
    out = impact.assess(Range(J_PER_KWH, 0.5 * J_PER_KWH, 1.5 * J_PER_KWH), Range(life_s, life_s, life_s),
                        place(price_per_kwh=0.2, currency="EUR", price_source="given", renewable_share=0.25),
                        items, "measured", instance_price_per_hour=2.0)
    assert out.facility_energy_j.value == pytest.approx(1.5 * J_PER_KWH)
    op = out.co2e_operational_kg
    assert (op.value, op.low, op.high) == pytest.approx((0.6, 0.3, 0.9))
    assert out.co2e_market_kg.value == pytest.approx(0.45) and "market-based" in out.co2e_market_kg.source
    emb = out.co2e_embodied_kg  # a whole busy lifetime uses up the whole device; a 4-year life charges 6/4 as much
    assert emb.value == pytest.approx(1000.0) and emb.high == pytest.approx(1500.0)
    assert emb.basis == "estimated"
    assert out.co2e_total_kg.value == pytest.approx(1000.6)
    assert out.water_onsite_l.value == pytest.approx(1.8)
    assert out.water_offsite_l.value == pytest.approx(1.5 * 3.0)
    assert out.water_l.value == pytest.approx(6.3) and out.water_l.high == pytest.approx(9.45)
    assert out.electricity_cost.value == pytest.approx(0.3) and out.electricity_cost.unit == "EUR"
    assert out.instance_cost.value == pytest.approx(2.0 * life_s / 3600)
    km = out.equivalents["car_km"]
    assert km.value == pytest.approx(1000.6 / (0.404 / 1.609344)) and "EPA" in km.source


def test_pue_and_intensity_ranges_widen_co2e_water_and_cost() -> None:
    day = Range.exact(86400.0)
    exact = impact.assess(Range.exact(J_PER_KWH), day, place(), [], "measured")
    assert exact.co2e_operational_kg.low == exact.co2e_operational_kg.high
    uncertain = place(pue_range=(1.2, 2.0), intensity_range_g_per_kwh=(200.0, 800.0), price_per_kwh=0.2,
                      currency="EUR", price_source="given")
    out = impact.assess(Range(J_PER_KWH, 0.5 * J_PER_KWH, 1.5 * J_PER_KWH), day, uncertain, [], "measured")
    op = out.co2e_operational_kg  # value from PUE 1.5 x 400 g; bounds from the low and high ends of all three
    assert (op.value, op.low, op.high) == pytest.approx((0.6, 0.5 * 1.2 * 0.2, 1.5 * 2.0 * 0.8))
    assert "range 200-800" in op.source and "range 1.2-2" in out.facility_energy_j.source
    cost = out.electricity_cost
    assert (cost.low, cost.high) == pytest.approx((0.5 * 1.2 * 0.2, 1.5 * 2.0 * 0.2))
    off = out.water_offsite_l
    assert (off.low, off.high) == pytest.approx((0.5 * 1.2 * 3.0, 1.5 * 2.0 * 3.0))
    # a range that does not contain its value (a factor replaced without its range) is ignored
    stale = impact.assess(Range.exact(J_PER_KWH), day, place(intensity_range_g_per_kwh=(10.0, 20.0)), [], "measured")
    assert stale.co2e_operational_kg.low == stale.co2e_operational_kg.value


def test_the_world_average_carries_the_spread_of_the_countries() -> None:
    from mlfootprint.grid import resolve_location

    world, _ = resolve_location()
    zones = {r["zone"]: r for r in rows("grid_zones.csv")}
    lo, hi = world.intensity_range_g_per_kwh  # type: ignore[misc]
    assert (lo, hi) == (float(zones["WORLD"]["low_g_per_kwh"]), float(zones["WORLD"]["high_g_per_kwh"]))
    countries = sorted(float(r["intensity_g_per_kwh"]) for r in zones.values() if r["source"] == "ember-owid")
    assert countries[0] < lo < world.intensity_g_per_kwh < hi < countries[-1] and hi / lo > 2
    france, _ = resolve_location("FR")
    f_lo, f_hi = france.intensity_range_g_per_kwh  # type: ignore[misc]
    assert f_lo < france.intensity_g_per_kwh < f_hi and f_hi / f_lo < hi / lo


def test_water_and_price_tables_fall_back_with_a_label() -> None:
    assert water_generation("FR").value == pytest.approx(3.6737)
    us_ca = water_generation("US-CA")
    assert us_ca.value == water_generation("US").value and "country figure for US-CA" in us_ca.source
    world = water_generation("BT")
    assert "no figure for BT" in world.source and world.value == pytest.approx(3.908)
    found = electricity_price("US-CA")
    assert found is not None and found[1] == "USD" and found[0].value == pytest.approx(0.2391)
    assert electricity_price("FR") is None  # no cited price: the user gives one


def test_embodied_items_charge_gpus_by_model_and_a_server_share() -> None:
    items = items_for_run([("gpu", "NVIDIA H100 80GB HBM3"), ("gpu", "NVIDIA RTX 9999"), ("cpu", "x")],
                          logical_cpus=32)
    assert [i.embodied_kg for i in items] == [164.0, 150.0, 2500.0]
    assert "no manufacturer figure" in items[1].source and items[2].share == pytest.approx(2 / 8)
    cpu_only = items_for_run([("cpu", "x")], logical_cpus=32)
    assert cpu_only[0].share == pytest.approx(32 / 128)


def test_measured_run_records_every_impact_figure_and_show_prints_them(isolated_env: Path) -> None:
    with mlfootprint.track(project="impact", country="US-CA", pue=1.2, interval_s=0.02, renewable_share=0.5,
                           instance_price_per_hour=4.0, currency="USD",
                           sensors=[steady(300.0, name="NVIDIA H100 80GB HBM3")]) as run:
        time.sleep(0.3)
    record = open_store(str(isolated_env)).get_run(run.id)
    imp = record.impact
    assert imp.basis == "simulated", "a scripted sensor never makes a figure 'measured'"
    assert {getattr(imp, k).basis for k in ("energy_j", "co2e_operational_kg", "co2e_total_kg", "water_l")} == {"simulated"}
    assert imp.co2e_operational_kg.value == pytest.approx(record.co2e_kg)
    assert imp.co2e_market_kg.value == pytest.approx(record.co2e_kg / 2)
    assert imp.electricity_cost.unit == "USD" and "EIA" in imp.electricity_cost.source
    assert imp.embodied_items[0].embodied_kg == 164.0
    assert imp.co2e_embodied_kg.value == pytest.approx(
        (164 + 2500 / 8) * run.duration_s / (6 * impact.SECONDS_PER_YEAR * 0.85), rel=0.01)
    assert imp.energy_j.low < imp.energy_j.value < imp.energy_j.high
    shown = subprocess.run([sys.executable, "-m", "mlfootprint", "show", run.id, "--details"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    for text in ("CO2e operational (location-based)", "CO2e operational (market-based)", "CO2e embodied",
                 "water on-site", "water off-site", "electricity cost", "machine cost",
                 "HGX H100", "Shehabi", "EcoLogits"):
        assert text in shown.stdout, text
    assert "km driven by a car" not in shown.stdout  # a few milligrams: an equivalent too small to mean anything


def _series_csv(path: Path, switch_at: datetime) -> Path:
    hour = timedelta(hours=1)
    path.write_text("start,to,intensity_g_per_kwh\n"
                    f"{(switch_at - hour).isoformat()},{switch_at.isoformat()},100\n"
                    f"{switch_at.isoformat()},{(switch_at + hour).isoformat()},500\n", encoding="utf-8")
    return path


def test_each_sample_is_charged_at_its_own_hour(isolated_env: Path, tmp_path: Path) -> None:
    switch = datetime.now(timezone.utc) + timedelta(seconds=0.25)
    csv_path = _series_csv(tmp_path / "series.csv", switch)
    with mlfootprint.track(project="series", country="FR", pue=1.0, interval_s=0.02, flush_interval_s=0.05,
                           intensity_csv=str(csv_path), sensors=[steady(1000.0)]) as run:
        time.sleep(0.5)
    record = open_store(str(isolated_env)).get_run(run.id)
    start = datetime.fromisoformat(record.started_at)
    expected = sum(s["energy_j"] / J_PER_KWH * (100 if start + timedelta(seconds=s["t_s"]) < switch else 500) / 1000
                   for s in open_store(str(isolated_env)).samples(run.id))
    all_low, all_high = run.energy_j / J_PER_KWH * 0.1, run.energy_j / J_PER_KWH * 0.5
    assert all_low < record.co2e_kg < all_high
    assert record.co2e_kg == pytest.approx(expected, rel=1e-6)
    assert "100% of the energy matched" in record.impact.co2e_operational_kg.source


def test_a_series_that_misses_the_run_falls_back_to_the_annual_figure_labelled(isolated_env: Path, tmp_path: Path) -> None:
    csv_path = _series_csv(tmp_path / "old.csv", datetime(2020, 1, 1, tzinfo=timezone.utc))
    with mlfootprint.track(project="series", country="FR", pue=1.0, interval_s=0.02, intensity_csv=str(csv_path),
                           sensors=[steady(100.0)]) as run:
        time.sleep(0.1)
    assert run.co2e_kg == pytest.approx(run.energy_j / J_PER_KWH * 41.44 / 1000)
    assert "0% of the energy matched" in run.record.impact.co2e_operational_kg.source


@pytest.mark.parametrize("kwargs,message", [
    ({"price_per_kwh": 0.2}, "need a currency"),
    ({"renewable_share": 1.5}, "renewable_share=1.5"),
    ({"currency": "EURO", "price_per_kwh": 0.2}, "ISO 4217"),
    ({"wue": -1.0}, "wue=-1.0"),
])
def test_bad_impact_settings_are_refused_before_the_run(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mlfootprint.track(project="bad", **kwargs).start()  # type: ignore[arg-type]


def test_malformed_intensity_csv_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("start,intensity_g_per_kwh\n2026-01-01T00:00Z,lots\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2: intensity_g_per_kwh='lots' is not a number"):
        mlfootprint.track(project="bad", intensity_csv=str(bad)).start()
    result = subprocess.run([sys.executable, "-m", "mlfootprint", "track", "--intensity-csv", str(bad), "--",
                             sys.executable, "-c", "pass"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "not a number" in result.stderr


@pytest.mark.parametrize("methods,basis,detail", [
    ({"gpu": "measured", "cpu": "measured"}, "measured", "measured (gpu, cpu)"),
    ({"gpu": "measured", "cpu": "modelled", "ram": "modelled"}, "modelled", "measured (gpu) + modelled (cpu, ram)"),
    ({"cpu": "modelled", "ram": "modelled"}, "modelled", "modelled (cpu, ram)"),
    ({"gpu": "simulated", "cpu": "measured"}, "simulated", "measured (cpu) + simulated (gpu)"),
])
def test_the_basis_of_every_figure_follows_from_its_inputs(methods: dict, basis: str, detail: str) -> None:
    assert impact.energy_basis((m, k) for k, m in methods.items()) == (basis, detail)
    out = impact.assess(Range(100.0, 90.0, 110.0), Range.exact(60.0), place(), [impact.EmbodiedItem("x", 100.0, 1.0, "s")],
                        basis, basis_detail=detail)
    assert out.basis == basis and out.basis_detail == detail and out.energy_j.basis == basis
    factor = impact.weakest(basis, "modelled")  # energy x PUE, intensity, WUE: never better than modelled
    for key in ("facility_energy_j", "co2e_operational_kg", "water_l", "water_onsite_l", "water_offsite_l"):
        assert getattr(out, key).basis == factor, key
    for key in ("co2e_embodied_kg", "co2e_total_kg"):  # embodied CO2e is an estimate
        assert getattr(out, key).basis == impact.weakest(basis, "estimated"), key
    assert {e.basis for e in out.equivalents.values()} == {impact.weakest(basis, "estimated")}


def test_a_run_on_the_fake_nvml_with_modelled_cpu_is_labelled_modelled_not_measured(isolated_env: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.pynvml_fake import FakeGpu, FakeNvml

    FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-1", 300.0)]).install(monkeypatch)
    from mlfootprint.sensors import nvml

    monkeypatch.setattr(nvml._initialized, "modules", {})
    with mlfootprint.track(country="FR", interval_s=0.02) as run:
        time.sleep(0.1)
    imp = run.record.impact
    methods = {c.kind: c.method for c in run.record.components}
    assert methods["gpu"] == "measured" and methods["cpu"] == "modelled"
    assert imp.basis == "modelled" and imp.basis_detail.startswith("measured (gpu) + modelled (cpu")
    shown = subprocess.run([sys.executable, "-m", "mlfootprint", "show", run.id, "--details"], capture_output=True, text=True,
                           env=dict(os.environ, COLUMNS="200"))
    assert "impact · IT energy measured (gpu) + modelled (cpu, ram)" in shown.stdout


def test_a_cpu_only_runs_server_share_is_a_stated_assumption_with_a_wide_range() -> None:
    item = items_for_run([("cpu", "x")], logical_cpus=128)[0]
    assert item.source.startswith("ASSUMPTION") and item.uncertainty_rel == pytest.approx(0.75)
    out = impact.assess(Range.exact(1.0), Range.exact(3600.0), place(), [item], "measured")
    emb = out.co2e_embodied_kg
    cited_range = (impact.embodied_share_kg(2500, 3600, 6, 0.85), impact.embodied_share_kg(2500, 3600, 4, 0.85))
    assert emb.low == pytest.approx(cited_range[0] * 0.25) and emb.high == pytest.approx(cited_range[1] * 1.75)


def test_a_known_cpu_idling_is_not_zero_watts() -> None:
    from mlfootprint.sensors import CpuModelSensor

    xeon = CpuModelSensor(brand="Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", logical_cpus=80)
    assert xeon.power_w(0.0) == pytest.approx(80 * 0.74)  # Cloud Carbon Footprint's minimum per vCPU
    assert xeon.power_w(1.0) == pytest.approx(270.0)  # the whole socket's TDP at full load, as before
    assert "idle floor" in xeon.source
