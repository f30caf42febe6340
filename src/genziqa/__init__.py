"""genziqa: no-reference image quality assessment with a latent diffusion prior (GenzIQA).

    >>> from genziqa import GenzIQA
    >>> model = GenzIQA.from_pretrained("path/to/trained-model")   # or "zero-shot"
    >>> model.score(["a.jpg", "b.png"])                              # numpy array, higher = better
    >>> from genziqa import GenzVQA                                   # videos (GenzVQA)

Names are imported on first use, so ``import genziqa`` (and ``genziqa --help``) stays fast;
the trainer (``genziqa.train``) is never imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Backbone": "backbone",
    "BackboneNotFoundError": "backbone",
    "load_backbone": "backbone",
    "BackboneConfig": "config",
    "GenzIQAConfig": "config",
    "LoRAConfig": "config",
    "PreprocessConfig": "config",
    "PromptConfig": "config",
    "ScoringConfig": "config",
    "spaced_timesteps": "config",
    "GenzIQA": "model",
    "GenzIQAOutput": "model",
    "ModelNotFoundError": "model",
    "zero_shot_config": "pretrained",
    "GenzVQA": "video.model",
    "GenzVQAOutput": "video.model",
    "GenzVQAConfig": "video.config",
    "ModulatorConfig": "video.config",
}

__all__ = [
    "Backbone",
    "BackboneConfig",
    "BackboneNotFoundError",
    "GenzIQA",
    "GenzIQAConfig",
    "GenzIQAOutput",
    "GenzVQA",
    "GenzVQAConfig",
    "GenzVQAOutput",
    "LoRAConfig",
    "ModelNotFoundError",
    "ModulatorConfig",
    "PreprocessConfig",
    "PromptConfig",
    "ScoringConfig",
    "__version__",
    "load_backbone",
    "spaced_timesteps",
    "zero_shot_config",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genziqa' has no attribute {name!r}")


if TYPE_CHECKING:
    from .backbone import Backbone, BackboneNotFoundError, load_backbone
    from .config import (
        BackboneConfig,
        GenzIQAConfig,
        LoRAConfig,
        PreprocessConfig,
        PromptConfig,
        ScoringConfig,
        spaced_timesteps,
    )
    from .model import GenzIQA, GenzIQAOutput, ModelNotFoundError
    from .pretrained import zero_shot_config
    from .video.config import GenzVQAConfig, ModulatorConfig
    from .video.model import GenzVQA, GenzVQAOutput
