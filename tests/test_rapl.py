from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlfootprint.sensors import rapl
from mlfootprint.sensors.rapl import RaplSensor
from tests.fakes.powercap import make_domain, set_energy, two_socket_tree


def by_key(readings):  # type: ignore[no-untyped-def]
    return {r.key: r for r in readings}


def test_counts_packages_and_dram_once_and_skips_core_psys_mmio(tmp_path: Path) -> None:
    two_socket_tree(tmp_path)
    sensor, warnings = RaplSensor.discover(tmp_path)
    assert sensor is not None and warnings == []
    channels = {c.key: c for c in sensor.channels()}
    assert sorted(channels) == ["cpu:rapl:intel-rapl:0", "cpu:rapl:intel-rapl:1",
                                "ram:rapl:intel-rapl:0:1", "ram:rapl:intel-rapl:1:0"]
    assert {c.method for c in channels.values()} == {"measured"}
    assert channels["cpu:rapl:intel-rapl:0"].source == "rapl:package-0"


def test_energy_is_the_counter_difference_in_joules(tmp_path: Path) -> None:
    d = two_socket_tree(tmp_path)
    sensor, _ = RaplSensor.discover(tmp_path)
    assert sensor is not None
    set_energy(d["pkg0"], 1_000_000 + 25_500_000)  # +25.5 J
    set_energy(d["pkg1"], 3_000_000 + 10_000_000)  # +10 J
    set_energy(d["core0"], 99_000_000)  # sub-domain: must not change anything
    readings = by_key(sensor.read())
    assert readings["cpu:rapl:intel-rapl:0"].energy_j == pytest.approx(25.5)
    assert readings["cpu:rapl:intel-rapl:1"].energy_j == pytest.approx(10.0)
    assert readings["ram:rapl:intel-rapl:0:1"].energy_j == 0.0


def test_counter_wraparound_at_max_energy_range(tmp_path: Path) -> None:
    pkg = make_domain(tmp_path, "intel-rapl:0", "package-0", energy_uj=990_000_000, max_range_uj=1_000_000_000)
    sensor, _ = RaplSensor.discover(tmp_path)
    assert sensor is not None
    set_energy(pkg, 5_000_000)  # wrapped: 10 J to the top, 5 J after it
    assert sensor.read()[0].energy_j == pytest.approx(15.0)
    set_energy(pkg, 7_000_000)
    assert sensor.read()[0].energy_j == pytest.approx(17.0)


def test_unreadable_counters_give_one_warning_naming_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    two_socket_tree(tmp_path)
    real = rapl._read_int

    def deny_energy(path: Path) -> int:  # chmod 000 does not stop root, so deny like the kernel does
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rapl, "_read_int", deny_energy)
    sensor, warnings = RaplSensor.discover(tmp_path)
    assert sensor is None
    assert len(warnings) == 1
    assert "not readable" in warnings[0] and "chmod" in warnings[0] and "modelled" in warnings[0]


def test_no_powercap_directory_means_no_sensor_and_no_warning(tmp_path: Path) -> None:
    assert RaplSensor.discover(tmp_path / "absent") == (None, [])


def test_discovery_falls_back_to_models_without_rapl(tmp_path: Path) -> None:
    from mlfootprint.sensors import discover_sensors

    sensors, _ = discover_sensors(powercap_root=tmp_path / "absent", gpu=False)
    kinds = {(c.kind, c.method) for s in sensors for c in s.channels()}
    assert kinds == {("cpu", "modelled"), ("ram", "modelled")}


def test_discovery_prefers_rapl_cpu_and_dram(tmp_path: Path) -> None:
    from mlfootprint.sensors import discover_sensors

    two_socket_tree(tmp_path)
    sensors, _ = discover_sensors(powercap_root=tmp_path, gpu=False)
    methods = {c.key: c.method for s in sensors for c in s.channels()}
    assert set(methods.values()) == {"measured"}
    assert "cpu:modelled" not in methods and "ram:modelled" not in methods


def test_a_long_interval_is_polled_so_two_wraps_are_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """interval_s may be an hour; a busy package wraps its counter in ~20 minutes. The meter polls the
    counters between samples, so each wrap is seen; without polls the second one would be lost."""
    from mlfootprint import meter as meter_module
    from mlfootprint.meter import Meter

    pkg = make_domain(tmp_path, "intel-rapl:0", "package-0", 0, max_range_uj=999)
    sensor, _ = RaplSensor.discover(tmp_path)
    assert sensor is not None
    polls: list[int] = []

    def poll() -> None:  # between two polls the counter advances 700 uJ: two wraps per 'sample interval'
        polls.append(1)
        set_energy(pkg, (700 * (len(polls) + 1)) % 1000)
        RaplSensor.poll(sensor)

    set_energy(pkg, 700)
    monkeypatch.setattr(sensor, "poll", poll)
    monkeypatch.setattr(meter_module, "POLL_S", 0.02)
    m = Meter([sensor], interval_s=0.3)
    m.start()
    time.sleep(0.2)  # several polls, no sample yet
    m.stop()
    n = len(polls)
    assert n >= 3
    # every poll saw one wrap of a 1000-value counter (0..999): 700 uJ each, none lost
    assert m.totals_j()[sensor.channels()[0].key] == pytest.approx(700 * n / 1e6, abs=1e-12)
