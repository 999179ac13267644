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
from . import runs, serve, share, dashboard, reduce, grid, estimate, fleet  # noqa: F401,I001  (registers the commands on `app`, in this order)
from .app import app, fail

__all__ = ["app", "main"]


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
