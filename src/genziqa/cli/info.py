"""``genziqa info``: versions, devices, a model's settings and where its backbone comes from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from .options import UsageProblem


def info(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", metavar="MODEL", help="Model to describe (default: zero-shot)."
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(metavar="SOURCE", help="Backbone to check instead of the model's own."),
    ] = None,
) -> int:
    """Versions, device, the model's settings, whether its backbone is available offline, and
    a model folder's card."""
    import json
    import platform

    import torch

    from ..backbone import backbone_availability, hub_cache_dir, offline_mode
    from ..pretrained import CARD_NAME, ModelNotFoundError, load_config, model_card
    from ..provenance import package_versions

    out = Console(highlight=False, soft_wrap=True)
    out.print("[bold]genziqa[/bold]")
    versions = package_versions()
    out.print(f"  python        {versions.pop('python')} ({platform.platform()})")
    for package, version in versions.items():
        out.print(f"  {package:<13} {version}")
    out.print("[bold]device[/bold]")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            out.print(f"  cuda:{index}        {props.name}, {props.total_memory / 2**30:.1f} GiB")
    else:
        out.print("  cuda          not available")
    mps = getattr(torch.backends, "mps", None)
    out.print(f"  mps           {'available' if mps and mps.is_available() else 'not available'}")
    out.print(f"  cpu threads   {torch.get_num_threads()}")

    name = model or "zero-shot"
    try:  # from the cache only: info never downloads
        config, folder = load_config(name, backbone=backbone, local_files_only=True)
    except (ModelNotFoundError, ValueError) as error:
        raise UsageProblem(str(error)) from None
    out.print(
        f"[bold]model[/bold] {name}{' (zero-shot baseline, untrained)' if config.zero_shot else ''}"
    )
    for line in json.dumps(config.to_dict(), indent=2).splitlines()[1:-1]:
        out.print(f"  {line}")
    out.print("[bold]backbone[/bold]")
    out.print(f"  hub cache     {hub_cache_dir()}")
    out.print(f"  offline mode  {'on (HF_HUB_OFFLINE)' if offline_mode() else 'off'}")
    out.print(f"  availability  {backbone_availability(config.backbone)}")
    if folder is not None:  # a model folder: its Hugging Face model card (made if it has none)
        card = folder / CARD_NAME
        text = card.read_text() if card.is_file() else model_card(folder)
        out.print(f"[bold]model card[/bold] {card if card.is_file() else '(generated)'}")
        out.print(text, markup=False)
    return 0
