"""``genziqa score``: score image and video files into one table (resumable), or print a few."""

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
    Frames,
    Model,
    MotionFeatures,
    Offline,
    Quiet,
    SlowFast,
    Timesteps,
    UsageProblem,
    Workers,
    load_model,
    load_video_model,
)


def score(
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH", help="Image or video files, folders or glob patterns."),
    ],
    model: Model = None,
    backbone: Backbone = None,
    backbone_config: Annotated[
        str | None,
        typer.Option(help="Component configs (folder or hub id) for a single-file backbone."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write rows to .csv, .jsonl or .parquet (resumes if present)."
        ),
    ] = None,
    batch_size: BatchSize = 8,
    device: Device = "auto",
    dtype: Dtype = "auto",
    timesteps: Timesteps = None,
    resolution: Annotated[
        int | None, typer.Option(min=8, help="Square input size (default: the model's).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Speed preset: reference, fast (1.9x), faster (5-7x), fastest (~20x)."),
    ] = None,
    compile: Annotated[
        bool, typer.Option(help="torch.compile the U-Net (minutes once; for GPUs).")
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into folders.")] = (
        False
    ),
    overwrite: Annotated[bool, typer.Option(help="Start the output afresh.")] = False,
    retry_errors: Annotated[
        bool, typer.Option(help="Score again the files that have error rows in the output.")
    ] = False,
    workers: Workers = None,
    max_pixels: Annotated[
        int,
        typer.Option(help="Refuse larger images as decompression bombs (0: no limit)."),
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
    quiet: Quiet = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local: this process. ray: a Ray cluster (pip install 'genziqa[ray]'), images "
            "and WebDataset .tar shards; --output is then a folder of Parquet parts."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="--engine ray: join this cluster (auto, HOST:PORT); default: a new one."),
    ] = None,
    gpus_per_actor: Annotated[
        float | None,
        typer.Option(min=0, help="--engine ray: GPUs per actor (default 1; 0 without GPUs)."),
    ] = None,
    actors: Annotated[
        int | None, typer.Option(min=1, help="--engine ray: scoring actors (default: one per GPU).")
    ] = None,
) -> int:
    """Score images and videos. A few: a table on the terminal. Many: use --output.

    Rows hold path, score, status (ok/error), the error message and media (image/video). They
    are written as each batch finishes, so an interrupted run loses at most one batch, and
    running the same command again skips what the output already holds. Videos are scored by
    a GenzVQA --model (which needs SlowFast weights or --motion-features), or, with an image
    model, as the mean of its scores over the sampled frames.
    """
    from ..jobs.runtime import ScoringOptions, ScoringSetupError, check_options
    from ..jobs.score_files import score_files
    from . import EXIT_OK, EXIT_SOME_FAILED

    options = ScoringOptions(
        model, backbone, backbone_config, device, dtype, timesteps, resolution, preset, compile,
        offline, frames=frames, slowfast=slowfast, motion_features=motion_features,
    )  # fmt: skip
    if (engine, ray_address, gpus_per_actor, actors) != ("local", None, None, None):
        ray = {"engine": engine, "ray_address": ray_address, "actors": actors, "shard": shard,
               "gpus_per_actor": gpus_per_actor, "workers": workers}  # fmt: skip
        return _score_on_ray(paths, options, output, ray, recursive, batch_size, max_pixels,
                             overwrite, retry_errors, quiet)  # fmt: skip
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
        summary = video_model = None
        if todo:
            images, videos = _split_media(todo)
            motion = None
            if videos:  # one model for both: the video model's image model scores images
                video_model, motion = load_video_model(options, quiet)
                scorer = video_model.image_model
            else:
                scorer = load_model(options, quiet)
            started = time.perf_counter()  # images/s without the model's loading
            write = writer.write if writer is not None else rows_for_table.extend
            with progress(len(todo), quiet) as advance:
                settings = {
                    "batch_size": batch_size,
                    "num_workers": workers,
                    "max_pixels": max_pixels or None,
                    "on_progress": advance,
                }
                summary = score_files(scorer, images, write, **settings) if images else None
                if video_model is not None:
                    summary = _score_videos(video_model, motion, videos, write, summary, settings)
            elapsed = time.perf_counter() - started
    finally:
        if writer is not None:
            writer.close()

    if writer is None:
        print_rows(rows_for_table)
    wanted = {str(p) for p in files}
    failed = (summary.failed if summary else 0) + len(writer.failed & wanted if writer else ())
    if summary is not None and not quiet:
        _report(summary, elapsed, output, "files" if video_model is not None else "images")
    if failed:
        if not quiet:
            err.print(f"{failed} file(s) could not be scored; see the error rows.")
        return EXIT_SOME_FAILED
    return EXIT_OK


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
    """The image and video files named by ``paths`` (files, folders, globs), this shard's
    part of them."""
    from ..io.images import find_images
    from ..jobs.score_videos import MEDIA_EXTENSIONS
    from ..jobs.shard import select_shard

    shard_index, shard_count = shard
    try:
        files = find_images(paths, recursive=recursive, extensions=MEDIA_EXTENSIONS)
    except FileNotFoundError as error:
        raise UsageProblem(str(error)) from None
    if not files:
        raise UsageProblem(f"no image or video files found in {' '.join(paths)}")
    if shard_count > 1:
        found = len(files)
        files = select_shard(files, shard_index, shard_count)
        if not quiet:
            err.print(f"Shard {shard_index}/{shard_count}: {len(files)} of {found} files.")
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


def _score_on_ray(paths, options, output, ray: dict, recursive, batch_size, max_pixels,
                  overwrite, retry_errors, quiet) -> int:  # fmt: skip
    """``--engine ray``: check the flags, run ``jobs.ray_data.score_to_folder``, print its
    summary."""
    from . import EXIT_OK, EXIT_SOME_FAILED

    if ray["engine"] not in ("local", "ray"):
        raise UsageProblem(f"--engine must be local or ray, got {ray['engine']!r}")
    if ray["engine"] == "local":
        raise UsageProblem("--ray-address, --gpus-per-actor and --actors need --engine ray")
    if output is None or ray["shard"] is not None or ray["workers"] is not None:
        raise UsageProblem("--engine ray needs --output FOLDER and takes no --shard/--workers")
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
