"""The README says what the code does: its settings table is the one config.SETTINGS declares."""

from __future__ import annotations

from pathlib import Path

from mlfootprint.config import SETTINGS, markdown_table

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readme_documents_every_setting_as_declared() -> None:
    assert markdown_table() in README, "regenerate with: python -c 'from mlfootprint.config import markdown_table; print(markdown_table())'"
    assert all(f"`MLFOOTPRINT_{name.upper()}`" in README for name in SETTINGS)
