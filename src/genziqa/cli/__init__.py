"""The ``genziqa`` command line: a thin shell over the library (typer + rich).

One file per command (``score.py``, ``train.py``, ...), the flags they share in
``options.py``, what they show in ``console.py``. ``main(argv)`` returns the exit code instead
of exiting, so tests call it in-process.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .console import HelpCommand, HelpGroup, err, warnings_as_notes
from .options import UsageProblem

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 every file scored; 1 unexpected error; 2 usage error (bad flags, no input "
    "found, unknown model or backbone not available); 3 finished, but some files could not be "
    "scored (see the error rows)."
)

app = typer.Typer(
    name="genziqa",
    cls=HelpGroup,
    help="No-reference image quality scores from a Stable Diffusion prior (GenzIQA).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

try:  # typer >= 0.24 ships its own click; older typer re-exports click's exceptions
    from typer import TyperException as _CliError
except ImportError:  # pragma: no cover
    from click import ClickException as _CliError


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"genziqa {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            is_eager=True,
            callback=_print_version,
            help="Print genziqa's version and exit.",
        ),
    ] = False,
) -> None:
    """No-reference image quality scores from a Stable Diffusion prior (GenzIQA)."""


def _register() -> None:
    from .datasets import datasets
    from .evaluate import evaluate
    from .import_official import import_official
    from .info import info
    from .make_synthetic import make_synthetic
    from .models import models
    from .score import score
    from .train import EPILOG, train

    app.command(epilog=EXIT_CODES_HELP, cls=HelpCommand)(score)
    app.command(cls=HelpCommand)(info)
    app.command(cls=HelpCommand)(datasets)
    app.command(epilog=EPILOG, cls=HelpCommand)(train)
    app.command(cls=HelpCommand)(evaluate)
    app.command("make-synthetic", cls=HelpCommand)(make_synthetic)
    app.command(cls=HelpCommand)(models)
    app.command("import-official", cls=HelpCommand)(import_official)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (documented in ``genziqa score --help``)."""
    warnings_as_notes()
    try:
        result = app(args=argv, prog_name="genziqa", standalone_mode=False)
    except UsageProblem as problem:
        err.print(f"error: {problem}", markup=False)
        return EXIT_USAGE
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except _CliError as error:
        error.show()
        return getattr(error, "exit_code", EXIT_USAGE)
    return result if isinstance(result, int) else EXIT_OK


__all__ = ["EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "UsageProblem", "app", "main"]
