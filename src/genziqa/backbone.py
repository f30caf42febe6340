"""Load the frozen Stable Diffusion parts GenzIQA sits on: VAE, tokenizer, text encoder, U-Net,
scheduler.

Three sources, each loaded with the libraries' own loaders (diffusers, transformers):

- a hub id (``stabilityai/stable-diffusion-2-1-base``), from the Hugging Face cache first and
  the network only when allowed;
- a local diffusers folder (``model_index.json`` with ``vae/ text_encoder/ tokenizer/ unet/
  scheduler/``);
- a single ``.safetensors`` checkpoint in the original (LDM) layout, through diffusers'
  ``from_single_file``; its component configs come from ``BackboneConfig.config`` (a hub id or
  a local diffusers-layout folder) or, when unset, from the family diffusers infers from the
  weights.

Offline mode is honoured: ``HF_HUB_OFFLINE=1`` or ``local_files_only=True`` never touch the
network. Missing weights raise ``BackboneNotFoundError`` whose one-line message says what was
looked for, where, and how to supply it.

The scheduler is always an ``EulerDiscreteScheduler`` built from the checkpoint's own scheduler
config (SD 2.1-base ships PNDM); GenzIQA never calls ``set_timesteps``, it only needs the
noise schedule (``alphas_cumprod``) and the prediction type.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from .config import BackboneConfig


class BackboneNotFoundError(FileNotFoundError):
    """The Stable Diffusion weights could not be found; the message says where we looked."""


@dataclass
class Backbone:
    """The frozen Stable Diffusion components, plus where they came from."""

    vae: AutoencoderKL
    tokenizer: CLIPTokenizer
    text_encoder: CLIPTextModel
    unet: UNet2DConditionModel
    scheduler: EulerDiscreteScheduler
    source: str

    @property
    def prediction_type(self) -> str:
        return self.scheduler.config.prediction_type

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def native_resolution(self) -> int:
        """The image size the U-Net was trained at (SD 1.5 and 2.1-base: 512; SD 2.1: 768)."""
        return int(self.unet.config.sample_size) * self.vae_scale_factor


_COMPONENTS = ("vae", "tokenizer", "text_encoder", "unet", "scheduler")


def offline_mode() -> bool:
    """True when the user asked huggingface_hub to stay offline (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def load_backbone(
    config: BackboneConfig | str,
    *,
    local_files_only: bool | None = None,
    torch_dtype: torch.dtype | None = None,
) -> Backbone:
    """Load a Stable Diffusion backbone from a hub id, a diffusers folder or a single file.

    ``local_files_only=None`` means: offline if ``HF_HUB_OFFLINE`` is set, else try the local
    cache first and the network only for what is missing.
    """
    from .pretrained import resolve_backbone_source

    if isinstance(config, str):
        config = BackboneConfig(source=config)
    source = resolve_backbone_source(config.source)
    if local_files_only is None:
        local_files_only = offline_mode()
    path = Path(source).expanduser()

    if path.is_file():
        parts = _load_single_file(path, config, local_files_only, torch_dtype)
        described = str(path)
    elif path.is_dir():
        _check_diffusers_folder(path)
        parts = _load_components(str(path), None, True, torch_dtype)
        described = str(path)
    elif _looks_like_path(source):
        raise BackboneNotFoundError(
            f"backbone {source!r}: no such file or folder. Pass a hub id (e.g. "
            f"stabilityai/stable-diffusion-2-1-base), a local diffusers folder or a single "
            f".safetensors checkpoint."
        )
    else:
        parts = _load_from_hub(source, config.revision, local_files_only, torch_dtype)
        described = source if config.revision is None else f"{source}@{config.revision}"

    vae, tokenizer, text_encoder, unet, scheduler = parts
    scheduler = EulerDiscreteScheduler.from_config(scheduler.config)
    if config.prediction_type != "auto":
        scheduler.register_to_config(prediction_type=config.prediction_type)
    if scheduler.config.prediction_type not in ("epsilon", "v_prediction"):
        raise ValueError(
            f"backbone {described}: prediction type {scheduler.config.prediction_type!r} is not "
            f"supported; expected 'epsilon' or 'v_prediction'"
        )
    for module in (vae, text_encoder, unet):
        module.requires_grad_(False)
        module.eval()
    return Backbone(vae, tokenizer, text_encoder, unet, scheduler, described)


def _looks_like_path(source: str) -> bool:
    """A string meant as a file or folder (not a hub id ``org/name``)."""
    return (
        source.startswith((".", "/", "~"))
        or source.replace(os.sep, "/").count("/") > 1
        or source.endswith((".safetensors", ".ckpt", ".pt", ".bin"))
    )


def _missing_components(path: Path) -> list[str]:
    return [name for name in _COMPONENTS if not (path / name).is_dir()]


def _check_diffusers_folder(path: Path) -> None:
    missing = _missing_components(path)
    if missing:
        raise BackboneNotFoundError(
            f"backbone folder {path} is not a Stable Diffusion diffusers folder: missing "
            f"{', '.join(f'{m}/' for m in missing)} (expected {', '.join(_COMPONENTS)} subfolders "
            f"as written by StableDiffusionPipeline.save_pretrained)"
        )


def _load_components(
    where: str, revision: str | None, local_files_only: bool, torch_dtype: torch.dtype | None
) -> tuple:
    common = {"revision": revision, "local_files_only": local_files_only}
    dtype = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
    with warnings.catch_warnings():
        # diffusers passes huggingface_hub an argument it has deprecated; not the user's concern.
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
        vae = AutoencoderKL.from_pretrained(where, subfolder="vae", **common, **dtype)
        tokenizer = CLIPTokenizer.from_pretrained(where, subfolder="tokenizer", **common)
        text_encoder = CLIPTextModel.from_pretrained(
            where,
            subfolder="text_encoder",
            **common,
            **({} if torch_dtype is None else {"dtype": torch_dtype}),
        )
        unet = UNet2DConditionModel.from_pretrained(where, subfolder="unet", **common, **dtype)
        scheduler = EulerDiscreteScheduler.from_pretrained(where, subfolder="scheduler", **common)
    return vae, tokenizer, text_encoder, unet, scheduler


def _load_from_hub(
    repo_id: str, revision: str | None, local_files_only: bool, torch_dtype: torch.dtype | None
) -> tuple:
    try:
        return _load_components(repo_id, revision, True, torch_dtype)
    except (OSError, ValueError) as cached_error:
        if local_files_only:
            raise BackboneNotFoundError(
                f"backbone {repo_id!r} is not in the Hugging Face cache ({hub_cache_dir()}) and "
                f"offline mode is on. Download it once with network access "
                f"(`hf download {repo_id}`), or pass a local diffusers folder or a single "
                f".safetensors checkpoint with --backbone. ({_first_line(cached_error)})"
            ) from None
    try:
        return _load_components(repo_id, revision, False, torch_dtype)
    except (OSError, ValueError) as error:
        raise BackboneNotFoundError(
            f"backbone {repo_id!r} could not be downloaded from the Hugging Face Hub and is not "
            f"in the cache ({hub_cache_dir()}): {_first_line(error)}. Check the id and your "
            f"network, or pass a local diffusers folder or a single .safetensors checkpoint "
            f"with --backbone."
        ) from None


def _load_single_file(
    path: Path, config: BackboneConfig, local_files_only: bool, torch_dtype: torch.dtype | None
) -> tuple:
    from diffusers import StableDiffusionPipeline

    if path.suffix.lower() != ".safetensors":
        raise BackboneNotFoundError(
            f"backbone file {path}: only .safetensors checkpoints are loaded (pickled .ckpt/.pt "
            f"files can run code when opened); convert it to .safetensors first"
        )
    kwargs: dict = {"local_files_only": local_files_only}
    if config.config is not None:
        kwargs["config"] = config.config
    if torch_dtype is not None:
        kwargs["torch_dtype"] = torch_dtype
    try:
        pipe = StableDiffusionPipeline.from_single_file(str(path), **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        hint = (
            f"the component configs were taken from {config.config!r}"
            if config.config
            else "its component configs (tokenizer, scheduler, model configs) come from the "
            "hub repo diffusers infers from the weights, which must be in the cache "
            f"({hub_cache_dir()}) when offline"
        )
        raise BackboneNotFoundError(
            f"backbone file {path} could not be loaded as a Stable Diffusion checkpoint: "
            f"{_first_line(error)}. Note: {hint}; pass a local diffusers-layout config folder "
            f"or hub id with --backbone-config."
        ) from None
    return pipe.vae, pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.scheduler


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def backbone_availability(config: BackboneConfig | str) -> str:
    """Where the backbone's weights would come from, without loading them (for ``info``)."""
    from .pretrained import resolve_backbone_source

    if isinstance(config, str):
        config = BackboneConfig(source=config)
    source = resolve_backbone_source(config.source)
    path = Path(source).expanduser()
    if path.is_file():
        configs = config.config or "inferred from the weights, read from the hub cache"
        return f"local single file {path} (component configs: {configs})"
    if path.is_dir():
        missing = _missing_components(path)
        if missing:
            return f"local folder {path}, INCOMPLETE: missing {', '.join(missing)}"
        return f"local diffusers folder {path} (available offline)"
    if _looks_like_path(source):
        return f"{source}: no such file or folder"
    from huggingface_hub import try_to_load_from_cache

    needed = ["model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json"]
    cached = [
        isinstance(try_to_load_from_cache(source, name, revision=config.revision), str)
        for name in needed
    ]
    if all(cached):
        return f"hub id {source}: in the Hugging Face cache ({hub_cache_dir()}), available offline"
    return f"hub id {source}: NOT in the Hugging Face cache ({hub_cache_dir()}); needs a download"
