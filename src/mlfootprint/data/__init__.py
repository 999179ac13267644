"""The cited data tables shipped with the package, read as CSV (lines starting with # are the legend)."""

from __future__ import annotations

import csv
from pathlib import Path

_HERE = Path(__file__).parent


def text(filename: str) -> str:
    """A data file's text: read beside this module (it is on the start path, where importlib.resources
    costs more than the read); through importlib.resources when the package is not on a file system."""
    try:
        return (_HERE / filename).read_text(encoding="utf-8")
    except OSError:
        from importlib import resources

        return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")


def rows(filename: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in text(filename).splitlines() if not line.startswith("#")))


def number(cell: str) -> float | None:
    """An optional numeric cell: empty means unknown, never zero."""
    return float(cell) if cell.strip() else None
