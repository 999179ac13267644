"""Progress from a wrapped command to `mlfootprint track`: the child writes its step to a file.

    mlfootprint track --epochs 30 -- python train.py
    # in train.py, after each epoch (a no-op when not run under `mlfootprint track`):
    mlfootprint.report_progress(epoch + 1)

The wrapper names the file in MLFOOTPRINT_PROGRESS_FILE; the child overwrites it with "step total"
(total optional); the wrapper's sampler reads it. No mlfootprint run is started in the child.
"""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import write_atomic

ENV_VAR = "MLFOOTPRINT_PROGRESS_FILE"


def report_progress(step: float, total: float | None = None) -> None:
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    try:
        write_atomic(path, f"{step} {total if total else ''}".strip())  # the reader never sees half a line
    except OSError:
        pass  # progress is a nicety: never break the training loop over it


def read_progress(path: str) -> tuple[float, float | None] | None:
    try:
        parts = Path(path).read_text().split()
        return float(parts[0]), (float(parts[1]) if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None
