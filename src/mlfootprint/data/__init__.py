"""The cited data tables shipped with the package, read as CSV (lines starting with # are the legend)."""

from __future__ import annotations

import csv
from importlib import resources


def text(filename: str) -> str:
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")


def rows(filename: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in text(filename).splitlines() if not line.startswith("#")))


def number(cell: str) -> float | None:
    """An optional numeric cell: empty means unknown, never zero."""
    return float(cell) if cell.strip() else None
