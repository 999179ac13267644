"""The `mlfootprint` command: a thin layer over the library, one module per group of commands.

Each command parses its options, calls one library function and prints. Bad input (unknown country,
PUE < 1, an unreadable store, an unknown run, a value of the wrong type) prints one line on stderr and
exits 2, with no traceback. User text (project names, commands) is printed as data: never as markup,
never with its terminal control characters.
"""

from __future__ import annotations

import copy
import importlib
import sys
from types import ModuleType

import typer

from ..errors import MlfootprintError
from . import runs, serve, share, dashboard, reduce, grid, estimate, fleet  # noqa: F401,I001  (registers the commands on `app`, in this order)
from .app import app, fail

__all__ = ["app", "main"]


def _click_exceptions() -> list[ModuleType]:
    """Click's exception module: typer >= 0.26 carries its own copy of click (typer._click), and then the
    installed click (if any) is not the one raising; importing it too would cost every command ~8 ms."""
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            return [importlib.import_module(name)]
        except ImportError:
            continue
    return []


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command being run: typer builds every registered command's options (the
    signatures of all ~20 command functions, ~30 ms) before it runs one. Help, --version, an unknown
    name or a mistyped one get the whole app, so their output and messages are typer's own."""
    name = argv[1] if len(argv) > 1 else None
    chosen = [c for c in app.registered_commands
              if (c.name or (c.callback.__name__.replace("_", "-") if c.callback else None)) == name]
    if len(chosen) != 1 or app.registered_groups:
        return app
    only = copy.copy(app)  # keeps the root callback (--version): still a group, so `mlfootprint NAME ...` parses
    only.registered_commands = chosen
    return only


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
        code = _app_for(sys.argv)(standalone_mode=False)
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
