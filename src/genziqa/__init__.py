"""genziqa: no-reference image quality assessment with a latent diffusion prior (GenzIQA).

    >>> from genziqa import GenzIQA
    >>> model = GenzIQA.from_pretrained("path/to/trained-model")   # or "zero-shot"
    >>> model.score(["a.jpg", "b.png"])                              # numpy array, higher = better

The trainer (``genziqa.train``) and the CLI are not imported here.
"""

__version__ = "0.1.0"

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
from .zero_shot import zero_shot_config

__all__ = [
    "Backbone",
    "BackboneConfig",
    "BackboneNotFoundError",
    "GenzIQA",
    "GenzIQAConfig",
    "GenzIQAOutput",
    "LoRAConfig",
    "ModelNotFoundError",
    "PreprocessConfig",
    "PromptConfig",
    "ScoringConfig",
    "__version__",
    "load_backbone",
    "spaced_timesteps",
    "zero_shot_config",
]
