"""The README's fleet figures are the ones in benchmarks/results/fleet_scale.txt."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quotes_the_fleet_benchmark_as_written() -> None:
    pytest.importorskip("numpy")  # the benchmark script simulates with it
    spec = importlib.util.spec_from_file_location("fleet_scale", ROOT / "benchmarks" / "fleet_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fleet_scale"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    results = (ROOT / "benchmarks" / "results" / "fleet_scale.txt").read_text(encoding="utf-8")
    assert "SIMULATED" in results.splitlines()[0]
    block = module.readme_block(results)
    assert block in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "refresh with: python benchmarks/fleet_scale.py --readme"
