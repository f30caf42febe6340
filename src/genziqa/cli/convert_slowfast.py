"""``genziqa convert-slowfast``: the published SlowFast R50 weights -> safetensors, once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import err
from .options import Quiet, UsageProblem


def convert_slowfast(
    source: Annotated[
        Path, typer.Argument(help="pytorchvideo's SLOWFAST_8x8_R50.pyth (a torch.save file).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The safetensors file to write (default: slowfast_r50.safetensors in the "
            "genziqa cache, where `genziqa score` looks for it).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> int:
    """Convert SlowFast R50 8x8 Kinetics-400 weights for video motion features.

    The file is read once with torch.load(weights_only=True) (no code in it runs) and must
    hold exactly SlowFast R50's tensors; the output is safetensors. Get the source from
    https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth
    (genziqa never downloads it).
    """
    from ..video.motion import CheckpointError, default_slowfast_path
    from ..video.motion import convert_slowfast as convert

    target = output if output is not None else default_slowfast_path()
    try:
        written = convert(source, target)
    except CheckpointError as error:
        raise UsageProblem(str(error)) from None
    if not quiet:
        err.print(f"Wrote {written} ({written.stat().st_size / 2**20:.1f} MiB).", markup=False)
    return 0
