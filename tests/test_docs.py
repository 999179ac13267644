"""The README says what the code does: its settings table is the one config.SETTINGS declares."""

from __future__ import annotations

from pathlib import Path

import csv
import importlib.util
import re

from mlfootprint.config import SETTINGS, markdown_table

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readme_documents_every_setting_as_declared() -> None:
    assert markdown_table() in README, "regenerate with: python -c 'from mlfootprint.config import markdown_table; print(markdown_table())'"
    assert all(f"`MLFOOTPRINT_{name.upper()}`" in README for name in SETTINGS)


def _figures_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_figures", Path(__file__).parents[1] / "tools" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_readme_figures_are_the_ones_in_the_result_files() -> None:
    assert _figures_tool().table() in README, "refresh with: python tools/readme_figures.py --write"
    assert _figures_tool().serving_table() in README, "refresh with: python tools/readme_figures.py --write"
    assert _figures_tool().estimate_table() in README, "refresh with: python tools/readme_figures.py --write"


def test_the_readme_counts_the_water_table_right() -> None:
    rows = [r for r in csv.DictReader(line for line in (Path(__file__).parents[1] / "src" / "mlfootprint" / "data" /
                                                        "water_generation.csv").read_text().splitlines()
                                      if not line.startswith("#"))]
    countries = len([r for r in rows if r["alpha3"] != "WOR"])
    assert re.search(rf"for {countries} countries", README)


def test_the_readme_quotes_the_core_install_as_measured() -> None:
    """The Install section's sizes are the ones benchmarks/install_size.py last wrote."""
    text = (Path(__file__).parents[1] / "benchmarks" / "results" / "install_size.txt").read_text(encoding="utf-8")
    core = re.search(r"^core \(pip install mlfootprint-\*\.whl\)\s+([\d.]+)\s+(\d+)", text, re.M)
    plots = re.search(r"^core \+ the plots extra \(report\)\s+([\d.]+)", text, re.M)
    assert core and plots, "rerun benchmarks/install_size.py"
    assert f"The core adds {core[1]} MiB to an empty venv ({core[2]}" in " ".join(README.split()), core.groups()
    assert f"with `plots` it is {plots[1]} MiB" in " ".join(README.split()), plots.groups()
