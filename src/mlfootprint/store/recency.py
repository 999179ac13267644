"""Which of two copies of one run is newer, so that combining them never moves the run back.

Copies of a run meet when a spool or rescue file is imported, when stores are merged, and when a
writer that lost its store for a while finds the run already imported by another process. A run only
moves forward: its duration grows, its heartbeat and end get later, its energy grows, and it ends
once. So the newer copy is the one that got further, compared in this order:

1. a final record (completed, failed) over any other state: it is the run's last word;
2. a longer duration_s;
3. a later heartbeat or end;
4. more energy_j;
5. ended (interrupted included) over running, when nothing else differs.

An `interrupted` row can be a reader's guess (the process was gone, see liveness.py) made from the
last flush; a spool file of the same run that got further (it kept spooling while the store was
unreachable) is newer by 2-4 and replaces it, and is judged dead again from its own heartbeat.

Equal copies are not newer: importing the same copy twice changes nothing the second time.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

__all__ = ["is_newer", "progress"]


def progress(row: dict[str, Any]) -> tuple[int, float, float, float, int]:
    """How far a copy of a run got, as a tuple that orders copies (see the module)."""
    status = row.get("status")
    final = 1 if status in ("completed", "failed") else 0
    ended = 0 if status == "running" else 1
    last = max(_timestamp(row.get("heartbeat_at")), _timestamp(row.get("ended_at")))
    return (final, _number(row.get("duration_s")), last, _number(row.get("energy_j")), ended)


def is_newer(incoming: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    """Whether `incoming` should replace `stored` (always, when nothing is stored)."""
    return stored is None or progress(incoming) > progress(stored)


def _number(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return float("-inf")
    return x if math.isfinite(x) else float("-inf")  # NaN would make every comparison false


def _timestamp(iso: Any) -> float:
    if not isinstance(iso, str):
        return float("-inf")
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
