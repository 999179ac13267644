"""`mlfootprint reduce` on the digits CNN, as the README quotes it: writes benchmarks/results/reduce_digits.txt.

    python benchmarks/reduce_digits.py [--before SRC] [--pairs N] [--out FILE]

Runs the command below and records what it printed, its wall time, and how many verdicts it reached
(a verdict the user can act on: a saving, a cost, no change, a quality loss; not "within noise" or
"undecided"). With `--before SRC` (the `src/` folder of another checkout, e.g. the version before
sequential verdicts: `git worktree add /tmp/before bbfc0f5`), the same command runs with that version
too, the two alternating `--pairs` times so a machine whose load drifts weighs on both alike; the file
then shows each run's wall time and the medians side by side. Energy on this project's VM is
modelled (no RAPL, no GPU): the verdicts compare modelled energy of the experiment's own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["mlfootprint", "reduce", "examples/digits.py", "--strategies", "amp,lr,batch", "--target", "accuracy=0.95",
           "--budget", "900", "--country", "FR"]


def settled(record: dict[str, object]) -> bool:
    """A verdict the user can act on. Results written before sequential verdicts have no "decision":
    their only open verdict was "within measurement noise"."""
    if record.get("strategy") == "baseline":
        return False
    if "decision" in record:
        return record["decision"] not in ("undecided", "reference")
    return "within measurement noise" not in str(record.get("verdict", ""))


def run_once(src: Path | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MLFOOTPRINT_STORE=str(Path(tmp) / "runs.db"), COLUMNS="110")
        if src is not None:
            env["PYTHONPATH"] = str(src)
        load = os.getloadavg()[0]
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "mlfootprint", *COMMAND[1:], "--json-file",
                              str(Path(tmp) / "r.json")], cwd=ROOT, env=env, capture_output=True, text=True)
        wall_s = time.monotonic() - started
        records = json.loads((Path(tmp) / "r.json").read_text()) if out.returncode == 0 else []
    strategies = [r for r in records if r.get("strategy") != "baseline"]
    return {"wall_s": wall_s, "load": load, "code": out.returncode, "stdout": out.stdout,
            "settled": sum(settled(r) for r in strategies), "strategies": len(strategies),
            "trials": out.stderr.count("  trial ")}


def line(label: str, r: dict[str, object]) -> str:
    return (f"{label}: {r['wall_s']:.1f} s wall, {r['trials']} trials, {r['settled']}/{r['strategies']} verdicts "
            f"reached, load average {r['load']:.2f} at the start, exit code {r['code']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="src/ of the version to compare with")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reduce_digits.txt")
    args = parser.parse_args()
    runs: list[tuple[str, dict[str, object]]] = []
    header = f"# {' '.join(COMMAND)}\n# (2-vCPU VM shared with other jobs, energy modelled)\n"
    for _ in range(args.pairs if args.before else 1):
        for label, src in ((("before", args.before),) if args.before else ()) + (("now", None),):
            runs.append((label, run_once(src)))
            print(line(*runs[-1]), flush=True)  # a long comparison shows its progress
    text = header
    for label, r in runs:
        text += f"# {line(label, r)}\n"
    if args.before:
        for label in ("before", "now"):
            mine = [r for lab, r in runs if lab == label]
            text += (f"# median {label}: {statistics.median(float(r['wall_s']) for r in mine):.1f} s wall, "  # type: ignore[arg-type]
                     f"{statistics.median(int(r['settled']) for r in mine):g}/{mine[0]['strategies']} verdicts "  # type: ignore[call-overload]
                     "reached\n")
    text += "# the output of the last run:\n" + str(runs[-1][1]["stdout"])
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
