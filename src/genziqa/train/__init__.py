"""Training GenzIQA: ``train(TrainConfig(...))`` runs the reference recipe with validation,
checkpoint selection and resume.

    config.py       TrainConfig, the only source of training defaults; --config / --set
    data.py         which rows of which databases; labelled images (latents or pixels)
    latent_cache.py VAE latents on disk, keyed by file content and settings
    task.py         the image task: model, batches, loss, validation scores
    loop.py         the loop (accelerate, resume, logging), generic over the task
    validate.py     validation metrics per set
    checkpoint.py   model folders, resume states, the step log

Not imported by ``import genziqa``: the trainer pulls in accelerate.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TrainConfig": "config",
    "TrainSetupError": "config",
    "build_train_config": "config",
    "load_splits": "data",
    "TrainResult": "loop",
    "train": "loop",
}

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainSetupError",
    "build_train_config",
    "load_splits",
    "train",
]


def __getattr__(name: str) -> Any:
    # Lazy, so that reading TrainConfig's defaults (``genziqa train --help``) stays light.
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genziqa.train' has no attribute {name!r}")


if TYPE_CHECKING:
    from .config import TrainConfig, TrainSetupError, build_train_config
    from .data import load_splits
    from .loop import TrainResult, train
