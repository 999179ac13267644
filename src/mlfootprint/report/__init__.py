"""Showing and sharing a footprint: the terminal, one HTML file, a paper statement, CSV and JSON files.

Public functions (the CLI's `show`, `report` and `statement` call these and nothing else):

    from mlfootprint.report import write_report, statement_of
    write_report(open_store(), "1a2b3c", "run.html")     # a run or a job, by id or unique prefix
    print(statement_of(open_store(), "1a2b3c"))

Presentation only: nothing here measures or stores. Modules: format (numbers and units), model (the
rows and words every view shares), terminal and job_view (rich), html and plots (Jinja2, matplotlib),
statement, files (CSV/JSON), progress (the progress bar), dashboard (the web app).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..jobs import JobSummary
    from ..lookup import Reader
    from ..record import RunRecord

__all__ = ["html_of", "statement_of", "write_report"]


def html_of(store: Any, found: RunRecord | JobSummary) -> str:
    """The self-contained HTML page of a run (with its stored samples) or a job."""
    from ..jobs import JobSummary
    from ..record import SampleRow, row
    from .html import job_report, run_report

    if isinstance(found, JobSummary):
        return job_report(found)
    return run_report(found, [row(SampleRow, s) for s in store.samples(found.id)])


def write_report(store: Reader, ident: str, output: str | Path) -> Path:
    """Render the run or job `ident` names (an id or a unique prefix) to `output`; returns the path written.
    Raises MlfootprintError with one line for an unknown id or a path that cannot be written."""
    from ..atomic import write_atomic
    from ..errors import MlfootprintError
    from ..lookup import find

    page = html_of(store, find(store, ident))
    path = Path(output)
    try:
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, page)
    except OSError as exc:
        raise MlfootprintError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def statement_of(store: Reader, ident: str) -> str:
    """The paper statement of the run or job `ident` names."""
    from ..jobs import JobSummary
    from ..lookup import find
    from .statement import job_statement, statement

    found = find(store, ident)
    return job_statement(found) if isinstance(found, JobSummary) else statement(found)
