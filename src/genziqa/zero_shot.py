"""The zero-shot baseline: GenzIQA's machinery with nothing trained, for users with no model yet.

Hand-written antonym prompts ("a good photo." / "a bad photo."), no learned context, no LoRA;
the score is the denoising-error contrast with the sign turned so that higher is better:
score = ||eps - eps_bad|| - ||eps - eps_good||, averaged over the scoring timesteps, i.e. how much
better the "good photo" prompt explains the noise than the "bad photo" one. It is an UNTRAINED
baseline: expect much weaker agreement with human ratings than a trained GenzIQA model.
"""

from __future__ import annotations

from .config import (
    DEFAULT_BACKBONE,
    BackboneConfig,
    GenzIQAConfig,
    LoRAConfig,
    PromptConfig,
    ScoringConfig,
)

ZERO_SHOT_PROMPTS = ("a good photo", "a bad photo")


def zero_shot_config(backbone: str = DEFAULT_BACKBONE) -> GenzIQAConfig:
    """Config of the untrained zero-shot baseline on ``backbone``."""
    return GenzIQAConfig(
        backbone=BackboneConfig(source=backbone),
        prompts=PromptConfig(class_words=ZERO_SHOT_PROMPTS, n_ctx=0),
        lora=LoRAConfig(rank=0),
        scoring=ScoringConfig(score="contrast"),
        zero_shot=True,
    )
