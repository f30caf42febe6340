"""``genziqa score``: score image files into a table (resumable), or print a few."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..io.images import DEFAULT_MAX_PIXELS
from .console import err, print_rows, progress
from .options import (
    Backbone,
    BatchSize,
    Device,
    Dtype,
    Model,
    Offline,
    Quiet,
    StrictBackbone,
    Timesteps,
    UsageProblem,
    Workers,
    load_model,
)


def score(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Image files, folders or glob patterns.")
    ],
    model: Model = None,
    backbone: Backbone = None,
    backbone_config: Annotated[
        str | None,
        typer.Option(
            metavar="SOURCE",
            help="Component configs (folder, hub id or alias) for a single-file backbone.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write rows to .csv, .jsonl or .parquet (resumes if present).",
        ),
    ] = None,
    batch_size: BatchSize = 8,
    device: Device = "auto",
    dtype: Dtype = "auto",
    timesteps: Timesteps = None,
    resolution: Annotated[
        int | None,
        typer.Option(
            min=8,
            metavar="PIXELS",
            help="Square input size (default: the model's). Changes the score scale.",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Speed preset: reference, fast (1.9x), faster (5-7x), fastest (~20x). Presets "
            "change the score scale: compare only scores made with the same preset.",
        ),
    ] = None,
    compile: Annotated[
        bool,
        typer.Option("--compile", help="torch.compile the U-Net (minutes once; for GPUs)."),
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into folders.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start the output afresh.")
    ] = False,
    retry_errors: Annotated[
        bool,
        typer.Option(
            "--retry-errors", help="Score again the files that have error rows in the output."
        ),
    ] = False,
    workers: Workers = None,
    max_pixels: Annotated[
        int,
        typer.Option(
            min=0,
            metavar="N",
            help="Refuse larger images as decompression bombs (0: no limit).",
        ),
    ] = DEFAULT_MAX_PIXELS,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="K/N",
            help="Score only shard K of N (by a hash of each path): run N processes, e.g. one "
            "per GPU, each with its own --output.",
        ),
    ] = None,
    offline: Offline = False,
    strict_backbone: StrictBackbone = False,
    quiet: Quiet = False,
) -> int:
    """Score images. A few: a table on the terminal. Many: use --output.

    Rows hold path, score, status (ok/error) and the error message. They are written as each
    batch finishes, so an interrupted run loses at most one batch, and running the same
    command again skips what the output already holds.
    """
    from ..jobs.runtime import ScoringOptions, ScoringSetupError, check_options
    from ..jobs.score_files import score_files
    from . import EXIT_OK, EXIT_SOME_FAILED

    options = ScoringOptions(
        model, backbone, backbone_config, device, dtype, timesteps, resolution, preset, compile,
        offline, strict_backbone,
    )  # fmt: skip
    if overwrite and retry_errors:
        raise UsageProblem("--overwrite and --retry-errors exclude each other")
    if (overwrite or retry_errors) and output is None:
        raise UsageProblem("--overwrite and --retry-errors act on an --output file; none given")
    try:
        check_options(options)  # preset, device, dtype: before anything is read or loaded
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None
    shard_part = _parse_shard(shard)
    if output is not None:
        _check_output_format(output)
    files = _input_files(paths, recursive, shard_part, quiet)
    writer = _open_writer(output, overwrite, retry_errors, {str(p) for p in files})
    try:
        todo = [p for p in files if writer is None or str(p) not in writer.done]
        if writer is not None and len(todo) < len(files) and not quiet:
            err.print(f"Resuming: {len(files) - len(todo)} of {len(files)} already in {output}.")
        rows_for_table: list[dict] = []
        summary = None
        if todo:
            scorer = load_model(options, quiet)
            started = time.perf_counter()  # images/s without the model's loading
            write = writer.write if writer is not None else rows_for_table.extend
            with progress(len(todo), quiet) as advance:
                summary = score_files(
                    scorer,
                    todo,
                    write,
                    batch_size=batch_size,
                    num_workers=workers,
                    max_pixels=max_pixels or None,
                    on_progress=advance,
                )
            elapsed = time.perf_counter() - started
    finally:
        if writer is not None:
            writer.close()

    if writer is None:
        print_rows(rows_for_table)
    wanted = {str(p) for p in files}
    failed = (summary.failed if summary else 0) + len(writer.failed & wanted if writer else ())
    if summary is not None and not quiet:
        _report(summary, elapsed, output)
    if failed:
        if not quiet:
            err.print(f"{failed} file(s) could not be scored; see the error rows.")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _report(summary, elapsed: float, output: Path | None) -> None:
    rate = (summary.scored + summary.failed) / elapsed if elapsed > 0 else 0.0
    where = f" -> {output}" if output else ""
    failed = f" ({summary.failed} failed)" if summary.failed else ""
    err.print(
        f"Scored {summary.scored} of {summary.scored + summary.failed} images{failed}{where} "
        f"in {elapsed:.1f} s ({rate:.2f} images/s)."
    )


def _parse_shard(shard: str | None) -> tuple[int, int]:
    from ..jobs.shard import parse_shard

    try:
        return parse_shard(shard) if shard else (1, 1)
    except ValueError as error:
        raise UsageProblem(str(error)) from None


def _check_output_format(output: Path) -> None:
    from ..io.tables import format_for

    try:
        format_for(output)
    except ValueError as error:
        raise UsageProblem(str(error)) from None


def _input_files(
    paths: list[str], recursive: bool, shard: tuple[int, int], quiet: bool
) -> list[Path]:
    """The image files named by ``paths`` (files, folders, globs), this shard's part of them."""
    from ..io.images import find_images
    from ..jobs.shard import select_shard

    shard_index, shard_count = shard
    try:
        files = find_images(paths, recursive=recursive)
    except FileNotFoundError as error:
        raise UsageProblem(str(error)) from None
    if not files:
        raise UsageProblem(f"no image files found in {' '.join(paths)}")
    if shard_count > 1:
        found = len(files)
        files = select_shard(files, shard_index, shard_count)
        if not quiet:
            err.print(f"Shard {shard_index}/{shard_count}: {len(files)} of {found} images.")
    return files


def _open_writer(output: Path | None, overwrite: bool, retry_errors: bool, wanted: set[str]):
    """The output table's writer (None: print the rows), opened before any model loads."""
    from ..io.tables import ScoreWriter

    if output is None:
        return None
    try:
        return ScoreWriter(output, overwrite=overwrite, retry_errors=retry_errors and wanted)
    except (ValueError, OSError) as error:
        raise UsageProblem(str(error)) from None
