"""``genziqa explain``: per image an overlay PNG, the raw heatmap (.npy) and a score row."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..io.images import DEFAULT_MAX_PIXELS
from .console import err, progress
from .options import (
    Backbone,
    BatchSize,
    Device,
    Dtype,
    Model,
    Offline,
    Quiet,
    Timesteps,
    UsageProblem,
    load_model,
)
from .score import _input_files, _open_writer

KIND_HELP = (
    "contribution (w·S, the log-sum-exp pooling's weight times the logit: what the score is "
    "made of), contrast (good-minus-bad logit), responsibility (the pooling's weight) or "
    "entropy."
)


def explain(
    paths: Annotated[
        list[str], typer.Argument(metavar="IMAGE", help="Image files, folders or glob patterns.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the overlays, maps and score table.")
    ],
    model: Model = None,
    backbone: Backbone = None,
    kind: Annotated[str, typer.Option(help=KIND_HELP)] = "contribution",
    scale: Annotated[
        str,
        typer.Option(help="relative (each image's min to max) or absolute (the --range given)."),
    ] = "relative",
    value_range: Annotated[
        str | None,
        typer.Option(
            "--range", metavar="LO,HI", help="The colour bar's ends for --scale absolute."
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="Map opacity in the overlay.")] = (
        0.5
    ),
    panel: Annotated[int, typer.Option(min=32, help="Panel size in the PNG (pixels).")] = 320,
    map_size: Annotated[
        str,
        typer.Option(
            help="The .npy map's grid: latent (the raw map, e.g. 64x64 on SD) or image (the "
            "image's own size)."
        ),
    ] = "latent",
    table: Annotated[
        str, typer.Option(help="Score table name in the folder (.csv, .jsonl or .parquet).")
    ] = "scores.csv",
    batch_size: BatchSize = 8,
    device: Device = "auto",
    dtype: Dtype = "auto",
    timesteps: Timesteps = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into folders.")] = (
        False
    ),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start the score table afresh.")
    ] = False,
    max_pixels: Annotated[
        int, typer.Option(help="Refuse larger images as decompression bombs (0: no limit).")
    ] = DEFAULT_MAX_PIXELS,
    offline: Offline = False,
    quiet: Quiet = False,
) -> int:
    """Explain scores with heatmaps from the scoring pass: where the score comes from.

    Per image, in the output folder: NAME.png (image | overlay | map, colour bar, labels) and
    NAME.npy (the map, float16), NAME being the file's stem (plus a hash when two inputs
    share one); and one row per image in the score table (path, score, status, error). Running
    the same command again skips the images already in the table.
    """
    from ..explain.heatmaps import KINDS
    from ..explain.overlay import SCALES
    from ..jobs.explain_files import MAP_SIZES, explain_files, output_names
    from ..jobs.runtime import ScoringOptions, ScoringSetupError, check_options, dtype_name
    from . import EXIT_OK, EXIT_SOME_FAILED

    for flag, value, allowed in (
        ("--kind", kind, KINDS),
        ("--scale", scale, SCALES),
        ("--map-size", map_size, MAP_SIZES),
    ):
        if value not in allowed:
            raise UsageProblem(f"{flag} {value!r}: expected one of {', '.join(allowed)}")
    bounds = _parse_range(value_range, scale)
    options = ScoringOptions(
        model, backbone, device=device, dtype=dtype, timesteps=timesteps, offline=offline
    )
    try:
        resolved_dtype = dtype_name(check_options(options)[1])
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None
    if output.exists() and not output.is_dir():
        raise UsageProblem(f"--output {str(output)!r} is a file; expected a folder")
    files = _input_files(paths, recursive, (1, 1), quiet)
    output.mkdir(parents=True, exist_ok=True)
    writer = _open_writer(output / table, overwrite, False, set(), options, False, resolved_dtype)
    started = time.perf_counter()
    summary = None
    try:
        todo = [p for p in files if str(p) not in writer.done]
        if len(todo) < len(files) and not quiet:
            err.print(f"Resuming: {len(files) - len(todo)} of {len(files)} already in {table}.")
        if todo:
            scorer = load_model(options, quiet)
            started = time.perf_counter()
            overlay = {"scale": scale, "value_range": bounds, "alpha": alpha, "panel": panel}
            with progress(len(todo), quiet) as advance:
                summary = explain_files(
                    scorer,
                    todo,
                    output,
                    writer.write,
                    names=output_names(files),
                    kind=kind,
                    map_size=map_size,
                    overlay=overlay,
                    batch_size=batch_size,
                    max_pixels=max_pixels or None,
                    on_progress=advance,
                )
    finally:
        writer.close()
    failed = (summary.failed if summary else 0) + len(writer.failed & {str(p) for p in files})
    if summary is not None and not quiet:
        elapsed = time.perf_counter() - started
        done = summary.explained + summary.failed
        err.print(
            f"Explained {summary.explained} of {done} images"
            f"{f' ({summary.failed} failed)' if summary.failed else ''} -> {output}/ "
            f"(NAME.png, NAME.npy, {table}) in {elapsed:.1f} s."
        )
    if failed:
        if not quiet:
            err.print(f"{failed} file(s) could not be explained; see the error rows.")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _parse_range(text: str | None, scale: str) -> tuple[float, float] | None:
    if text is None:
        if scale == "absolute":
            raise UsageProblem(
                "--scale absolute needs --range LO,HI (the colour bar's ends, in the map's "
                "units), so that every image uses the same scale"
            )
        return None
    if scale != "absolute":
        raise UsageProblem("--range goes with --scale absolute")
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise UsageProblem(f"--range {text!r}: expected two numbers LO,HI, e.g. -0.2,0.3") from None
    if not low < high:
        raise UsageProblem(f"--range {text!r}: LO must be below HI")
    return low, high
