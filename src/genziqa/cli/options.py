"""Flags that several commands share, and how they become a scoring model.

A flag means the same in every command: ``--model``, ``--backbone``, ``--device``,
``--dtype``, ``--timesteps``, ``--workers``, ``--batch-size``, ``--offline`` and ``--quiet``
(and for videos ``--frames``, ``--slowfast``, ``--motion-features``) are declared once here,
and every command that scores loads its model through ``load_model`` ->
``genziqa.jobs.runtime.load_for_scoring`` (videos: ``load_video_model`` ->
``load_video_for_scoring``).
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
    from ..video.inputs import MotionSource
    from ..video.model import GenzVQA


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
BatchSize = Annotated[int, typer.Option(min=1, metavar="N", help="Images (or videos) per batch.")]
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
Frames = Annotated[
    int | None,
    typer.Option(
        min=1, metavar="K", help="Videos: frames sampled per video (default: the model's, 8)."
    ),
]
SlowFast = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help="Videos: SlowFast R50 weights converted by `genziqa convert-slowfast` (default: "
        "where it writes them, in the genziqa cache).",
    ),
]
MotionFeatures = Annotated[
    str | None,
    typer.Option(
        metavar="DIR",
        help="Videos: precomputed motion features, DIR/slow/<name>.npy (N, 2048) and "
        "DIR/fast/<name>.npy (N, 256), instead of running SlowFast.",
    ),
]


def load_model(options: ScoringOptions, quiet: bool) -> GenzIQA:
    """The model for scoring, as ``genziqa.jobs.runtime.load_for_scoring`` loads it; setup
    problems become one-line usage errors."""
    quiet_libraries()
    from ..jobs.runtime import BackboneUnavailableError, ScoringSetupError, load_for_scoring

    _zero_shot_note(options, quiet)
    try:
        return load_for_scoring(options)
    except BackboneUnavailableError as error:
        raise UsageProblem(f"{error} {BACKBONE_HINT}") from None
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None


def load_video_model(options: ScoringOptions, quiet: bool) -> tuple[GenzVQA, MotionSource | None]:
    """The video model for scoring (its ``image_model`` scores the images of the run) and
    where its motion features come from; setup problems are one-line usage errors."""
    quiet_libraries()
    from ..jobs.runtime import (
        BackboneUnavailableError,
        ScoringSetupError,
        load_video_for_scoring,
        motion_source,
    )

    _zero_shot_note(options, quiet)
    try:
        model = load_video_for_scoring(options)
        motion = motion_source(options, model)
    except BackboneUnavailableError as error:
        raise UsageProblem(f"{error} {BACKBONE_HINT}") from None
    except ScoringSetupError as error:
        raise UsageProblem(str(error)) from None
    if not quiet and model.modulator is None:
        what = (
            "the zero-shot video mode (UNTRAINED: frame mean of the zero-shot image scores)"
            if model.config.zero_shot
            else "the frame mean of an image model's scores (no temporal modulator)"
        )
        err.print(f"Videos are scored with {what}.")
    return model, motion


def _zero_shot_note(options: ScoringOptions, quiet: bool) -> None:
    if options.model is None and not quiet:
        err.print(
            f"No --model given: scoring with the zero-shot baseline on "
            f"{options.backbone or DEFAULT_BACKBONE} (UNTRAINED: hand-written prompts, no learned "
            f"context or LoRA)."
        )
