"""Names users can type instead of paths: short backbone aliases and built-in model names.

Kept to two plain dicts so that a name maps to what it loads in one hop.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import DEFAULT_BACKBONE, BackboneConfig, GenzIQAConfig, PreprocessConfig

TINY_BACKBONE = "genziqa-tiny-sd"

BACKBONE_ALIASES: dict[str, str] = {
    "sd21-base": DEFAULT_BACKBONE,
    "sd21": "stabilityai/stable-diffusion-2-1",
    "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5",
}


def _tiny_path() -> str:
    from .testing import tiny_backbone_path

    return str(tiny_backbone_path())


# Backbones built locally on demand (no download): the tiny test model.
LOCAL_BACKBONES: dict[str, Callable[[], str]] = {TINY_BACKBONE: _tiny_path}


def resolve_backbone_source(source: str) -> str:
    """A backbone alias or built-in name -> a hub id or local path; other strings unchanged."""
    if source in LOCAL_BACKBONES:
        return LOCAL_BACKBONES[source]()
    return BACKBONE_ALIASES.get(source, source)


def zero_shot_config(backbone: str = DEFAULT_BACKBONE) -> GenzIQAConfig:
    """The untrained baseline: hand-written antonym prompts, no LoRA, contrast score."""
    from .zero_shot import zero_shot_config as build

    return build(backbone)


def tiny_config() -> GenzIQAConfig:
    """An untrained GenzIQA model on the tiny test backbone (64 px): for tests and demos only."""
    return GenzIQAConfig(
        backbone=BackboneConfig(source=TINY_BACKBONE),
        preprocess=PreprocessConfig(resolution=64),
    )


# Built-in model names accepted by GenzIQA.from_pretrained and `genziqa score --model`.
MODEL_NAMES: dict[str, Callable[[], GenzIQAConfig]] = {
    "genziqa-tiny": tiny_config,
    "genziqa-tiny-zero-shot": lambda: zero_shot_config(TINY_BACKBONE).replace(
        **{"preprocess.resolution": 64}
    ),
    "zero-shot": zero_shot_config,
}
