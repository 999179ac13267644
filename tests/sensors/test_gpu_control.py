"""The GPU sensors' power-limit API on fake NVML and AMD SMI: read, cap, put back, typed refusals."""

from __future__ import annotations

import pytest

from mlfootprint.sensors import AmdSmiSensor, NvmlSensor
from mlfootprint.sensors.gpu import GpuControlError, GpuPermissionError, PowerLimits
from tests.fakes.amdsmi_fake import FakeAmdGpu, FakeAmdSmi
from tests.fakes.pynvml_fake import FakeGpu, FakeNvml


def nvml_sensor(monkeypatch: pytest.MonkeyPatch, *gpus: FakeGpu) -> tuple[NvmlSensor, FakeNvml]:
    fake = FakeNvml(list(gpus)).install(monkeypatch)
    sensor, _ = NvmlSensor.discover({})
    assert sensor is not None
    return sensor, fake


def test_nvml_limits_are_read_in_watts(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor, _ = nvml_sensor(monkeypatch, FakeGpu("H100", "GPU-1", 500.0, limit_mw=650_000),
                            FakeGpu("H100", "GPU-2", 500.0, min_limit_mw=600_000))
    assert sensor.power_limits_w() == [PowerLimits(0, 650.0, 700.0, 200.0, 700.0),
                                       PowerLimits(1, 700.0, 700.0, 600.0, 700.0)]


def test_nvml_cap_and_reset_put_back_what_each_gpu_had(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor, fake = nvml_sensor(monkeypatch, FakeGpu("H100", "GPU-1", 500.0, limit_mw=650_000),
                               FakeGpu("H100", "GPU-2", 500.0))
    sensor.set_power_limit_w({0: 400.0, 1: 450.0})
    sensor.set_power_limit_w(500.0)  # a second change: reset still goes back to the first state
    assert [g.limit_mw for g in fake.gpus] == [500_000, 500_000]
    sensor.reset_power_limit()
    assert [g.limit_mw for g in fake.gpus] == [650_000, 700_000], "an admin's 650 W is restored, not the default"
    sensor.reset_power_limit()  # nothing left to put back: a no-op
    assert [g.limit_mw for g in fake.gpus] == [650_000, 700_000]


def test_a_limit_out_of_range_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor, fake = nvml_sensor(monkeypatch, FakeGpu("H100", "GPU-1", 500.0), FakeGpu("H100", "GPU-2", 500.0))
    for bad in ({0: 400.0, 1: 50.0}, float("nan"), {5: 400.0}):
        with pytest.raises(GpuControlError) as info:
            sensor.set_power_limit_w(bad)  # type: ignore[arg-type]
        assert "GPU" in str(info.value)
    assert [g.limit_history for g in fake.gpus] == [[], []]


def test_a_refusal_is_typed_and_says_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor, _ = nvml_sensor(monkeypatch, FakeGpu("H100", "GPU-1", 500.0, can_set_limit=False))
    with pytest.raises(GpuPermissionError, match="needs root"):
        sensor.set_power_limit_w(400.0)


def test_amd_smi_speaks_microwatts_and_is_driven_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeAmdSmi([FakeAmdGpu("AMD Instinct MI250X", "uuid-a", 300.0, cap_uw=500_000_000),
                       FakeAmdGpu("AMD Instinct MI250X", "uuid-b", 300.0, can_set_cap=False)]).install(monkeypatch)
    sensor, _ = AmdSmiSensor.discover({})
    assert sensor is not None
    assert sensor.power_limits_w()[0] == PowerLimits(0, 500.0, 550.0, 100.0, 550.0)
    only_first = sensor.only([0])
    only_first.set_power_limit_w(385.0)
    assert fake.gpus[0].cap_uw == 385_000_000
    only_first.reset_power_limit()
    assert fake.gpus[0].cap_uw == 500_000_000
    with pytest.raises(GpuPermissionError):
        sensor.only([1]).set_power_limit_w(385.0)
