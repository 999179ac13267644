"""What a core install costs: the wheel of this checkout installed without extras into a fresh venv, beside
the same install plus the two packages that were core dependencies before they moved to extras (Jinja2 to
`plots`, prometheus-client to `prometheus`), and the `plots` extra.

    .venv/bin/python benchmarks/install_size.py      # writes benchmarks/results/install_size.txt

Measured per configuration: the disk the install adds to an empty venv (du of the venv, minus an empty
venv's), the distributions installed, the wall time of `pip install` (from the local package index, so it
is not a download time), and the median of 7 runs of `python -c "import mlfootprint"` and of
`mlfootprint --version` (interpreter start included).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "install_size.txt"
CONFIGS = [("core (pip install mlfootprint-*.whl)", []),
           ("core + jinja2 + prometheus-client (the core before they moved)", ["jinja2>=3.0", "prometheus-client>=0.17"]),
           ("core + the plots extra (report)", ["plots"])]


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


def timed(args: list[str], repeats: int = 7) -> tuple[float, float, float]:
    """(median, min, max) wall seconds of `args` over `repeats` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=dict(os.environ, MLFOOTPRINT_STORE=os.devnull))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def _largest(site: Path, n: int = 5) -> str:
    """The n largest installed packages of a site-packages folder (pip and setuptools left out)."""
    skip = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "__pycache__")
    sizes = sorted(((du_mb(d), d.name) for d in site.iterdir()
                    if d.is_dir() and d.name not in skip and not d.name.endswith(".dist-info")), reverse=True)
    return ", ".join(f"{name} {mb:.1f}" for mb, name in sizes[:n])


def main() -> None:
    lines = [f"# {__doc__.splitlines()[0]}", f"# python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
             "regenerate: .venv/bin/python benchmarks/install_size.py", ""]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(work / "dist")],
                       check=True, capture_output=True)
        wheel = next((work / "dist").glob("mlfootprint-*.whl"))
        empty = du_mb(venv(work / "empty").parents[1])
        lines.append(f"wheel: {wheel.name}, {wheel.stat().st_size / 1024:.0f} KiB; an empty venv: {empty:.1f} MiB")
        lines.append("")
        lines.append(f"{'configuration':<66} {'added MiB':>9} {'dists':>5} {'pip s':>6} "
                     f"{'import s (min-max)':>20} {'--version s':>11}")
        results = []
        largest = ""
        for name, extra in CONFIGS:
            python = venv(work / "v")
            requirement = [f"{wheel}[{extra[0]}]"] if extra == ["plots"] else [str(wheel), *extra]
            t0 = time.perf_counter()
            subprocess.run([str(python), "-m", "pip", "install", "-q", *requirement], check=True, capture_output=True)
            pip_s = time.perf_counter() - t0
            frozen = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True,
                                    capture_output=True, text=True).stdout.split()
            dists = len([d for d in frozen if not d.startswith(("pip==", "setuptools=="))])
            added = du_mb(work / "v") - empty
            import_s = timed([str(python), "-c", "import mlfootprint"])
            version_s = timed([str(work / "v" / "bin" / "mlfootprint"), "--version"])
            results.append((added, import_s))
            spread = f"{import_s[0]:.3f} ({import_s[1]:.3f}-{import_s[2]:.3f})"
            lines.append(f"{name:<66} {added:>9.1f} {dists:>5} {pip_s:>6.1f} {spread:>20} {version_s[0]:>11.3f}")
            if not extra:
                largest = _largest(next((work / "v" / "lib").glob("python*/site-packages")))
            subprocess.run(["rm", "-rf", str(work / "v")], check=True)
    (core_mb, core_import), (before_mb, before_import) = results[0], results[1]
    overlap = core_import[1] <= before_import[2] and before_import[1] <= core_import[2]
    lines += ["", f"moving Jinja2 and prometheus-client to extras: {before_mb - core_mb:.1f} MiB less on disk "
                  f"({(before_mb - core_mb) / before_mb:.0%} of the install); median import time "
                  f"{core_import[0] - before_import[0]:+.3f} s, the min-max ranges "
                  f"{'overlap' if overlap else 'do not overlap'} (`import mlfootprint` imports neither package)",
              f"the core's largest packages (MiB): {largest}"]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
