"""The `mlfootprint` command: a thin layer over the library, one module per group of commands.

Bad input (unknown country, PUE < 1, an unreadable store, an unknown run, a value of the wrong type)
prints one line on stderr and exits 2, with no traceback. User text (project names, commands) is
printed as data: never as markup, never with its terminal control characters.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import click
import typer
from rich.console import Console

from ..errors import MlfootprintError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Measure the energy, carbon and other footprints of machine-learning runs.")
err = Console(stderr=True, emoji=False, highlight=False)
out = Console(emoji=False)

StoreOpt = Annotated[Optional[str], typer.Option("--store", metavar="PATH|URL",
                                                 help="Run store: a SQLite path or a SQLAlchemy URL "
                                                      "(default: MLFOOTPRINT_STORE, else the user data dir).")]


def fail(message: str) -> None:
    """One line on stderr, exit 2: what every refused input gets."""
    from ..report.terminal import plain

    err.print(f"mlfootprint: error: {plain(message)}", highlight=False, markup=False, soft_wrap=True, emoji=False)
    sys.exit(2)


from . import runs, reduce, grid, estimate  # noqa: E402,F401,I001  (registers the commands on `app`, in this order)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except MlfootprintError as exc:
        fail(str(exc))
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click.exceptions.UsageError as exc:  # parse errors: one line that names the value, not a box
        command = exc.ctx.command_path if exc.ctx else "mlfootprint"
        fail(f"{exc.format_message()} (see '{command} --help')")
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        fail(exc.format_message())
    sys.exit(code if isinstance(code, int) else 0)
