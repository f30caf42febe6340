"""The ``genziqa`` command line: a thin shell over the library (typer + rich).

One file per command (``score.py``, ``train.py``, ...), the flags they share in
``options.py``, what they show in ``console.py``. ``main(argv)`` returns the exit code instead
of exiting, so tests call it in-process.
"""

from __future__ import annotations

import os
import traceback
from typing import Annotated

import typer

from .console import HelpCommand, HelpGroup, err, warnings_as_notes
from .options import UsageProblem

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_WRITE_FAILED = 4

EXIT_CODES_HELP = (
    "Exit codes: 0 every file scored; 1 unexpected error (one line; GENZIQA_DEBUG=1 shows the "
    "traceback); 2 usage error (bad flags, no input found, unknown model or backbone not "
    "available, an output in use by another run or written with other settings); 3 finished, "
    "but some files could not be scored (see the error rows); 4 the output could not be "
    "written (a full disk...): what was written is kept and the same command resumes."
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
    from ..serve.command import EPILOG as SERVE_EPILOG
    from ..serve.command import serve
    from .convert_slowfast import convert_slowfast
    from .datasets import datasets
    from .evaluate import evaluate
    from .explain import explain
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
    app.command(epilog=EXIT_CODES_HELP, cls=HelpCommand)(explain)
    app.command("make-synthetic", cls=HelpCommand)(make_synthetic)
    app.command(cls=HelpCommand)(models)
    app.command("import-official", cls=HelpCommand)(import_official)
    app.command("serve", epilog=SERVE_EPILOG, cls=HelpCommand)(serve)  # no FastAPI until run
    app.command("convert-slowfast", cls=HelpCommand)(convert_slowfast)


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
    except Exception as error:  # the last resort: one line, the traceback only when asked
        if os.environ.get("GENZIQA_DEBUG", "").strip() not in ("", "0"):
            traceback.print_exc()
        else:
            lines = str(error).strip().splitlines()
            detail = f": {lines[0]}" if lines else ""
            err.print(
                f"error: unexpected {type(error).__name__}{detail} (GENZIQA_DEBUG=1 shows the "
                "traceback; please report it)",
                markup=False,
            )
        return EXIT_UNEXPECTED
    return result if isinstance(result, int) else EXIT_OK


__all__ = [
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "EXIT_WRITE_FAILED",
    "UsageProblem",
    "app",
    "main",
]
