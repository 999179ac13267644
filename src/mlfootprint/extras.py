"""Optional dependencies: which extra brings which module, and the one line that says what to install.

The core install (`pip install .`) measures, stores, lists, exports, states and estimates. Drawing
(the HTML report, plots), the dashboard, Prometheus (live metrics and `serve`'s scrape), experiment
trackers, PostgreSQL and PyTorch's strategies need more. A feature asks `need(...)` before it starts:
when a module is missing it gets `MissingDependency`, one line naming the module(s) and the `pip
install` to run (the CLI prints it and exits 2; a run's outputs warn once and go on without it).
`find_spec` looks for a module without importing it, so asking costs nothing on a run's start path.

EXTRAS mirrors pyproject's [project.optional-dependencies] (tests/test_extras.py holds them together):
`pip install 'mlfootprint[plots]'` also works on an install from a clone or a wheel, because pip
reads the extras from the installed package.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from .errors import MissingDependency

__all__ = ["EXTRAS", "hint", "missing", "need", "need_store_driver"]

# extra -> the modules (import names) it brings that some feature of ours imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "plots": ("matplotlib", "jinja2"),
    "dashboard": ("starlette", "uvicorn", "matplotlib", "jinja2"),
    "prometheus": ("prometheus_client",),
    "trackers": ("mlflow", "wandb"),
    "postgres": ("psycopg",),
    "torch": ("torch", "sklearn"),
}

# PostgreSQL drivers SQLAlchemy knows by these names; a URL that names none (postgresql://) gets psycopg2
_POSTGRES_DRIVERS = ("psycopg", "psycopg2", "pg8000", "asyncpg")


def missing(modules: Sequence[str]) -> list[str]:
    """The modules of `modules` that cannot be imported here (none is imported to find out)."""
    gone = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a missing parent package, or a module set to None in sys.modules
            found = False
        if not found:
            gone.append(name)
    return gone


def hint(extra: str) -> str:
    """The command that installs `extra`."""
    return f"pip install 'mlfootprint[{extra}]'"


def need(what: str, extra: str, modules: Sequence[str] | None = None) -> None:
    """Raise MissingDependency (one line) when `what` cannot run here: some of `modules` (default: all
    of `extra`'s) are not installed. `what` names the feature, e.g. "the HTML report"."""
    gone = missing(EXTRAS[extra] if modules is None else modules)
    if gone:
        verb = "is" if len(gone) == 1 else "are"
        raise MissingDependency(f"{what} needs {' and '.join(gone)}, which {verb} not installed: {hint(extra)}")


def need_store_driver(url: str) -> None:
    """A PostgreSQL store URL whose driver is not installed, refused in one line with the install to run
    (SQLAlchemy's own message names neither our extra nor the URL form we support)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    dialect, _, driver = scheme.partition("+")
    module = driver or "psycopg2"
    if dialect != "postgresql" or module not in _POSTGRES_DRIVERS or not missing([module]):
        return
    if module == "psycopg":
        advice = hint("postgres")
    elif driver:
        advice = f"pip install {module}, or write postgresql+psycopg:// and {hint('postgres')}"
    else:
        advice = f"write postgresql+psycopg://USER@HOST/DB and {hint('postgres')}"
    raise MissingDependency(f"a {scheme}:// store needs the {module} driver, which is not installed: {advice}")
