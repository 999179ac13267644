"""What a reader must know of the store's tables without importing SQLAlchemy (schema.py does).

Readers (`runs`, `show`, `jobs`, the dashboard) answer while a person waits, so they read a SQLite
store through the standard library's sqlite3 and need only these names. schema.py holds the tables
themselves, tables.py their columns.
"""

from __future__ import annotations

from typing import Any, get_args

from ..errors import StoreConfigError
from ..rows import RunKind
from .urls import display_url

# 2: phases and run_values tables; 3: runs.impact_json; 4: run_values.value nullable (a metric logged as NaN);
# 5: runs.job_id, job_rank, job_json (a distributed job's ranks), samples rolled up with age (samples.span_s,
#    samples.phase), serving_windows (a served model's requests and energy per time window);
# 6: runs.parent_id (the run or experiment this one is nested in), runs.kind ('run' | 'experiment'),
#    runs.serving_estimate_json (computed once at the run's end), components.charged_to (the run that owns
#    the device's energy when it is not this one), runs.overlaps_json (unrelated runs that measured the same
#    machine at the same time), an index on runs.started_at (listings)
SCHEMA_VERSION = 6

META_TABLE = "mlfootprint_meta"
CHILD_TABLES = ("components", "phases", "run_values", "serving_windows")  # rows of a run, besides samples

# Columns added after schema 1, with the value a row of an older store reads as: readers fill them in,
# so a record has the same keys whatever version wrote it.
ADDED_COLUMNS: dict[str, dict[str, Any]] = {
    "runs": {"impact_json": None, "job_id": None, "job_rank": None, "job_json": None, "parent_id": None,
             "kind": "run", "serving_estimate_json": None, "overlaps_json": None},
    "components": {"charged_to": None},
    "samples": {"span_s": None, "phase": None},
}

# Long text a listing does not show: `runs`, the dashboard and the job list leave it unread.
BLOB_COLUMNS = frozenset({"settings_json", "warnings_json", "impact_json", "job_json", "serving_estimate_json",
                          "overlaps_json"})

RUN_KINDS: tuple[str, ...] = get_args(RunKind)  # run | experiment | trial
RUN_STATUSES = ("running", "completed", "failed", "interrupted")


def parse_version(value: Any, url: str) -> int:
    """The stored schema version, or one line saying it is damaged."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreConfigError(f"run store {display_url(url)!r} has a damaged schema version {value!r}; "
                               "it was not written by mlfootprint") from None


def check_version(version: int | None, url: str) -> None:
    """Refuse a store written by a newer mlfootprint: its rows may mean what this version cannot know."""
    if version is not None and version > SCHEMA_VERSION:
        raise StoreConfigError(f"run store {display_url(url)!r} has schema version {version}, newer than this "
                               f"mlfootprint understands ({SCHEMA_VERSION}); upgrade mlfootprint")
