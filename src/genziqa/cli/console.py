"""What the CLI shows: the stderr console, the progress bar, result tables, quiet libraries."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

err = Console(stderr=True, highlight=False, soft_wrap=True)


class progress:
    """A rich progress bar on stderr with images/s and time left; silent when not a terminal."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.enabled = not quiet and err.is_terminal

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
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
        self.started = time.perf_counter()
        self.done = 0

        def advance(count: int) -> None:
            self.done += count
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task, advance=count, rate=f"{rate:.2f} images/s")

        return advance

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.stop()


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


def quiet_libraries() -> None:
    """No per-file "Loading weights" bars or info logs from the model libraries."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
