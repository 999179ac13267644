"""Finding what an id names in a store: a run, or a distributed job (whose summary is built from its ranks).

`find` is what `show`, `report`, `statement` and the dashboard call: a job id (which carries its
launcher, `torchrun:…`, `slurm:…`) or a unique prefix of one, else a run id or a unique prefix of one.
It sits above both the store (which returns rows and records) and jobs (which adds ranks up), so
neither has to import the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .errors import RunNotFoundError
from .jobs import JobSummary, summarize
from .record import RunRecord


class Reader(Protocol):
    """What `find` needs of a store opened for reading (store.open_store())."""

    @property
    def display_url(self) -> str: ...

    def find_job(self, job_id: str) -> str | None: ...

    def job_records(self, job_id: str) -> Iterable[RunRecord]: ...

    def get_run(self, run_id: str) -> RunRecord: ...

__all__ = ["Reader", "find", "find_job"]


def find_job(store: Reader, given: str) -> JobSummary | None:
    """The job `given` names (its id or a unique prefix), summarized; None when it names none."""
    job_id = store.find_job(given)
    return summarize(job_id, store.job_records(job_id)) if job_id is not None else None


def find(store: Reader, given: str) -> RunRecord | JobSummary:
    """The run or job an id (or unique prefix) names; RunNotFoundError naming where it looked otherwise."""
    if given and ":" in given:  # job ids carry their launcher
        job = find_job(store, given)
        if job is not None:
            return job
    try:
        return store.get_run(given)
    except RunNotFoundError:
        job = find_job(store, given)
        if job is None:
            raise RunNotFoundError(f"no run or job with id {given!r} in {store.display_url}; 'mlfootprint runs' "
                                   "and 'mlfootprint jobs' list them") from None
        return job
