"""``genziqa evaluate``: SRCC, PLCC, KRCC, RMSE of a model on whole databases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .console import err
from .options import (
    Backbone,
    BatchSize,
    Device,
    Dtype,
    Frames,
    MotionFeatures,
    Offline,
    OutputFolder,
    Quiet,
    SlowFast,
    Timesteps,
    UsageProblem,
    Workers,
    load_model,
    load_video_model,
)


def evaluate(
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", metavar="MODEL", help="Model folder, hub repo or built-in name."
        ),
    ],
    data: Annotated[
        list[str],
        typer.Option(
            metavar="NAME=ROOT[,KEY=VALUE]",
            help="Database to evaluate on, with adapter options (repeatable; see datasets).",
        ),
    ],
    out: OutputFolder = None,
    split: Annotated[
        str,
        typer.Option(
            metavar="SPLIT",
            help="all (every image: cross-database) or test (the held-out split).",
        ),
    ] = "all",
    split_seed: Annotated[
        int,
        typer.Option(
            metavar="N", help="Seed of the held-out split (--split test): the training one."
        ),
    ] = 0,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Score again, dropping the predictions already in --out."),
    ] = False,
    backbone: Backbone = None,
    batch_size: BatchSize = 8,
    device: Device = "auto",
    dtype: Dtype = "auto",
    timesteps: Timesteps = None,
    workers: Workers = None,
    frames: Frames = None,
    slowfast: SlowFast = None,
    motion_features: MotionFeatures = None,
    offline: Offline = False,
    quiet: Quiet = False,
) -> int:
    """SRCC, KRCC, PLCC (raw, logistic-fitted, cubic-fitted), RMSE and N per database, images
    or videos; CSV, JSON and plots."""
    from ..datasets import DatasetError
    from ..evaluation.evaluate import (
        EvaluationFolderError,
        EvaluationSetupError,
        has_video_databases,
    )
    from ..evaluation.evaluate import evaluate as run_evaluation
    from ..evaluation.report import to_markdown
    from ..jobs.runtime import ScoringOptions
    from ..video.model import is_video_model
    from . import EXIT_OK, EXIT_SOME_FAILED

    if split not in ("all", "test"):
        raise UsageProblem(f"--split must be 'all' or 'test', got {split!r}")
    options = ScoringOptions(
        model,
        backbone,
        device=device,
        dtype=dtype,
        timesteps=timesteps,
        offline=offline,
        frames=frames,
        slowfast=slowfast,
        motion_features=motion_features,
    )
    try:
        videos = is_video_model(model) or has_video_databases(list(data))
    except DatasetError as error:
        raise UsageProblem(str(error)) from None
    motion = None
    if videos:
        scorer, motion = load_video_model(options, quiet=True)
    else:
        scorer = load_model(options, quiet=True)
    if out is None:  # runs/flive/best -> eval-flive-best
        folder = Path(model)
        out = Path(
            f"eval-{folder.parent.name}-{folder.name}" if folder.is_dir() else "eval-" + folder.name
        )
    try:
        results = run_evaluation(
            scorer,
            list(data),
            out,
            split=split,
            split_seed=split_seed,
            overwrite=overwrite,
            batch_size=batch_size,
            num_workers=workers,
            motion=motion,
            log=(lambda text: None) if quiet else (lambda text: err.print(text, markup=False)),
        )
    except (DatasetError, EvaluationFolderError, EvaluationSetupError) as error:
        raise UsageProblem(str(error)) from None
    Console(highlight=False, soft_wrap=True).print(to_markdown(results), markup=False)
    if not quiet:
        err.print(f"Wrote {out / 'results.csv'}, {out / 'results.json'} and scatter plots.")
    return EXIT_SOME_FAILED if results["failed"].sum() else EXIT_OK
