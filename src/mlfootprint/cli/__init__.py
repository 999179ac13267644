"""The `mlfootprint` command: a thin layer over the library, one module per group of commands.

Each command parses its options, calls one library function and prints. Bad input (unknown country,
PUE < 1, an unreadable store, an unknown run, a value of the wrong type) prints one line on stderr and
exits 2, with no traceback. User text (project names, commands) is printed as data: never as markup,
never with its terminal control characters.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import typer

from ..errors import MlfootprintError
from . import runs, serve, share, dashboard, reduce, grid, estimate  # noqa: F401,I001  (registers the commands on `app`, in this order)
from .app import app, fail

<<<<<<< HEAD
__all__ = ["app", "main"]
=======
def _argument_type(self: Any, ctx: Any) -> str | None:
    """An argument with a metavar (RUN_ID, SCRIPT) is shown by it alone, as options are, not "RUN_ID <str>"."""
    return None if self.metavar else _plain_argument_type(self, ctx)


_plain_argument_type = typer.core.TyperArgument.display_type_rich
typer.core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Measure the energy, carbon and other footprints of machine-learning runs.")
err = Console(stderr=True, emoji=False, highlight=False)
out = Console(emoji=False)

StoreOpt = Annotated[Optional[str], typer.Option("--store", metavar="PATH|URL",
                                                 help="Run store: a SQLite path or a SQLAlchemy URL "
                                                      "(default: MLFOOTPRINT_STORE, else the user data dir).")]


# Options that `track` and `serve` (the commands that start a run) share.
ProjectOpt = Annotated[Optional[str], typer.Option(metavar="NAME", help="Project name to file the run under.")]
CountryOpt = Annotated[Optional[str], typer.Option(metavar="CODE", help="ISO 3166 code (FR, FRA) or zone (US-CA).")]
RegionOpt = Annotated[Optional[str], typer.Option(metavar="PROVIDER:REGION",
                                                  help="Cloud region, e.g. gcp:europe-west1, aws:us-east-1.")]
PueOpt = Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help="Power usage effectiveness of the facility.")]
IntervalOpt = Annotated[Optional[float], typer.Option("--interval", metavar="SECONDS",
                                                      help="Seconds between sensor reads.")]
NoGpuOpt = Annotated[bool, typer.Option("--no-gpu", help="Do not read GPUs.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id at the end.")]


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"mlfootprint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Measure the energy, carbon and other footprints of machine-learning runs."""


def fail(message: str) -> None:
    """One line on stderr, exit 2: what every refused input gets."""
    from ..report.terminal import plain

    err.print(f"mlfootprint: error: {plain(message)}", highlight=False, markup=False, soft_wrap=True, emoji=False)
    sys.exit(2)


from . import runs, serve, share, dashboard, reduce, grid, estimate, fleet  # noqa: E402,F401,I001  (registers the commands on `app`, in this order)
>>>>>>> fleet


def _click_exceptions() -> list[ModuleType]:
    """Click's exception module(s): typer >= 0.26 carries its own copy of click (typer._click)."""
    found = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def _given_value(param: object) -> str | None:
    """The text given for an option (click's messages do not always repeat it)."""
    opts = getattr(param, "opts", None) or []
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1:]
    return None


def main() -> None:
    mods = _click_exceptions()
    kinds = {k: tuple(getattr(m, k) for m in mods if hasattr(m, k))
             for k in ("NoArgsIsHelpError", "UsageError", "Abort", "ClickException")}
    try:
        code = app(standalone_mode=False)
    except MlfootprintError as exc:
        fail(str(exc))
    except kinds["NoArgsIsHelpError"] as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except kinds["UsageError"] as exc:  # parse errors: one line that names the value, not a box
        command = exc.ctx.command_path if exc.ctx else "mlfootprint"
        given = _given_value(getattr(exc, "param", None))
        fail(f"{exc.format_message()}{f' (got {given!r})' if given is not None else ''} "
             f"(see '{command} --help')")
    except kinds["Abort"]:
        sys.exit(130)
    except kinds["ClickException"] as exc:
        fail(exc.format_message())
    sys.exit(code if isinstance(code, int) else 0)
