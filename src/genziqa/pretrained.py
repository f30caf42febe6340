"""Names users can type instead of paths, and model folders on disk or on the hub.

- Backbone aliases (``sd21-base``, ``sd21``, ``sd15``) and locally built backbones (the tiny
  test model ``genziqa-tiny-sd``): ``resolve_backbone_source``.
- Built-in model names (``zero-shot``, ``genziqa-tiny``, ``genziqa-tiny-zero-shot``):
  ``MODEL_NAMES``, each a function returning its config.
- A model folder: ``genziqa_config.json`` (the config) and ``genziqa_weights.safetensors``
  (only the trained tensors), written by ``write_model_folder`` and found by ``load_config``
  (a local folder, or a hub repo holding one).

The zero-shot baseline is GenzIQA's machinery with nothing trained, for users with no model
yet: hand-written antonym prompts ("a good photo." / "a bad photo."), no learned context, no
LoRA; the score is the denoising-error contrast with the sign turned so that higher is
better: score = ||eps - eps_bad|| - ||eps - eps_good||, averaged over the scoring timesteps,
i.e. how much better the "good photo" prompt explains the noise than the "bad photo" one. It
is an UNTRAINED baseline: expect much weaker agreement with human ratings than a trained model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import (
    DEFAULT_BACKBONE,
    BackboneConfig,
    GenzIQAConfig,
    LoRAConfig,
    PreprocessConfig,
    PromptConfig,
    ScoringConfig,
)

CONFIG_NAME = "genziqa_config.json"
WEIGHTS_NAME = "genziqa_weights.safetensors"
# A video (GenzVQA) model folder: the same layout under its own names (genziqa.video.model).
VIDEO_CONFIG_NAME = "genzvqa_config.json"
VIDEO_WEIGHTS_NAME = "genzvqa_weights.safetensors"
TINY_BACKBONE = "genziqa-tiny-sd"
ZERO_SHOT_PROMPTS = ("a good photo", "a bad photo")

if TYPE_CHECKING:
    import torch

BACKBONE_ALIASES: dict[str, str] = {
    "sd21-base": DEFAULT_BACKBONE,
    "sd21": "stabilityai/stable-diffusion-2-1",
    "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5",
}


class ModelNotFoundError(FileNotFoundError):
    """A trained GenzIQA model could not be found or read; the message says where we looked."""


def genziqa_cache_dir() -> Path:
    """genziqa's own cache (tiny test backbone, training latents): ``$GENZIQA_CACHE`` or
    ``~/.cache/genziqa``."""
    root = os.environ.get("GENZIQA_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "genziqa"


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
    """Config of the untrained zero-shot baseline on ``backbone`` (see the module docstring)."""
    return GenzIQAConfig(
        backbone=BackboneConfig(source=backbone),
        prompts=PromptConfig(class_words=ZERO_SHOT_PROMPTS, n_ctx=0),
        lora=LoRAConfig(rank=0),
        scoring=ScoringConfig(score="contrast"),
        zero_shot=True,
    )


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


# ------------------------------------------------------------------------------ model folders


def write_model_folder(
    folder: str | Path,
    config: GenzIQAConfig,
    tensors: dict[str, torch.Tensor],
    version: str,
    *,
    names: tuple[str, str] = (CONFIG_NAME, WEIGHTS_NAME),
) -> Path:
    """Write ``config`` (JSON) and ``tensors`` (safetensors) as a model folder; ``names``
    are the (config, weights) file names (a video model's: the ``VIDEO_*`` names)."""
    from safetensors.torch import save_file

    config_name, weights_name = names
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(cpu, str(folder / weights_name), metadata={"genziqa": version})
    payload = {**config.to_dict(), "_genziqa": {"version": version}}
    (folder / config_name).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return folder


def read_weights(
    folder: Path, names: tuple[str, str] = (CONFIG_NAME, WEIGHTS_NAME)
) -> dict[str, torch.Tensor]:
    """The trained tensors of a model folder."""
    from safetensors.torch import load_file

    config_name, weights_name = names
    path = folder / weights_name
    if not path.is_file():
        raise ModelNotFoundError(f"{folder}: missing {weights_name} next to {config_name}")
    return load_file(str(path))


def load_config(
    name_or_path: str | Path,
    *,
    backbone: str | None = None,
    local_files_only: bool | None = None,
    revision: str | None = None,
) -> tuple[GenzIQAConfig, Path | None]:
    """The config a built-in name, model folder or hub repo stands for, and its folder (None
    for a built-in name); ``backbone`` replaces the backbone it names."""
    name = str(name_or_path)
    folder = None
    if name in MODEL_NAMES:
        config = MODEL_NAMES[name]()
    else:
        folder = find_model_folder(name, local_files_only, revision)
        config = GenzIQAConfig.from_json_file(folder / CONFIG_NAME)
    if backbone is not None:
        config = config.replace(**{"backbone.source": backbone, "backbone.revision": None})
    return config, folder


def find_model_folder(
    name: str,
    local_files_only: bool | None,
    revision: str | None,
    names: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME),
) -> Path:
    """A local model folder holding ``names[0]``, or a hub repo's copy of the files ``names``
    (config, weights; a video model's, or both kinds')."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / names[0]).is_file():
            other = VIDEO_CONFIG_NAME if names[0] == CONFIG_NAME else CONFIG_NAME
            kind = "GenzVQA (video)" if other == VIDEO_CONFIG_NAME else "GenzIQA (image)"
            hint = (
                f"; it is a {kind} model folder (holds {other})"
                if (path / other).is_file()
                else " (expected the output of save_pretrained or `genziqa train`)"
            )
            raise ModelNotFoundError(
                f"{path} is not a {'GenzIQA' if names[0] == CONFIG_NAME else 'GenzVQA'} model "
                f"folder: no {names[0]}{hint}"
            )
        return path
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ModelNotFoundError(
            f"model {name!r}: not a model folder, a built-in name or a hub repo id"
        )
    from huggingface_hub import snapshot_download

    from .backbone import hub_cache_dir, offline_mode

    offline = offline_mode() if local_files_only is None else local_files_only
    try:
        return Path(
            snapshot_download(
                name,
                revision=revision,
                allow_patterns=list(names),
                local_files_only=offline,
            )
        )
    except Exception as error:  # huggingface_hub raises many kinds; all mean "not available"
        raise ModelNotFoundError(
            f"model {name!r}: not a local folder or built-in name, and not available from the "
            f"Hugging Face Hub{' cache (offline mode)' if offline else ''} at {hub_cache_dir()}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
        ) from None
