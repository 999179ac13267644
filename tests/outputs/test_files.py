"""File outputs from a record: JSON, CodeCarbon's CSV row, and where they may write."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from mlfootprint.atomic import NotWritable, write_atomic
from mlfootprint.outputs.files import CODECARBON_COLUMNS, CodecarbonOutput, JsonOutput
from mlfootprint.record import RunRecord


def test_the_json_output_is_the_record(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    JsonOutput(str(path)).end(record)
    assert json.loads(path.read_text()) == record.to_json()


def test_the_codecarbon_row_has_its_columns_units_and_safe_cells(record: RunRecord, tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    out = CodecarbonOutput(str(path))
    out.end(record)
    out.end(record)  # appended, one header
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == CODECARBON_COLUMNS and len(rows) == 2
    assert float(rows[0]["energy_consumed"]) == pytest.approx(2340.0 / 3.6e6)  # facility kWh, as CodeCarbon's
    assert rows[0]["project_name"].startswith("'=")  # a formula stays text


def test_r11_a_device_is_written_in_place_and_a_symlink_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_atomic(fifo, "hello")
        assert os.read(reader, 100) == b"hello"
    finally:
        os.close(reader)
    assert fifo.is_fifo(), "a FIFO stays a FIFO, never replaced by a file"
    target = tmp_path / "elsewhere.html"
    target.write_text("keep")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    with pytest.raises(NotWritable, match="symbolic link"):
        write_atomic(link, "page")
    assert target.read_text() == "keep" and link.is_symlink()
    write_atomic("/dev/null", "discarded")  # a character device: written in place, never replaced
    assert Path("/dev/null").is_char_device()
