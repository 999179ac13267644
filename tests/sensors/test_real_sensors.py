"""The real sensors of whatever machine runs the tests (here: no GPU, no RAPL, psutil models)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

import mlfootprint
from mlfootprint.sensors import CpuModelSensor
from mlfootprint.sensors.cpu_model import find_cpu


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


def test_real_run_on_this_machine_is_plausible_and_labelled(isolated_env: Path) -> None:
    with mlfootprint.track(project="real", country="SE", interval_s=0.1) as run:
        busy(1.0)
    record = run.record
    assert record.status == "completed"
    kinds = {c.kind for c in record.components}
    assert {"cpu", "ram"} <= kinds
    for c in record.components:
        assert c.method in ("measured", "modelled") and c.source
        assert c.uncertainty_rel > 0
    cpu = [c for c in record.components if c.kind == "cpu"]
    if all(c.method == "modelled" for c in cpu):
        # one core busy of n: the model's power lies between its value at (most of) one core and at all
        model = CpuModelSensor()
        n = model.logical_cpus
        mean_w = sum(c.energy_j for c in cpu) / record.duration_s
        assert model.power_w(0.7 / n) <= mean_w <= model.power_w(1.0) * 1.05, (mean_w, n)
        assert mean_w > model.power_w(0.0) * 1.1, "the busy core shows above the idle figure"


def test_process_scope_charges_our_work_and_not_a_neighbours(isolated_env: Path) -> None:
    """Two runs at once, machine and process scope, while a process outside our tree burns a core and we
    sleep: the machine run sees the neighbour, the process run does not. Then we burn a core: the
    process run charges our share of the machine's CPU energy, the share an independent reading of the
    CPU counters gives (not a fixed half: a foreign job may keep another core busy throughout)."""
    import subprocess

    import psutil

    def cpu_j(run: object) -> float:
        return sum(c.energy_j for c in run.record.components if c.kind == "cpu")  # type: ignore[attr-defined]

    def busy_s() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq + t.steal

    code = "import time\nt = time.time()\nwhile time.time() - t < 30: pass"
    neighbour = psutil.Process(int(subprocess.run(["sh", "-c", f"{sys.executable} -c '{code}' >/dev/null 2>&1 & echo $!"],
                                                  capture_output=True, text=True, check=True).stdout))
    try:
        deadline = time.monotonic() + 10
        while sum(neighbour.cpu_times()[:2]) < 0.05 and time.monotonic() < deadline:  # poll: it is burning
            time.sleep(0.01)
        with mlfootprint.track(interval_s=0.1) as machine, mlfootprint.track(scope="process", interval_s=0.1) as ours:
            time.sleep(1.0)  # idle, beside the neighbour
    finally:
        neighbour.kill()
        neighbour.wait(5)
    assert ours.record.scope == "process"
    assert cpu_j(ours) < 0.2 * cpu_j(machine), (cpu_j(ours), cpu_j(machine))
    our_cpu0, busy0 = sum(os.times()[:2]), busy_s()
    with mlfootprint.track(interval_s=0.1) as machine, mlfootprint.track(scope="process", interval_s=0.1) as ours:
        busy(1.0)  # now the work is ours
    share = (sum(os.times()[:2]) - our_cpu0) / max(1e-9, busy_s() - busy0)
    if share < 0.25:
        pytest.skip(f"the machine is too busy for a share to mean much: ours was {share:.2f} of its busy CPU time")
    assert cpu_j(ours) == pytest.approx(share * cpu_j(machine), rel=0.3), (cpu_j(ours), cpu_j(machine), share)


def test_cpu_model_matching_and_vm_fallback() -> None:
    assert find_cpu("AMD EPYC 7763 64-Core Processor").tdp_w == 280  # type: ignore[union-attr]
    assert find_cpu("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz").threads == 80  # type: ignore[union-attr]
    assert find_cpu("AMD EPYC") is None  # what this VM reports: no socket to charge
    vm = CpuModelSensor(brand="AMD EPYC", logical_cpus=4)
    assert vm.power_w(0.0) == pytest.approx(4 * 0.74) and vm.power_w(1.0) == pytest.approx(4 * 3.5)
    slice_of_host = CpuModelSensor(brand="AMD EPYC 7763 64-Core Processor", logical_cpus=4)
    assert slice_of_host.power_w(1.0) == pytest.approx(280 * 4 / 128)  # 4 of 128 threads, not the socket
    assert slice_of_host.channels()[0].method == "modelled"


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, mlfootprint; print(sorted(m for m in ('sqlalchemy', 'pydantic', 'torch', 'pynvml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")
def test_proc_readers_agree_with_psutil() -> None:
    import psutil

    from mlfootprint.sensors.procfs import cpu_times, memory_used_bytes

    assert memory_used_bytes() == pytest.approx(psutil.virtual_memory().used, rel=0.02)
    ours, theirs = cpu_times(), psutil.cpu_times()
    busy = theirs.user + theirs.nice + theirs.system + theirs.irq + theirs.softirq + theirs.steal
    assert ours.busy_s == pytest.approx(busy, abs=0.5)
    assert ours.total_s == pytest.approx(busy + theirs.idle + theirs.iowait, abs=1.0)


def test_the_cpu_model_keeps_its_own_utilization_window() -> None:
    """Another caller of psutil.cpu_percent (Lightning's DeviceStatsMonitor, a metrics logger) must not
    move the CPU model's reference point: it keeps private CPU-time deltas."""
    import psutil

    from mlfootprint.sensors import CpuModelSensor

    sensor = CpuModelSensor()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # one busy core
        pass
    psutil.cpu_percent(interval=None)  # someone else resets psutil's process-wide window
    # one busy core of n is 1/n of the machine: half of that is well above an idle window on any core count
    assert sensor.utilization() > 0.5 / sensor.logical_cpus, "the busy 0.3 s are still in our window"


def test_process_share_keeps_cpu_time_that_tick_rounding_pushes_past_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counters tick in 10 ms: over one interval ours can read 0.11 s while the machine's busy time reads
    0.10 s. The share is capped at 1 and the excess carried over, so the tree's total is kept exactly."""
    from mlfootprint import attribution
    from mlfootprint.sensors.procfs import CpuTimes

    ours = iter([0.0, 0.11, 0.19, 0.31])
    busy = iter([0.0, 0.10, 0.20, 0.30])
    tree = attribution.ProcessTree()
    monkeypatch.setattr(tree, "cpu_time_s", lambda: next(ours))
    monkeypatch.setattr(attribution, "cpu_times", lambda: CpuTimes(next(busy), 100.0))
    tree.cpu_share()
    shares = [tree.cpu_share() for _ in range(3)]
    assert shares == pytest.approx([1.0, 0.9, 1.0])
    assert sum(s * 0.10 for s in shares) + tree._carry_s == pytest.approx(0.31), "no CPU time lost to rounding"
