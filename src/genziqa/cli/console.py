"""What the CLI shows: the stderr console, the progress bar, result tables, quiet libraries."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _without_type_tags(params: list) -> list:
    """--help shows no Python type tags (``<bool>``, ``<list[str]>``): an option shows its
    metavar when it has one (``FILE``, ``N``, ``K/N``); a flag or an argument shows nothing
    (an argument's name is its metavar)."""
    for param in params:
        shown = None if getattr(param, "is_flag", False) else param.metavar
        if param.param_type_name == "argument":
            shown = None
        param.display_type_rich = lambda ctx, shown=shown: shown
    return params


class HelpCommand(TyperCommand):
    """A command whose --help has no type tags (see ``_without_type_tags``)."""

    def get_params(self, ctx):
        return _without_type_tags(super().get_params(ctx))  # with --help, added here


class HelpGroup(TyperGroup):
    """The ``genziqa`` group, whose --help has no type tags either."""

    def get_params(self, ctx):
        return _without_type_tags(super().get_params(ctx))


PROGRESS_INTERVAL_ENV = "GENZIQA_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_INTERVAL = 30.0  # seconds between progress lines when stderr is not a terminal


class progress:
    """Progress of a scoring run on stderr, advanced image by image: a rich bar with images/s
    and time left on a terminal; otherwise (a log file, a pipe) one line every
    ``$GENZIQA_PROGRESS_INTERVAL`` seconds (default 30) with done/total, images/s and time
    left. Silent with ``quiet``."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.enabled = not quiet
        self.done = 0

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        self.started = time.perf_counter()
        if err.is_terminal:
            return self._start_bar()
        import threading

        self.stop = threading.Event()
        interval = _progress_interval()
        self.ticker = threading.Thread(target=self._log_lines, args=(interval,), daemon=True)
        self.ticker.start()

        def advance(count: int) -> None:
            self.done += count

        return advance

    def _start_bar(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("[progress.data.speed]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=err,
        )
        self.bar.start()
        self.task = self.bar.add_task("score", total=self.total, rate="")

        def advance(count: int) -> None:
            self.done += count
            self.bar.update(self.task, advance=count, rate=f"{self._rate():.2f} images/s")

        return advance

    def _rate(self) -> float:
        return self.done / max(time.perf_counter() - self.started, 1e-9)

    def line(self) -> str:
        """``scoring: 120/1000 images (12%), 4.21 images/s, 0:03:29 left``."""
        rate = self._rate()
        share = 100 * self.done / self.total if self.total else 100.0
        if rate > 0:
            seconds = round((self.total - self.done) / rate)
            left = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} left"
        else:
            left = "time left unknown"
        return (
            f"scoring: {self.done}/{self.total} images ({share:.0f}%), {rate:.2f} images/s, {left}"
        )

    def _log_lines(self, interval: float) -> None:
        while not self.stop.wait(interval):
            err.print(self.line(), markup=False)

    def __exit__(self, *exc) -> None:
        if not self.enabled:
            return
        if err.is_terminal:
            self.bar.stop()
        else:
            self.stop.set()
            self.ticker.join()


def _progress_interval() -> float:
    text = os.environ.get(PROGRESS_INTERVAL_ENV, "")
    try:
        value = float(text) if text.strip() else DEFAULT_PROGRESS_INTERVAL
    except ValueError:
        value = DEFAULT_PROGRESS_INTERVAL
    return value if value > 0 else DEFAULT_PROGRESS_INTERVAL


def print_rows(rows: list[dict], details: bool = False) -> None:
    """Rows as a table on a terminal, as CSV when stdout is a pipe or file (or with
    ``details``, whose arrays no table holds): the fields a CSV output file has, paths shown
    relative to the working folder. The terminal table shows the media column only when a row
    is a video."""
    out = Console(highlight=False, soft_wrap=True)
    cwd = Path.cwd()
    media = any(row.get("media", "image") != "image" for row in rows)

    def shown(path: str) -> str:
        try:
            return str(Path(path).relative_to(cwd))
        except ValueError:
            return path

    if details or not out.is_terminal:
        import csv

        from ..io.tables import columns_for, csv_fields

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns_for(details))
        for row in rows:
            writer.writerow(csv_fields({**row, "path": shown(str(row["path"]))}, details))
        sys.stdout.flush()
        return
    table = Table(show_edge=False)
    table.add_column("path")
    table.add_column("score", justify="right")
    table.add_column("status")
    table.add_column("error", overflow="fold")
    if media:
        table.add_column("media")
    for row in rows:
        ok = row["status"] == "ok"
        table.add_row(
            shown(str(row["path"])),
            f"{float(row['score']):.4f}" if ok else "",
            "ok" if ok else "[red]error[/red]",
            str(row["error"]),
            *([str(row.get("media", "image"))] * media),
        )
    out.print(table)


def print_table(columns: list[str], rows: list[list[str]], blocks: bool = False) -> None:
    """A table on a terminal. Piped, plain text: aligned columns, one line per row, or with
    ``blocks`` (long cells) one block per row, its first cell then ``column: value`` lines
    wrapped at spaces only, so that a path is never split mid-word."""
    import textwrap

    out = Console(highlight=False, soft_wrap=True)
    if out.is_terminal:
        table = Table(show_lines=blocks)
        for index, column in enumerate(columns):  # the first column (a name) is never split
            table.add_column(column, no_wrap=index == 0, overflow=None if index else "fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    if not blocks:
        widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
        for row in [columns, *rows]:
            cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
            sys.stdout.write("  ".join(cells).rstrip() + "\n")
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    width = max(out.width, 40)
    title_column = 0
    for row in rows:
        lines = [row[title_column]]
        for column, value in zip(columns, row, strict=True):
            if column == columns[title_column] or not value:
                continue
            lines += textwrap.wrap(
                f"{column}: {value}",
                width=width,
                initial_indent="  ",
                subsequent_indent="      ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()


def warnings_as_notes() -> None:
    """Show Python warnings (a partial database copy, a changed backbone) as one
    ``warning: ...`` line each on stderr, without the file and line of the code that warned.
    Only the format changes: code that records warnings still gets them."""
    import warnings

    def one_line(message, category, filename, lineno, line=None) -> str:
        return f"warning: {message}\n"

    warnings.formatwarning = one_line


def quiet_libraries() -> None:
    """No per-file "Loading weights" bars or info logs from the model libraries."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
