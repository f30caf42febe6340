"""``genziqa import-official``: a checkpoint of the official research code -> a model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import err, quiet_libraries
from .options import BACKBONE_HINT, UsageProblem


def import_official(
    prompt_learner: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="The official prompt learner, coop_Model_state_dict.pth (ctx, token_prefix, "
            "token_suffix).",
        ),
    ],
    lora: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="Its LoRA file from unet.save_attn_procs: pytorch_model.bin, "
            "pytorch_lora_weights.bin or .safetensors.",
        ),
    ],
    backbone: Annotated[
        str,
        typer.Option(
            metavar="SOURCE",
            help="The Stable Diffusion it was trained on: hub id, folder, file or alias.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FOLDER", help="New model folder to write.")
    ],
) -> int:
    """Import a checkpoint of the official GenzIQA code into a genziqa model folder, after
    checking every key, shape and prompt token against the backbone."""
    quiet_libraries()
    from ..backbone import BackboneFileError, BackboneNotFoundError
    from ..integrations.official import OfficialCheckpointError
    from ..integrations.official import import_official as run_import

    try:
        result = run_import(prompt_learner, lora, backbone, output)
    except BackboneFileError as error:
        raise UsageProblem(str(error)) from None
    except BackboneNotFoundError as error:
        raise UsageProblem(f"{error} {BACKBONE_HINT}") from None
    except (OfficialCheckpointError, ValueError) as error:
        raise UsageProblem(str(error)) from None
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    err.print(
        f"Wrote {result.folder}: class words {' / '.join(result.class_words)}, "
        f"{result.n_ctx} context vectors, LoRA rank {result.rank}. Score with "
        f"`genziqa score PATH --model {result.folder}`.",
        markup=False,
    )
    return 0
