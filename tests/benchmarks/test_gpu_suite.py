"""benchmarks/gpu_suite.py end to end, without a GPU: the fake pynvml module first on the path (every process
the suite starts imports it: the torchrun ranks, the server, `mlfootprint serve`), CPU torch.

The fake board draws a scripted power that follows wall-clock time (tests/fakes/pynvml_fake.py: SUITE_POWER),
so every figure the suite writes can be checked against what that power implies: the counter over a window
is the exact integral, the 20 Hz integral is within the trapezoid rule's error bound, and any mean GPU power
is within the sine's bound of its base. A part the suite skipped or failed fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.pynvml_fake import SUITE_POWER

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fakes" / "pynvml_on_path"
NUMBER = r"([-+\d,.]+)"
TITLES = ["NVML energy counter vs the 20 Hz integral", "A training loop with phases", "A 2-rank job sharing the GPU",
          "Serving under `mlfootprint serve`", "Start-up and phase-marker overhead"]


def num(text: str) -> float:
    return float(text.replace(",", ""))


def grab(section: str, pattern: str) -> tuple[float, ...]:
    m = re.search(pattern, section, re.M)
    assert m is not None, f"no match for {pattern!r} in:\n{section}"
    return tuple(num(g) for g in m.groups())


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[int, str], str]:
    tmp = tmp_path_factory.mktemp("gpu_suite")
    out = tmp / "gpu_suite.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFOOTPRINT_", "CUDA_", "NVIDIA_"))}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(FAKE), env.get("PYTHONPATH")])), TMPDIR=str(tmp))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--short", "--out", str(out),
                           "--store", str(tmp / "runs.db")], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=600)
    text = out.read_text() if out.exists() else ""
    sections = {int(m.group(1)): m.group(0) for m in re.finditer(r"^## (\d)\. .*?(?=^## |^power limit)", text, re.S | re.M)}
    return done, sections, text


def test_every_part_ran_and_says_it_is_simulated(suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    done, sections, text = suite
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAILED" not in text and "skipped" not in text.lower()
    assert sorted(sections) == [1, 2, 3, 4, 5], text
    for number, title in enumerate(TITLES, 1):
        assert title in sections[number].splitlines()[0]
        assert len(sections[number].strip().splitlines()) >= 5, sections[number]
    assert "# compute: simulated: fake NVML, CPU tensors" in text and "# SIMULATED: fake NVML" in text
    assert "measured by NVML's energy counter" not in text  # a fake board's energy is never called measured
    before, after = grab(text, rf"^power limit before / after the suite: {NUMBER} W / {NUMBER} W: unchanged")
    assert before == after == 700.0


def test_counter_and_integral_are_the_fake_boards(suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    s = suite[1][1]
    t0, t1 = grab(s, rf"^window \(Unix time\): {NUMBER} to {NUMBER} ")
    longest_ms, = grab(s, rf"longest {NUMBER} ms")
    counter, = grab(s, rf"^NVML energy counter over the window: {NUMBER} J")
    integral, = grab(s, rf"^20 Hz power integral \(trapezoids\) over the same window: {NUMBER} J")
    rel, = grab(s, rf"^relative difference \(counter - integral\) / counter: {NUMBER}%")
    # the counter is the scripted power's exact integral over the printed window (stamps rounded to 0.1 ms)
    assert counter == pytest.approx(SUITE_POWER.energy_j(t1) - SUITE_POWER.energy_j(t0), rel=0.003, abs=2.0)
    assert rel / 100 == pytest.approx((counter - integral) / counter, abs=1e-5)
    assert abs(rel / 100) <= SUITE_POWER.trapezoid_bound_rel(longest_ms / 1000) + 0.002
    ours, on_window, ratio = grab(s, rf"mlfootprint's GPU figure .*?: {NUMBER} J over .*interpolated from the log: "
                                  rf"{NUMBER} J; ratio {NUMBER}")
    assert ours == pytest.approx(on_window, rel=0.02) and ratio == pytest.approx(1.0, abs=0.02)


def within_sine(mean_w: float, duration_s: float) -> bool:
    return abs(mean_w - SUITE_POWER.base_w) <= SUITE_POWER.mean_w_bound(duration_s) + 1.0


def test_phase_shares_follow_time_on_a_board_whose_power_follows_time(
        suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    s = suite[1][2]
    assert "sync_cuda: torch.cuda is not available" in s  # said, not hidden: the sync arm cannot synchronize here
    for arm in ("phases", "phases+sync_cuda"):
        median_s, _rate, _ratio, gpu_j, mean_w = grab(s, rf"^{re.escape(arm)} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} "
                                                         rf"+{NUMBER}$")
        assert within_sine(mean_w, median_s) and gpu_j > 0
    shares = re.findall(rf"^  (data|forward|backward|optimizer|\(outside phases\)) +{NUMBER}% \| +{NUMBER}% ; +"
                        rf"{NUMBER}% \| +{NUMBER}%$", s, re.M)
    assert len(shares) == 5, s
    for column in (1, 2, 3, 4):
        assert sum(num(row[column]) for row in shares) == pytest.approx(100.0, abs=0.3)
    for _phase, time_a, energy_a, time_b, energy_b in shares:
        # the board's power does not depend on what runs, so a phase's energy share is its time share
        assert num(energy_a) == pytest.approx(num(time_a), abs=2.0)
        assert num(energy_b) == pytest.approx(num(time_b), abs=2.0)
    assert num(next(r for r in shares if r[0] == "backward")[1]) > 5  # the loop's phases were marked


def test_the_shared_gpu_is_counted_once_and_owned_by_one_rank(
        suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    s = suite[1][3]
    assert re.search(r"^job torchrun:\S+: 2 ranks, status completed", s, re.M), s
    owners = re.findall(r"^  rank (\d): owns gpu:0", s, re.M)
    assert len(owners) == 1 and f"gpu:0 is measured by rank {owners[0]}" in s
    assert "GPU 0 is measured by another run of this job on this host" in s
    job_j, = grab(s, rf"^job GPU energy \(sum over ranks, each device once\): {NUMBER} J")
    counter_j, ratio = grab(s, rf"^NVML counter over the owning rank's run .*: {NUMBER} J; ratio job / counter {NUMBER}")
    assert ratio == pytest.approx(1.0, abs=0.02) and job_j == pytest.approx(counter_j, rel=0.02)
    duration, = grab(s, rf"^NVML counter over the owning rank's run \({NUMBER} s")
    assert within_sine(counter_j / duration, duration)


def test_serving_figures_come_from_the_servers_counter_and_the_fake_board(
        suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    s = suite[1][4]
    sent, = grab(s, rf"--requests {NUMBER} --concurrency")
    windows, idle, _duration, requests = grab(s, rf"^windows: {NUMBER} \({NUMBER} served nothing\), {NUMBER} s, "
                                                 rf"{NUMBER} requests")
    assert requests == sent and idle >= 1 and windows > idle
    included, excluded = grab(s, rf"idle included: {NUMBER} J; idle excluded: {NUMBER} J")
    assert included >= excluded > 0
    idle_w, = grab(s, rf"^idle power {NUMBER} W")
    assert idle_w >= SUITE_POWER.base_w - SUITE_POWER.amplitude_w  # the board alone never draws less
    gpu_j, duration, mean_w = grab(s, rf"^GPU alone over the whole run.*: {NUMBER} J over {NUMBER} s, mean {NUMBER} W")
    assert within_sine(mean_w, duration) and gpu_j == pytest.approx(mean_w * duration, rel=0.01)


def test_startup_and_markers_were_timed_with_the_gpu_sensor(
        suite: tuple[subprocess.CompletedProcess[str], dict[int, str], str]) -> None:
    s = suite[1][5]
    assert re.search(r"sensors a run reads here: .*gpu:0", s), s
    warm, fresh = grab(s, rf"warm process: {NUMBER} ms.*\n.*fresh process: {NUMBER} ms")
    marker, _nullcontext = grab(s, rf"^phase marker enter\+exit: {NUMBER} ns \(a bare `with nullcontext\(\)`: {NUMBER} ns")
    synced, = grab(s, rf"^phase marker enter\+exit with sync_cuda .*: {NUMBER} us")
    assert warm > 0 and fresh > warm and marker > 0 and synced > 0
