"""The outputs' thread: a slow or failing output never holds the run, flushes never pile up."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from mlfootprint.live import LiveFigures
from mlfootprint.outputs import END_WAIT_S, Outputs
from mlfootprint.record import RunRecord


class Slow:
    """Blocks in start until released (an MLflow server that does not answer)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.flushed: list[float] = []
        self.ended = threading.Event()

    def start(self, live: LiveFigures) -> None:
        self.release.wait(30)

    def flush(self, live: LiveFigures) -> None:
        self.flushed.append(live.energy_j)

    def end(self, record: RunRecord) -> None:
        self.ended.set()


class Broken:
    calls = 0

    def start(self, live: LiveFigures) -> None:
        Broken.calls += 1
        raise ConnectionError("http://user:S3cret@tracking:5000 refused")

    def flush(self, live: LiveFigures) -> None:
        Broken.calls += 1

    def end(self, record: RunRecord) -> None:
        Broken.calls += 1


def test_r1_a_server_that_does_not_answer_delays_neither_start_nor_end(live: LiveFigures, record: RunRecord) -> None:
    from dataclasses import replace

    slow = Slow()
    outputs = Outputs([slow])
    t0 = time.monotonic()
    outputs.start(live)
    for e in range(100):
        outputs.flush(replace(live, energy_j=float(e)))
    assert time.monotonic() - t0 < 0.5, "start and flushes return at once"
    t0 = time.monotonic()
    assert outputs.end(record) is False  # not done within END_WAIT_S: the host goes on
    assert time.monotonic() - t0 < END_WAIT_S + 0.5
    slow.release.set()
    assert outputs.wait(10) and slow.ended.is_set()
    assert slow.flushed[-1] == 99.0 and len(slow.flushed) < 100, "flushes behind a slow output are coalesced"


def test_a_failing_output_is_reported_once_masked_and_skipped(live: LiveFigures, record: RunRecord,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    Broken.calls = 0
    outputs = Outputs([Broken()])
    with caplog.at_level(logging.WARNING, logger="mlfootprint"):
        outputs.start(live)
        outputs.flush(live)
        assert outputs.end(record, wait_s=10)
    assert Broken.calls == 1
    messages = [r.getMessage() for r in caplog.records if "failed at start" in r.getMessage()]
    assert len(messages) == 1 and "S3cret" not in messages[0]
