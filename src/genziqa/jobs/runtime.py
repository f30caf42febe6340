"""Loading a model for scoring: the one policy the CLI, the service, Ray actors and evaluation
share, so that every flag means the same everywhere.

``load_for_scoring(ScoringOptions(...))`` resolves the model name, backbone, device and dtype,
applies a speed preset and explicit timestep / resolution choices (an explicit one wins over
the preset), then ``prepare_for_scoring`` moves the model, folds LoRA into the U-Net and picks
the U-Net batch. Kept apart from the model so that its forward stays the plain reference
computation: everything here changes speed, not what is computed (bf16/fp16 change scores by
rounding only; presets and timesteps change the score scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..config import spaced_timesteps
from .presets import check_preset, preset_settings

if TYPE_CHECKING:
    from ..model import GenzIQA


class ScoringSetupError(ValueError):
    """The model cannot be loaded as asked (unknown name, missing backbone, bad device...)."""


class BackboneUnavailableError(ScoringSetupError):
    """The backbone's weights are not here (or not fetchable): the message says how to supply
    them in library terms, and the command line adds its flags."""


@dataclass(frozen=True)
class ScoringOptions:
    """How to load a model for scoring; ``None`` keeps the model's own setting.

    ``model``: a model folder, hub repo or built-in name (None: the zero-shot baseline).
    ``timesteps``: how many scoring timesteps (spaced as the reference spaces them).
    """

    model: str | None = None
    backbone: str | None = None
    backbone_config: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    timesteps: int | None = None
    resolution: int | None = None
    preset: str | None = None
    compile: bool = False
    offline: bool = False
    strict_backbone: bool = False  # refuse, not only warn, when the backbone's digests differ

    @property
    def model_name(self) -> str:
        return self.model or "zero-shot"


def check_options(options: ScoringOptions) -> tuple[torch.device, torch.dtype]:
    """Everything about the options that can be checked before loading: the device, dtype,
    preset, timestep count and resolution; ScoringSetupError otherwise."""
    from ..config import PreprocessConfig

    try:
        if options.preset is not None:
            check_preset(options.preset)
        if options.timesteps is not None:
            spaced_timesteps(options.timesteps)
        if options.resolution is not None:
            PreprocessConfig(resolution=options.resolution)
        device = resolve_device(options.device)
        return device, resolve_dtype(options.dtype, device)
    except ValueError as error:
        raise ScoringSetupError(str(error)) from None


def load_for_scoring(options: ScoringOptions) -> GenzIQA:
    """The model ``options`` describe, on its device and dtype, ready to score."""
    from ..backbone import BackboneChangedError, BackboneFileError, BackboneNotFoundError
    from ..model import GenzIQA
    from ..pretrained import ModelNotFoundError

    device, dtype = check_options(options)
    overrides = (
        {} if options.backbone_config is None else {"backbone.config": options.backbone_config}
    )
    try:
        model = GenzIQA.from_pretrained(
            options.model_name,
            backbone=options.backbone,
            local_files_only=True if options.offline else None,
            overrides=overrides,
            backbone_check="error" if options.strict_backbone else "warn",
        )
    except BackboneFileError as error:
        raise ScoringSetupError(str(error)) from None
    except BackboneNotFoundError as error:
        raise BackboneUnavailableError(str(error)) from None
    except (ModelNotFoundError, BackboneChangedError, ValueError) as error:
        raise ScoringSetupError(str(error)) from None
    settings = preset_settings(options.preset, model.resolution) if options.preset else {}
    try:
        if options.timesteps is not None:  # an explicit choice wins over the preset
            settings["timesteps"] = spaced_timesteps(options.timesteps)
        if options.resolution is not None:
            settings["resolution"] = options.resolution
        model.set_scoring(**settings)
    except ValueError as error:
        raise ScoringSetupError(str(error)) from None
    return prepare_for_scoring(model, device, dtype, compile=options.compile)


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else the CPU; otherwise the named device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        expected = "expected auto, cpu, cuda, cuda:N or mps"
        raise ValueError(f"unknown device {name!r}; {expected}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but Apple MPS is not available")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bf16 on GPUs that support it (fp16 otherwise), fp32 on the CPU.

    CPUs without bf16 matrix units run bf16 convolutions far slower than fp32 (measured 190x
    on the development machine), so the CPU default stays fp32.
    """
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; expected auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def prepare_for_scoring(
    model: GenzIQA,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    compile: bool = False,
) -> GenzIQA:
    """Move and cast the model in place, fold LoRA into the U-Net weights, choose the U-Net
    batch, optionally compile. Scoring only: afterwards the model cannot be trained or saved.

    ``unet_batch_size`` is set to what measured fastest: on the CPU one timestep's rows (the
    P prompts; larger batches ran 25% slower per row on a 2-core CPU, the activations no
    longer fitting its caches), on a GPU four images' rows. ``compile`` runs the U-Net through
    ``torch.compile`` with weight freezing; on the 2-core CPU it gave no measurable gain over
    the eager merged U-Net (it did over the eager *unmerged* one), so it is off by default.
    """
    device = torch.device(device)
    model.to(device=device, dtype=dtype)
    model.eval()
    if model.lora_modules:
        model.merge_lora()
    rows = len(model.config.scoring.timesteps) * model.prompts.num_prompts
    model.unet_batch_size = model.prompts.num_prompts if device.type == "cpu" else rows * 4
    if compile:
        model.unet.requires_grad_(False)
        model.unet.compile(dynamic=False, options={"freezing": True})
    return model
