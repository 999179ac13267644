"""The CLI's shared parts: the typer app, the two consoles, options several commands take, `fail`.

Every command module imports these from here (and the package imports the command modules), so no
module of the CLI imports another in a circle.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
import typer.core
from rich.console import Console

from ..config import SETTINGS


def _argument_type(self: Any, ctx: Any) -> str | None:
    """An argument with a metavar (RUN_ID, SCRIPT) is shown by it alone, as options are, not "RUN_ID <str>"."""
    return None if self.metavar else _plain_argument_type(self, ctx)


# typer 0.29's help shows an argument's type beside its metavar; the versions pyproject allows (< 0.29) have
# no such hook and write the metavar alone. Kept for an install that has 0.29 all the same.
_plain_argument_type: Any = getattr(typer.core.TyperArgument, "display_type_rich", None)
if _plain_argument_type is not None:
    setattr(typer.core.TyperArgument, "display_type_rich", _argument_type)


def _wrap_between_words() -> None:
    """Help text wraps between words, never inside `aws:us-east-1` or `--enable-expert-parallel`: a reader
    copies them. Click's wrapper breaks on hyphens by default (typer >= 0.26 carries its own click copy)."""
    import importlib

    for name in ("typer._click._textwrap", "click._textwrap"):  # the first found is the one typer uses
        try:
            wrapper = importlib.import_module(name).TextWrapper
        except ImportError:
            continue
        if getattr(wrapper, "_mlfootprint_words", False):
            return
        plain_init = wrapper.__init__

        def init(self: Any, *args: Any, _plain: Any = plain_init, **kwargs: Any) -> None:
            kwargs.setdefault("break_on_hyphens", False)
            _plain(self, *args, **kwargs)

        wrapper.__init__ = init
        wrapper._mlfootprint_words = True
        return


_wrap_between_words()

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Measure the energy, carbon and other footprints of machine-learning runs.")
err = Console(stderr=True, emoji=False, highlight=False)
out = Console(emoji=False)


def setting_help(name: str) -> str:
    """A setting's help, as config.SETTINGS declares it (one sentence, capitalised)."""
    doc = SETTINGS[name].doc
    return doc[:1].upper() + doc[1:] + "."


StoreOpt = Annotated[Optional[str], typer.Option("--store", metavar="PATH|URL",
                                                 help=setting_help("store") + " Default: MLFOOTPRINT_STORE, else the user "
                                                 "data dir.")]


# Options that `track` and `serve` (the commands that start a run) share; their help is the setting's.
ProjectOpt = Annotated[Optional[str], typer.Option(metavar="NAME", help=setting_help("project"))]
CountryOpt = Annotated[Optional[str], typer.Option(metavar="CODE", help=setting_help("country"))]
RegionOpt = Annotated[Optional[str], typer.Option(metavar="PROVIDER:REGION", help=setting_help("region"))]
PueOpt = Annotated[Optional[float], typer.Option(metavar="1.0-3.0", help=setting_help("pue"))]
IntervalOpt = Annotated[Optional[float], typer.Option("--interval", metavar="SECONDS", help=setting_help("interval_s"))]
NoGpuOpt = Annotated[bool, typer.Option("--no-gpu", help="Do not read GPUs.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id at the end.")]


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        typer.echo(f"mlfootprint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Measure the energy, carbon and other footprints of machine-learning runs."""


def fail(message: str) -> None:
    """One line on stderr, exit 2: what every refused input gets."""
    from ..report.format import plain
    from ..urlmask import mask_text

    # an error may quote what was typed: a URL in it is masked like every URL the package shows
    err.print(f"mlfootprint: error: {plain(mask_text(message))}", highlight=False, markup=False, soft_wrap=True,
              emoji=False)
    sys.exit(2)
