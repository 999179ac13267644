"""How long `make test` takes here (the README quotes it): mypy, then the whole suite, then the quick subset.

    python benchmarks/suite_time.py > benchmarks/results/suite_time.txt

Runs the same commands as the Makefile's `test` and `test-quick` targets with this interpreter, and writes
their wall times, the pytest summary lines and the machine's load beside them. PostgreSQL, Slurm, Chromium
and Prometheus tests skip themselves where those services are missing; the file says how many skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_tests() -> list[str]:
    """The Makefile's QUICK list, read from the Makefile (one list, not two)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(r"^QUICK := (.+)$", text, re.M)
    if found is None:
        raise SystemExit("Makefile: no QUICK := line")
    return shlex.split(found.group(1))


def timed(label: str, command: list[str]) -> str:
    load = os.getloadavg()[0]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall_s = time.monotonic() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    failed = [f"\n  {line}" for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return (f"{label}: {wall_s:.0f} s wall ({wall_s / 60:.1f} min), exit code {done.returncode}, load average "
            f"{load:.2f} at the start; {(lines[-1:] or ['(no output)'])[0].strip('= ')}{''.join(failed)}")


def main() -> None:
    py = sys.executable
    print(f"# python benchmarks/suite_time.py  ({time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} CPUs; "
          f"PostgreSQL tests {'on' if os.environ.get('MLFOOTPRINT_TEST_POSTGRES_URL') else 'skipped (no URL)'})")
    with tempfile.TemporaryDirectory() as cache:  # a cold check, as on a fresh clone (no .mypy_cache)
        print(timed("mypy, cold (make test, first step)", [py, "-m", "mypy", "--cache-dir", cache]))
    print(timed("pytest -q (make test)", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"]))
    print(timed("pytest -q QUICK (make test-quick)", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                      *quick_tests()]))


if __name__ == "__main__":
    main()
