"""``genziqa train``: train prompts and cross-attention LoRA (the reference recipe by default);
on video databases GenzVQA (prompts, LoRA and the temporal modulator).

Settings come from ``--config run.json``, then ``--set key=value`` (dotted keys, any field of
``genziqa.train.TrainConfig``), then the everyday flags below; every default lives in
``TrainConfig`` and the help shows it from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import err, quiet_libraries
from .options import MotionFeatures, SlowFast, UsageProblem

EPILOG = (
    "Any other setting: --set KEY=VALUE with a TrainConfig field, dotted for the model, e.g. "
    "--set model.lora.rank=8 --set model.prompts.n_ctx=8 --set weight_decay=0 --set "
    "target=unit; for videos --set video.train_frames=12 --set video.motion_cache=DIR. "
    "Several GPUs: accelerate launch -m genziqa train ... (same flags; "
    "--batch-size is per process)."
)


def _default(name: str) -> str:
    from ..pretrained import BACKBONE_ALIASES
    from ..train.config import EPOCHS, default_of

    if name == "epochs":
        return f" (default: {EPOCHS['image']} for images, {EPOCHS['video']} for videos)."
    value = default_of(name)
    if name == "model":  # the alias: a hub id is too long to show whole in a help column
        aliases = {source: alias for alias, source in BACKBONE_ALIASES.items()}
        value = aliases.get(value.backbone.source, value.backbone.source)
    return f" (default: {value})."


def train(
    train_data: Annotated[
        list[str] | None,
        typer.Option(
            "--train", metavar="NAME=ROOT", help="Training database (repeatable; see datasets)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(metavar="FOLDER", help="Run folder: checkpoints, logs, resume state."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="A JSON file of TrainConfig fields."),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Any TrainConfig field (repeatable)."),
    ] = None,
    val: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=ROOT",
            help="Validation database (repeatable; default: the training databases' held-out "
            "split).",
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(
            metavar="SOURCE",
            help="Stable Diffusion weights: hub id, folder, file or alias" + _default("model"),
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Passes over the training data" + _default("epochs")),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Images per step in each process" + _default("batch_size")
        ),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(metavar="RATE", help="AdamW learning rate" + _default("lr"))
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="mse on the raw MOS (the reference) or plcc (1 - batch Pearson r)"
            + _default("loss"),
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N", help="Seed of the initialisation, data order and flips" + _default("seed")
        ),
    ] = None,
    mixed_precision: Annotated[
        str | None,
        typer.Option(
            metavar="MODE", help="no, bf16 or fp16 autocast" + _default("mixed_precision")
        ),
    ] = None,
    gradient_checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--gradient-checkpointing",
            help="Recompute U-Net activations in backward: less memory, slower"
            + _default("gradient_checkpointing"),
        ),
    ] = None,
    latent_cache: Annotated[
        str | None,
        typer.Option(
            metavar="FOLDER",
            help="Latent cache folder, 'auto' (genziqa cache) or 'none' (default: auto).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0, metavar="N", help="Data loader worker processes" + _default("num_workers")
        ),
    ] = None,
    val_every: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Validate every N epochs" + _default("val_every")),
    ] = None,
    save_every: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="N",
            help="Also save a resume state every N steps (0: at epoch ends only)"
            + _default("save_every"),
        ),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Stop after N optimizer steps.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the killed run in --out.")
    ] = False,
    tensorboard: Annotated[
        bool | None, typer.Option("--tensorboard", help="Also log to TensorBoard.")
    ] = None,
    slowfast: SlowFast = None,
    motion_features: MotionFeatures = None,
    cpu: Annotated[
        bool | None, typer.Option("--cpu", help="Train on the CPU even if a GPU is there.")
    ] = None,
) -> int:
    """Train prompts and cross-attention LoRA on image databases (GenzIQA), or with the temporal
    modulator on video databases (GenzVQA); the reference recipe by default."""
    from ..backbone import BackboneNotFoundError
    from ..datasets import DatasetError
    from ..train import TrainSetupError, build_train_config
    from ..train import train as run_training

    quiet_libraries()
    extra = list(settings or [])
    if latent_cache == "none":
        extra.append("latent_cache=null")
    flags = {
        "latent_cache": None if latent_cache == "none" else latent_cache,
        "train": train_data or None,
        "out": None if out is None else str(out),
        "val": val or None,
        "model.backbone.source": backbone,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "loss": loss,
        "seed": seed,
        "mixed_precision": mixed_precision,
        "gradient_checkpointing": gradient_checkpointing,
        "num_workers": workers,
        "val_every": val_every,
        "save_every": save_every,
        "max_steps": max_steps,
        "video.slowfast": slowfast,
        "video.motion_features": motion_features,
        "tensorboard": tensorboard,
        "cpu": cpu,
    }
    try:
        run_config = build_train_config(config, extra, **flags)
        result = run_training(
            run_config, resume=resume, log=lambda text: err.print(text, markup=False)
        )
    except (DatasetError, TrainSetupError, BackboneNotFoundError) as error:
        raise UsageProblem(str(error)) from None
    best = (
        f"epoch {result.best_epoch}, SRCC {result.best_srcc:.4f}" if result.best_epoch else "none"
    )
    if result.main_process:
        err.print(
            f"Done: {result.global_step} steps in {result.seconds:.0f} s; best checkpoint "
            f"{result.out / 'best'} ({best})."
        )
    return 0
