"""Flags that several commands share, and how they become a scoring model.

A flag means the same in every command: ``--model``, ``--backbone``, ``--device``,
``--dtype``, ``--timesteps``, ``--workers``, ``--batch-size``, ``--offline`` and ``--quiet``
are declared once here, and every command that scores loads its model through
``load_model`` -> ``genziqa.jobs.runtime.load_for_scoring``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import DEFAULT_BACKBONE
from ..pretrained import BACKBONE_ALIASES, LOCAL_BACKBONES, MODEL_NAMES
from .console import err, quiet_libraries

if TYPE_CHECKING:
    from ..jobs.runtime import ScoringOptions
    from ..model import GenzIQA


class UsageProblem(Exception):
    """A mistake in how the command was called: reported in one line, exit code 2."""


# Appended to "backbone not available" errors: the library says how in Python terms.
BACKBONE_HINT = (
    "On the command line: --backbone PATH (--backbone-config SOURCE for a single file's "
    "component configs), --offline, --model genziqa-tiny."
)

Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help=f"Trained model folder, hub repo (org/name) or built-in name "
        f"({', '.join(MODEL_NAMES)}; `genziqa models` lists them). Default: the untrained "
        f"zero-shot baseline.",
    ),
]
Backbone = Annotated[
    str | None,
    typer.Option(
        metavar="SOURCE",
        help=f"Stable Diffusion weights: hub id, diffusers folder, .safetensors file or an "
        f"alias ({', '.join([*BACKBONE_ALIASES, *LOCAL_BACKBONES])}; `genziqa models` says "
        f"what each stands for). Default: the model's own.",
    ),
]
Device = Annotated[str, typer.Option(metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.")]
Dtype = Annotated[str, typer.Option(metavar="DTYPE", help="auto, fp32, bf16 or fp16.")]
Timesteps = Annotated[
    int | None,
    typer.Option(
        min=1,
        metavar="N",
        help="Number of scoring timesteps (default: the model's, 8). Changes the score scale.",
    ),
]
BatchSize = Annotated[int, typer.Option(min=1, metavar="N", help="Images per batch.")]
Workers = Annotated[
    int | None,
    typer.Option(min=0, metavar="N", help="Decoding worker processes (default: up to 4)."),
]
Offline = Annotated[bool, typer.Option("--offline", help="Never use the network.")]
StrictBackbone = Annotated[
    bool,
    typer.Option(
        "--strict-backbone",
        help="Refuse (not only warn) when the backbone's weights differ from those the model "
        "was trained on (sha256 recorded in the model folder).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes.")]
OutputFolder = Annotated[
    Path | None, typer.Option(metavar="FOLDER", help="Folder for results and plots.")
]


def load_model(options: ScoringOptions, quiet: bool) -> GenzIQA:
    """The model for scoring, as ``genziqa.jobs.runtime.load_for_scoring`` loads it; setup
    problems become one-line usage errors."""
    quiet_libraries()
    from ..jobs.runtime import ScoringSetupError, load_for_scoring

    if options.model is None and not quiet:
        err.print(
            f"No --model given: scoring with the zero-shot baseline on "
            f"{options.backbone or DEFAULT_BACKBONE} (UNTRAINED: hand-written prompts, no learned "
            f"context or LoRA)."
        )
    from ..jobs.runtime import BackboneUnavailableError

    try:
        return load_for_scoring(options)
    except BackboneUnavailableError as error:
        raise UsageProblem(f"{error} {BACKBONE_HINT}") from None
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None
