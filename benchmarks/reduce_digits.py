"""`mlfootprint reduce` on the digits CNN, as the README quotes it: writes benchmarks/results/reduce_digits.txt.

    python benchmarks/reduce_digits.py [--repeats 3]

The file holds the command and what it printed, nothing added by hand. Energy on this project's VM is
modelled (no RAPL, no GPU): the verdicts compare modelled energy of the experiment's own process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reduce_digits.txt")
    args = parser.parse_args()
    command = ["mlfootprint", "reduce", "examples/digits.py", "--strategies", "amp,lr,batch", "--target",
               "accuracy=0.95", "--repeats", str(args.repeats), "--budget", "900", "--country", "FR"]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MLFOOTPRINT_STORE=str(Path(tmp) / "runs.db"), COLUMNS="110")
        out = subprocess.run([sys.executable, "-m", "mlfootprint", *command[1:]], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    text = f"# {' '.join(command)}\n# (2-vCPU VM, energy modelled; exit code {out.returncode})\n{out.stdout}"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
