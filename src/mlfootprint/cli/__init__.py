"""The `mlfootprint` command: a thin layer over the library, one module per group of commands.

Bad input (unknown country, PUE < 1, an unreadable store, an unknown run) prints one line on stderr
and exits 2, with no traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..errors import MlfootprintError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Measure the energy, carbon and other footprints of machine-learning runs.")
err = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Run store: a SQLite path or a SQLAlchemy URL "
                                                 "(default: MLFOOTPRINT_STORE, else the user data dir).")]

from . import runs, reduce, grid, estimate  # noqa: E402,F401,I001  (registers the commands on `app`, in this order)


def main() -> None:
    try:
        app()
    except MlfootprintError as exc:
        err.print(f"mlfootprint: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
