from __future__ import annotations

import pytest

from mlfootprint.meter import Meter
from mlfootprint.sensors.nvml import NvmlSensor, visible_indices
from tests.fakes.pynvml_fake import FakeGpu, FakeNvml

UUIDS = ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-cccc3333-0000"]


def three_gpus() -> list[FakeGpu]:
    return [FakeGpu("NVIDIA H100 80GB HBM3", UUIDS[0], 400.0),
            FakeGpu("Tesla P100-PCIE-16GB", UUIDS[1], 150.0, has_counter=False),
            FakeGpu("NVIDIA A100-SXM4-80GB", UUIDS[2], 300.0, fail_after_reads=3)]


def test_counter_and_power_only_gpus_are_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml(three_gpus()).install(monkeypatch)
    sensor, warnings = NvmlSensor.discover(env={})
    assert sensor is not None
    channels = {c.key: c for c in sensor.channels()}
    assert channels["gpu:0"].source == "nvml-energy-counter" and channels["gpu:0"].signal == "energy-counter"
    assert channels["gpu:1"].source == "nvml-power" and channels["gpu:1"].signal == "power-instant"
    assert channels["gpu:0"].name == "NVIDIA H100 80GB HBM3"  # bytes decoded
    assert any("GPU 1" in w and "no energy counter" in w for w in warnings)


def test_meter_integrates_counter_and_power_and_survives_a_gpu_lost_midrun(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    nvml = FakeNvml(three_gpus()).install(monkeypatch)
    sensor, _ = NvmlSensor.discover(env={})
    meter = Meter([sensor], clock=clock)
    meter.start(background=False)  # read 1 (of gpu 2: discover probed once already)
    for _ in range(10):
        clock.advance(1.0)
        nvml.advance(1.0)
        meter.sample()
    totals = meter.totals_j()
    assert totals["gpu:0"] == pytest.approx(4000.0)  # counter: 400 W × 10 s
    assert totals["gpu:1"] == pytest.approx(1500.0)  # constant power: trapezoids are exact
    # gpu 2 answered 3 reads (discovery probe, start, t=1 s), then was lost: 1 interval × 300 W kept
    assert totals["gpu:2"] == pytest.approx(300.0)
    state = meter.states["gpu:2"]
    assert state.failed_reads == 9 and "GPU is lost" in (state.first_error or "")


def test_nvml_missing_or_failing_init_means_no_gpu_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([], init_error=9).install(monkeypatch)  # 9: driver not loaded
    assert NvmlSensor.discover(env={}) == (None, [])


@pytest.mark.parametrize("spec,expected", [
    (None, [0, 1, 2]),
    ("", []),
    ("2,0", [2, 0]),
    ("1,7,0", [1]),  # CUDA stops at the first invalid entry
    ("GPU-cccc", [2]),  # UUID prefix
    ("bbbb2222-0000", [1]),  # UUID without the GPU- prefix
    ("GPU-aaaa1111-0000,GPU-cccc3333-0000", [0, 2]),
    ("-1", []),
])
def test_cuda_visible_devices(spec: str | None, expected: list[int]) -> None:
    assert visible_indices(spec, UUIDS)[0] == expected


def test_cuda_visible_devices_hides_gpus_from_the_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml(three_gpus()).install(monkeypatch)
    sensor, _ = NvmlSensor.discover(env={"CUDA_VISIBLE_DEVICES": "GPU-cccc3333-0000"})
    assert sensor is not None and [c.key for c in sensor.channels()] == ["gpu:2"]
    empty, _ = NvmlSensor.discover(env={"CUDA_VISIBLE_DEVICES": ""})
    assert empty is None and nvml.initialized  # stays initialized for the next run, shut down at exit


def test_mig_entries_are_reported_not_silently_dropped() -> None:
    indices, warnings = visible_indices("MIG-1234,0", UUIDS)
    assert indices == [0] and "MIG" in warnings[0]


def test_process_lists_for_attribution(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = three_gpus()
    gpus[0].pids = [111, 222]
    FakeNvml(gpus).install(monkeypatch)
    sensor, _ = NvmlSensor.discover(env={})
    assert sensor is not None
    assert sensor.pids_by_key()["gpu:0"] == {111, 222}
    assert sensor.pids_by_key()["gpu:1"] == set()


def test_process_scope_charges_gpus_by_their_process_lists(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    import os

    gpus = [FakeGpu("ours", "GPU-a", 100.0, pids=[os.getpid()]), FakeGpu("someone else's", "GPU-b", 100.0, pids=[1]),
            FakeGpu("container: host pids only", "GPU-c", 100.0, pids=[4_000_000]), FakeGpu("idle", "GPU-d", 100.0)]
    nvml = FakeNvml(gpus).install(monkeypatch)
    sensor, _ = NvmlSensor.discover(env={})
    meter = Meter([sensor], clock=clock, scope="process")
    meter.start(background=False)
    clock.advance(1.0)
    nvml.advance(1.0)
    meter.sample()
    assert meter.totals_j() == {"gpu:0": pytest.approx(100.0), "gpu:1": 0.0, "gpu:2": pytest.approx(100.0), "gpu:3": 0.0}
