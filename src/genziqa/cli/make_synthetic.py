"""``genziqa make-synthetic``: build the synthetic benchmark offline."""

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
    size: Annotated[int, typer.Option(min=32, metavar="PIXELS", help="Image side.")] = 256,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the noise and of the content split.")
    ] = 0,
    test_fraction: Annotated[
        float, typer.Option(metavar="SHARE", help="Share of contents held out for testing.")
    ] = 0.3,
) -> int:
    """Build the synthetic benchmark (graded blur, noise, JPEG, contrast, exposure) offline."""
    from ..datasets.synthetic import make_benchmark

    try:
        table = make_benchmark(root, size=size, seed=seed, test_fraction=test_fraction)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    counts = table["split"].value_counts()
    err.print(
        f"Wrote {len(table)} images of {table['ref_id'].nunique()} contents to {root} "
        f"(train {counts.get('train', 0)}, test {counts.get('test', 0)}); "
        f"use it as synthetic={root}."
    )
    return 0
