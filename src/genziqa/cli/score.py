"""``genziqa score``: score image and video files into one table (resumable), or print a few."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..io.images import DEFAULT_MAX_PIXELS
from .console import err, print_rows, progress
from .options import (
    Backbone,
    BatchSize,
    Device,
    Dtype,
    Frames,
    Model,
    MotionFeatures,
    Offline,
    Quiet,
    SlowFast,
    StrictBackbone,
    Timesteps,
    UsageProblem,
    Workers,
    load_model,
    load_video_model,
)

if TYPE_CHECKING:
    from ..io.tables import OutputWriteError, ScoreWriter
    from ..jobs.runtime import ScoringOptions


def score(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Image or video files, folders or glob patterns; - reads paths from standard "
            "input, one per line (find ... | genziqa score - -o scores.csv).",
        ),
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
            help="Write rows to .csv, .jsonl or .parquet (resumes if present; locked while "
            "written).",
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
    details: Annotated[
        bool,
        typer.Option(
            "--details",
            help="Also write the per-timestep and per-layer scores (layer_scores, "
            "attention_scores, contrast): list columns in Parquet, JSON arrays in CSV/JSONL.",
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
    frames: Frames = None,
    slowfast: SlowFast = None,
    motion_features: MotionFeatures = None,
    offline: Offline = False,
    strict_backbone: StrictBackbone = False,
    quiet: Quiet = False,
    engine: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="local: this process. ray: a Ray cluster (pip install 'genziqa[ray]'), images "
            "and WebDataset .tar shards; --output is then a folder of Parquet parts.",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="--engine ray: join this cluster (auto, HOST:PORT), not a new one.",
        ),
    ] = None,
    gpus_per_actor: Annotated[
        float | None,
        typer.Option(
            min=0, metavar="N", help="--engine ray: GPUs per actor (default 1; 0 without GPUs)."
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="--engine ray: scoring actors (default: one per GPU)."
        ),
    ] = None,
) -> int:
    """Score images and videos. A few: a table on the terminal. Many: use --output.

    Rows hold path, score, status (ok/error), the error message and media (image/video); a
    failed file's score is empty (null in JSONL and Parquet). They are written as each batch
    finishes, so an interrupted run loses at most one batch, and running the same command
    again skips what the output already holds. The output records the model and settings
    that wrote it (FILE.genziqa.json beside it) and refuses a resume with others. Videos are
    scored by a GenzVQA --model (which needs SlowFast weights or --motion-features), or, with
    an image model, as the mean of its scores over the sampled frames.
    """
    from ..io.tables import OutputWriteError
    from ..jobs.runtime import ScoringOptions
    from . import EXIT_OK, EXIT_SOME_FAILED, EXIT_WRITE_FAILED

    options = ScoringOptions(
        model, backbone, backbone_config, device, dtype, timesteps, resolution, preset, compile,
        offline, strict_backbone=strict_backbone, frames=frames, slowfast=slowfast,
        motion_features=motion_features,
    )  # fmt: skip
    if (engine, ray_address, gpus_per_actor, actors) != ("local", None, None, None):
        ray = {"engine": engine, "ray_address": ray_address, "actors": actors, "shard": shard,
               "gpus_per_actor": gpus_per_actor, "workers": workers,
               "details": details}  # fmt: skip
        return _score_on_ray(paths, options, output, ray, recursive, batch_size, max_pixels,
                             overwrite, retry_errors, quiet)  # fmt: skip
    if overwrite and retry_errors:
        raise UsageProblem("--overwrite and --retry-errors exclude each other")
    if (overwrite or retry_errors) and output is None:
        raise UsageProblem("--overwrite and --retry-errors act on an --output file; none given")
    _check_preset(preset)
    shard_part = _parse_shard(shard)
    if output is not None:
        _check_output_format(output)
    # A new output (or none) certainly has work: check the device and dtype before anything
    # is written. A resume checks them only when something is left to score, so that one
    # with nothing left answers without importing torch.
    resolved_dtype = None
    if output is None or not _has_table(output, overwrite):
        resolved_dtype = _check_device(options)
    files = _input_files(paths, recursive, shard_part, quiet)
    writer = _open_writer(
        output, overwrite, retry_errors, {str(p) for p in files}, options, details, resolved_dtype
    )
    rows_for_table: list[dict] = []
    summary = video_model = None
    write_error: OutputWriteError | None = None
    try:
        todo = [p for p in files if writer is None or str(p) not in writer.done]
        if writer is not None and not quiet:
            if writer.unrecorded:
                err.print(
                    f"Note: {output} has no record of the model and settings that wrote it "
                    "(an older genziqa, or moved without its .genziqa.json); resuming it with "
                    "this run's."
                )
            if len(todo) < len(files):
                done = len(files) - len(todo)
                err.print(f"Resuming: {done} of {len(files)} already in {output}.")
        if todo:
            if writer is not None and resolved_dtype is None:
                _identify_dtype(writer, options, output)
            write = writer.write if writer is not None else rows_for_table.extend
            run = {"batch_size": batch_size, "num_workers": workers,
                   "max_pixels": max_pixels or None}  # fmt: skip
            summary, video_model, elapsed = _score_todo(todo, write, options, run, details, quiet)
    except OutputWriteError as error:
        write_error = error
    finally:
        if writer is not None:
            try:
                writer.close()
            except OutputWriteError as error:
                write_error = write_error or error
    if write_error is not None:
        assert writer is not None
        _report_write_error(write_error, writer)
        return EXIT_WRITE_FAILED

    if writer is None:
        print_rows(rows_for_table, details=details)
    wanted = {str(p) for p in files}
    failed = (summary.failed if summary else 0) + len(writer.failed & wanted if writer else ())
    if summary is not None and not quiet:
        _report(summary, elapsed, output, "files" if video_model is not None else "images")
    if failed:
        if not quiet:
            err.print(f"{failed} file(s) could not be scored; see the error rows.")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _score_todo(todo: list[Path], write, options: ScoringOptions, run: dict, details: bool,
                quiet: bool):  # fmt: skip
    """Load the model the files need (a video model when there are videos: its image model
    scores the images) and score them into ``write``; (summary, video model or None, seconds
    without the model's loading)."""
    from ..jobs.score_files import score_files

    images, videos = _split_media(todo)
    if videos and details:
        raise UsageProblem(
            "--details writes the per-layer scores of images; it takes no videos "
            f"({len(videos)} given): score them in a run without --details"
        )
    video_model = motion = summary = None
    if videos:
        video_model, motion = load_video_model(options, quiet)
        scorer = video_model.image_model
    else:
        scorer = load_model(options, quiet)
    started = time.perf_counter()
    with progress(len(todo), quiet) as advance:
        settings = {**run, "on_progress": advance}
        if images:
            summary = score_files(scorer, images, write, **settings, details=details)
        if video_model is not None:
            summary = _score_videos(video_model, motion, videos, write, summary, settings)
    return summary, video_model, time.perf_counter() - started


def _split_media(files: list[Path]) -> tuple[list[Path], list[Path]]:
    from ..jobs.score_videos import split_media

    return split_media(files)


def _score_videos(model, motion, videos, write, summary, settings: dict):
    """Score the run's videos into the same rows and summary as its images."""
    from ..jobs.score_videos import score_videos

    done = score_videos(model, videos, write, motion=motion, **settings)
    if summary is not None:
        done.scored += summary.scored
        done.failed += summary.failed
    return done


def _report(summary, elapsed: float, output: Path | None, noun: str = "images") -> None:
    rate = (summary.scored + summary.failed) / elapsed if elapsed > 0 else 0.0
    where = f" -> {output}" if output else ""
    failed = f" ({summary.failed} failed)" if summary.failed else ""
    err.print(
        f"Scored {summary.scored} of {summary.scored + summary.failed} {noun}{failed}{where} "
        f"in {elapsed:.1f} s ({rate:.2f} {noun}/s)."
    )


_WRITE_PROBLEMS = {
    errno.ENOSPC: ("the disk is full", "free some space"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or raise the quota"),
    errno.EFBIG: (
        "the file reached the largest size allowed",
        "lift the file size limit (ulimit -f) or write to another file system",
    ),
}


def _report_write_error(error: OutputWriteError, writer: ScoreWriter) -> None:
    what, fix = _WRITE_PROBLEMS.get(error.errno or 0, ("writing failed", "fix the problem"))
    where = error.filename or writer.path
    err.print(
        f"error: {what} ({error.strerror}) writing {where}: the {writer.rows_written} rows "
        f"written by this run (and all before it) are kept; {fix}, then run the same command "
        "again to resume.",
        markup=False,
    )


def _check_preset(preset: str | None) -> None:
    from ..jobs.presets import check_preset

    if preset is not None:
        try:
            check_preset(preset)
        except ValueError as error:
            raise UsageProblem(str(error)) from None


def _check_device(options: ScoringOptions) -> str:
    """The dtype's name after checking the device and dtype (imports torch)."""
    from ..jobs.runtime import ScoringSetupError, check_options, dtype_name

    try:
        return dtype_name(check_options(options)[1])
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None


def _identify_dtype(writer: ScoreWriter, options: ScoringOptions, output: Path | None) -> None:
    """A resume that has work: the dtype, now resolved, must be the one the output records."""
    from ..io.tables import RecordMismatchError

    name = _check_device(options)
    try:
        writer.identify({**writer.identity, "dtype": name})
    except RecordMismatchError as error:
        raise UsageProblem(_mismatch_message(output, error)) from None


def _mismatch_message(output: Path | None, error) -> str:
    return (
        f"{output} holds scores from another model or other settings "
        f"({'; '.join(error.differences)}); scores from different models, presets or "
        "timesteps are not comparable: pass --overwrite to start it afresh, or write to "
        "another --output"
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


def _has_table(output: Path, overwrite: bool) -> bool:
    from ..io.tables import table_exists

    return not overwrite and table_exists(output)


def _stdin_paths() -> list[str]:
    """The paths piped on standard input, one per line; blank lines are skipped."""
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(data, str):
        data = os.fsencode(data)
    lines = data.split(b"\n")
    return [os.fsdecode(line.rstrip(b"\r")) for line in lines if line.strip()]


def _input_files(
    paths: list[str], recursive: bool, shard: tuple[int, int], quiet: bool
) -> list[Path]:
    """The image and video files named by ``paths`` (files, folders, globs, ``-`` for a list
    on standard input), this shard's part of them."""
    from ..io.images import IMAGE_EXTENSIONS, search_images
    from ..io.video import VIDEO_EXTENSIONS
    from ..jobs.shard import select_shard

    shard_index, shard_count = shard
    listed = _stdin_paths() if "-" in paths else []
    named = [p for p in paths if p != "-"]
    try:
        found = search_images(
            named,
            recursive=recursive,
            listed=listed,
            extensions=IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
        )
    except FileNotFoundError as error:
        raise UsageProblem(str(error)) from None
    files, left_out = found.files, found.left_in_subfolders
    hint = (
        f"{left_out} file(s) in subfolders were left out: --recursive (-r) takes them"
        if left_out
        else ""
    )
    if not files:
        where = " ".join(named + (["(standard input)"] if "-" in paths else []))
        raise UsageProblem(
            f"no image or video files found in {where}" + (f"; {hint}" if hint else "")
        )
    if hint and not quiet:
        err.print(f"Note: {hint}.")
    if shard_count > 1:
        count = len(files)
        files = select_shard(files, shard_index, shard_count)
        if not quiet:
            err.print(f"Shard {shard_index}/{shard_count}: {len(files)} of {count} files.")
    return files


def _open_writer(
    output: Path | None,
    overwrite: bool,
    retry_errors: bool,
    wanted: set[str],
    options: ScoringOptions,
    details: bool,
    dtype: str | None,
) -> ScoreWriter | None:
    """The output table's writer (None: print the rows), opened and checked against what
    wrote it before any model loads."""
    from ..io.tables import OutputInUseError, RecordMismatchError, ScoreWriter
    from ..jobs.runtime import ScoringSetupError, scoring_identity

    if output is None:
        return None
    try:
        identity, about = scoring_identity(options, details=details)
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None
    if dtype is not None:
        identity["dtype"] = dtype
    try:
        return ScoreWriter(
            output,
            overwrite=overwrite,
            retry_errors=retry_errors and wanted,
            details=details,
            identity=identity,
            about=about,
        )
    except RecordMismatchError as error:
        raise UsageProblem(_mismatch_message(output, error)) from None
    except OutputInUseError as error:
        raise UsageProblem(str(error)) from None
    except (ValueError, OSError) as error:
        raise UsageProblem(str(error)) from None


def _score_on_ray(paths, options, output, ray: dict, recursive, batch_size, max_pixels,
                  overwrite, retry_errors, quiet) -> int:  # fmt: skip
    """``--engine ray``: check the flags, run ``jobs.ray_data.score_to_folder``, print its
    summary."""
    from . import EXIT_OK, EXIT_SOME_FAILED

    if ray["engine"] not in ("local", "ray"):
        raise UsageProblem(f"--engine must be local or ray, got {ray['engine']!r}")
    if ray["engine"] == "local":
        raise UsageProblem("--ray-address, --gpus-per-actor and --actors need --engine ray")
    if output is None or ray["shard"] is not None or ray["workers"] is not None or ray["details"]:
        raise UsageProblem("--engine ray needs --output FOLDER; no --shard/--workers/--details")
    if (options.frames, options.slowfast, options.motion_features) != (None, None, None):
        raise UsageProblem("--engine ray scores images only: no --frames/--slowfast/--motion-*")
    from ..jobs.ray_data import RayJobError, score_to_folder

    try:
        done = score_to_folder(
            paths, output, options, recursive=recursive, batch_size=batch_size,
            actors=ray["actors"], gpus_per_actor=ray["gpus_per_actor"],
            max_pixels=max_pixels or None, ray_address=ray["ray_address"],
            overwrite=overwrite, retry_errors=retry_errors, progress=not quiet,
        )  # fmt: skip
    except RayJobError as error:
        raise UsageProblem(str(error)) from None
    if not quiet and done.skipped == done.total:
        err.print(f"Nothing to score: all {done.total} inputs are in {output} already.")
    elif not quiet:
        err.print(
            f"Scored {done.scored} of {done.scored + done.failed} inputs ({done.failed} failed, "
            f"{done.skipped} already done) -> {output} in {done.seconds:.1f} s "
            f"({done.images_per_s:.2f} images/s); {done.failed_in_folder} error rows in all."
        )
    return EXIT_SOME_FAILED if done.failed_in_folder else EXIT_OK
