"""Overhead of tracking: the demo's training loop untracked vs tracked, alternated in one process.

    python benchmarks/overhead.py [--rounds 8] [--seconds 5] [--interval 1.0]

Arms: untracked; tracked (mlfootprint.track around the loop); fully instrumented (tracked, and
every step split into data/forward/backward/optimizer phases with samples counted); CodeCarbon on
the same loop if it is installed (offline mode, no network). Prints each arm's median wall time and
its ratio to untracked (goals: tracked <= 1.005, instrumented <= 1.01), the cost of one phase marker
(enter + exit), and the cost of start + stop.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import digits  # noqa: E402


def timed(make_ctx: Callable[[], AbstractContextManager[object]], epochs: int, instrument: bool) -> float:
    t0 = time.perf_counter()
    with make_ctx() as run:
        digits.train(epochs, run=run if instrument else None)
    return time.perf_counter() - t0


def marker_cost_ns(n: int = 1_000_000, tracker: AbstractContextManager[Any] | None = None) -> tuple[float, float]:
    """Enter+exit of one reused phase marker, minus an empty loop; and of a `with nullcontext()`.
    `tracker` (default: a run on a scripted sensor) is the run the markers belong to: pass one with the
    machine's sensors, or with sync_cuda, to measure the marker as a user's run would pay it."""
    import mlfootprint
    from mlfootprint.sensors import ScriptedSensor

    if tracker is None:
        tracker = mlfootprint.track(sensors=[ScriptedSensor([(0.0, 1.0), (1e9, 1.0)], time.monotonic)],
                                    store=str(Path(tempfile.mkdtemp()) / "m.db"))
    with tracker as run:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            pass
        empty = time.perf_counter_ns() - t0
        t0 = time.perf_counter_ns()
        for _ in range(n):
            with run.phase("step"):
                pass
        marked = time.perf_counter_ns() - t0
        null = nullcontext()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            with null:
                pass
        nulled = time.perf_counter_ns() - t0
    return (marked - empty) / n, (nulled - empty) / n


def codecarbon_ctx(country: str) -> Callable[[], AbstractContextManager[object]] | None:
    try:
        from codecarbon import OfflineEmissionsTracker
    except ImportError:
        return None
    logging.getLogger("codecarbon").setLevel(logging.ERROR)

    def make() -> AbstractContextManager[object]:
        return OfflineEmissionsTracker(country_iso_code=country, save_to_file=False, log_level="error",
                                       measure_power_secs=1)
    return make


def start_stop_cost_ms(store: str, repeats: int = 20, fresh_runs: int = 5) -> tuple[float, float]:
    """Median cost of start()+stop() in this process, and of `import mlfootprint` + one run in a fresh one."""
    import mlfootprint

    costs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tracker = mlfootprint.track(project="bench-startstop", country="FR", store=store)
        tracker.start()
        tracker.stop()
        costs.append(time.perf_counter() - t0)
    code = ("import time; t0 = time.perf_counter(); import mlfootprint; "
            f"t = mlfootprint.track(country='FR', store={store!r}); t.start(); t.stop(); "
            "print(time.perf_counter() - t0)")
    fresh = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(fresh_runs)]
    return statistics.median(costs) * 1e3, statistics.median(fresh) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="target length of one arm; epochs are calibrated to it on this machine")
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of calibrating")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    logging.getLogger("mlfootprint").setLevel(logging.ERROR)

    import mlfootprint

    store = str(Path(tempfile.mkdtemp()) / "bench.db")
    def ours() -> AbstractContextManager[object]:
        return mlfootprint.track(project="bench", country="FR", interval_s=args.interval, store=store)

    arms: dict[str, tuple[Callable[[], AbstractContextManager[object]], bool]] = {
        "untracked": (nullcontext, False),
        "tracked": (ours, False),
        "instrumented": (ours, True),
    }
    cc = codecarbon_ctx("FRA")
    if cc:
        arms["codecarbon"] = (cc, False)
    digits.train(1)  # warm-up: first-call costs (lazy imports, allocator) out of the comparison
    if args.epochs is None:  # fixed per-run costs would dominate a short arm on a fast machine
        t0 = time.perf_counter()
        digits.train(3)
        args.epochs = max(1, round(args.seconds / ((time.perf_counter() - t0) / 3)))
    times: dict[str, list[float]] = {name: [] for name in arms}
    for r in range(args.rounds):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))  # alternate to cancel drift
        for name in order:
            make, instrument = arms[name]
            times[name].append(timed(make, args.epochs, instrument))
    base = statistics.median(times["untracked"])
    print(f"training loop: {args.epochs} epochs of the digits CNN, {args.rounds} rounds alternated, "
          f"interval {args.interval} s")
    for name, ts in times.items():
        print(f"  {name:<13} median {statistics.median(ts):7.3f} s  (min {min(ts):.3f}, max {max(ts):.3f})  "
              f"ratio to untracked {statistics.median(ts) / base:.4f}")
    marker_ns, null_ns = marker_cost_ns()
    print(f"phase marker enter+exit: {marker_ns:.0f} ns (a bare `with nullcontext()`: {null_ns:.0f} ns)")
    in_proc_ms, fresh_ms = start_stop_cost_ms(store)
    print(f"start+stop in a warm process: {in_proc_ms:.1f} ms; import + start + stop in a fresh process: {fresh_ms:.0f} ms")


if __name__ == "__main__":
    main()
