"""``genziqa models``: what ``--model`` and ``--backbone`` can name on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .console import print_table


def models(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FOLDER",
            help="Where to look for trained model folders, 4 levels down (default: here).",
        ),
    ] = None,
) -> int:
    """Built-in models, trained model folders and genziqa models in the Hugging Face cache,
    with their backbone, resolution, timesteps and whether the backbone is here (offline)."""
    from ..backbone import backbone_available_offline
    from ..pretrained import BACKBONE_ALIASES, LOCAL_BACKBONES, RETIRED_BACKBONES, find_models

    entries = find_models(folders or [Path(".")])
    rows = []
    for entry in entries:
        config = entry.config
        shown = entry.name
        if entry.kind == "folder":
            shown = _relative(entry.name)
        rows.append(
            [
                shown,
                entry.kind + (", zero-shot" if config.zero_shot else ""),
                config.backbone.source,
                f"{config.preprocess.resolution} px" if config.preprocess.resolution else "native",
                str(len(config.scoring.timesteps)),
                "yes" if backbone_available_offline(config.backbone) else "no (download)",
            ]
        )
    print_table(["model", "kind", "backbone", "resolution", "timesteps", "offline"], rows)
    aliases = [[name, source] for name, source in BACKBONE_ALIASES.items()]
    aliases += [[name, "the tiny random test backbone, built locally"] for name in LOCAL_BACKBONES]
    aliases += [
        [old, f"{new} (taken off the hub; its mirror)"] for old, new in RETIRED_BACKBONES.items()
    ]
    print_table(["backbone name", "stands for"], aliases)
    Console(highlight=False, soft_wrap=True).print(
        "Use a model with --model NAME_OR_FOLDER, a backbone with --backbone NAME; "
        "`genziqa info --model M` shows a model's card.",
        markup=False,
    )
    return 0


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
