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
    from ..train.config import EPOCHS, default_of

    if name == "epochs":
        return f" (default: {EPOCHS['image']} for images, {EPOCHS['video']} for videos)."
    value = default_of(name)
    return f" (default: {value.backbone.source if name == 'model' else value})."


def train(
    train_data: Annotated[
        list[str] | None,
        typer.Option("--train", help="Training database as NAME=ROOT (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder: checkpoints, logs, resume state.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A JSON file of TrainConfig fields.")
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Any TrainConfig field (repeatable)."),
    ] = None,
    val: Annotated[
        list[str] | None,
        typer.Option(
            help="Validation database NAME=ROOT (repeatable; default: the training "
            "databases' held-out split)."
        ),
    ] = None,
    backbone: Annotated[
        str | None, typer.Option(help="Stable Diffusion backbone" + _default("model"))
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs" + _default("epochs"))] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Images per step in each process" + _default("batch_size")),
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate" + _default("lr"))] = None,
    loss: Annotated[
        str | None, typer.Option(help="mse (reference) or plcc" + _default("loss"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed" + _default("seed"))] = None,
    mixed_precision: Annotated[
        str | None, typer.Option(help="no, bf16 or fp16" + _default("mixed_precision"))
    ] = None,
    gradient_checkpointing: Annotated[
        bool | None, typer.Option(help="Save memory" + _default("gradient_checkpointing"))
    ] = None,
    latent_cache: Annotated[
        str | None,
        typer.Option(help="Latent cache folder, 'auto' (genziqa cache) or 'none' (default: auto)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Data loader workers" + _default("num_workers"))
    ] = None,
    val_every: Annotated[
        int | None, typer.Option(min=1, help="Validate every N epochs" + _default("val_every"))
    ] = None,
    save_every: Annotated[
        int | None,
        typer.Option(min=0, help="Resume state every N steps" + _default("save_every")),
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N steps.")] = None,
    slowfast: SlowFast = None,
    motion_features: MotionFeatures = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    tensorboard: Annotated[bool | None, typer.Option(help="Also log to TensorBoard.")] = None,
    cpu: Annotated[
        bool | None, typer.Option(help="Train on the CPU even if a GPU is there.")
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
