"""``genziqa make-synthetic``: build the synthetic benchmark (images, or ``--video`` clips)
offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import err
from .options import UsageProblem


def make_synthetic(
    root: Annotated[
        Path, typer.Argument(metavar="ROOT", help="Folder to write the benchmark into.")
    ],
    size: Annotated[
        int | None,
        typer.Option(
            min=32,
            metavar="PIXELS",
            help="Image or frame side in pixels (default: 256 images, 64 video).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the noise and of the content split.")
    ] = 0,
    test_fraction: Annotated[
        float, typer.Option(metavar="SHARE", help="Share of contents held out for testing.")
    ] = 0.3,
    video: Annotated[
        bool,
        typer.Option(
            "--video",
            help="Short MP4 clips (a slow pan and zoom over each photo) with graded blur, "
            "noise, compression, frame drops and shake, instead of images.",
        ),
    ] = False,
    frames: Annotated[int, typer.Option(min=8, metavar="N", help="Video: frames per clip.")] = 16,
    fps: Annotated[
        int, typer.Option(min=1, max=120, metavar="FPS", help="Video: frames per second.")
    ] = 8,
) -> int:
    """Build the synthetic benchmark offline: images with graded blur, noise, JPEG, contrast and
    exposure, or (--video) clips with graded blur, noise, compression, frame drops and shake."""
    try:
        if video:
            from ..datasets.synthetic_video import make_video_benchmark

            table = make_video_benchmark(
                root,
                size=64 if size is None else size,
                frames=frames,
                seed=seed,
                test_fraction=test_fraction,
                fps=fps,
            )
        else:
            from ..datasets.synthetic import make_benchmark

            table = make_benchmark(
                root, size=256 if size is None else size, seed=seed, test_fraction=test_fraction
            )
    except (ValueError, ImportError) as error:
        raise UsageProblem(str(error)) from None
    counts = table["split"].value_counts()
    unit = "videos" if video else "images"
    err.print(
        f"Wrote {len(table)} {unit} of {table['ref_id'].nunique()} contents to {root} "
        f"(train {counts.get('train', 0)}, test {counts.get('test', 0)}); "
        f"use it as synthetic={root}."
    )
    return 0
