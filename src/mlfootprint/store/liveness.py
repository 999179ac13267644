"""Whether a stored run marked `running` still runs, from its row alone.

A run killed with SIGKILL (or on a node that went down) never writes its end: its row stays
`running`. On its own host its pid tells (gone, a zombie, or reused by a process that started later);
elsewhere its heartbeat does: a running run flushes every flush_interval_s, so one silent for
STALE_HEARTBEATS flushes (and at least STALE_MIN_S) is taken as dead. Readers show such a run as
interrupted without writing; a writer records it so (Writer.mark_dead_runs).

psutil is imported only when a running row of this host needs it: a listing of finished runs
does without.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from .spool import hostname

__all__ = ["STALE_HEARTBEATS", "STALE_MIN_S", "flush_interval_s", "is_dead", "shown_status"]

STALE_HEARTBEATS = 5
STALE_MIN_S = 60.0
DEFAULT_FLUSH_S = 5.0


def shown_status(row: dict[str, Any]) -> dict[str, Any]:
    """A run still marked running whose process is gone was interrupted: show it so."""
    if row["status"] != "running" or not is_dead(row):
        return row
    return dict(row, status="interrupted", ended_at=row["heartbeat_at"])


def is_dead(row: dict[str, Any], now: datetime | None = None) -> bool:
    """`row` needs status, host, pid, started_at, heartbeat_at, and settings_json when not of this host."""
    if row["host"] == hostname():
        alive = _pid_alive(row.get("pid"), row["started_at"])
        if alive is not None:
            return not alive
    heartbeat = _parse(row.get("heartbeat_at") or row["started_at"])
    if heartbeat is None:
        return False  # no time to judge by: leave it as stored
    stale_s = max(STALE_MIN_S, STALE_HEARTBEATS * flush_interval_s(row.get("settings_json")))
    return (now or datetime.now(timezone.utc)) - heartbeat > timedelta(seconds=stale_s)


def flush_interval_s(settings_json: str | None) -> float:
    """The run's flush interval from its stored settings (the default when absent or unreadable)."""
    try:
        settings = json.loads(settings_json or "{}")
        return float(settings.get("flush_interval_s", {}).get("value", DEFAULT_FLUSH_S))
    except (ValueError, TypeError, AttributeError):
        return DEFAULT_FLUSH_S


def _pid_alive(pid: Any, started_at: str) -> bool | None:
    """True/False when the pid tells; None when it cannot (no such pid range, no permission)."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    import psutil

    try:
        proc = psutil.Process(pid)
        started = _parse(started_at)
        # a recycled pid belongs to a process that started after our run did
        recycled = started is not None and proc.create_time() > started.timestamp() + 1
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and not recycled
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, ValueError, OverflowError):
        return None


def _parse(iso: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso) if iso else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment
