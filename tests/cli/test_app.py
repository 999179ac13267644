"""`--help` for a newcomer at 80 columns: the command list names every command with a description that
is not cut ("…"), one line each, and each command's own help fits 80 columns without breaking a word
such as `aws:us-east-1` at its hyphen."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from mlfootprint.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    done = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert done.exit_code == 0, done.output
    return done.output


def test_the_command_list_describes_every_command_in_one_line() -> None:
    text = _help()
    listed = text.split("Commands:", 1)[1].strip().splitlines()
    assert sorted(line.split()[0] for line in listed) == COMMANDS  # one line per command, nothing wrapped
    for line in listed:
        name, _, description = line.strip().partition(" ")
        assert len(description.strip()) > 10, line
        assert "…" not in line and "..." not in line and len(line) <= 80, line


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_fits_80_columns(command: str) -> None:
    text = _help(command)  # click never cuts an option's help; a "…" here is the text's own (LABEL[,LABEL…])
    for line in text.splitlines():
        assert len(line) <= 80, line
        assert not re.search(r"[A-Za-z0-9]-$", line), f"a word is broken at its hyphen: {line!r}"
