"""Loading a model for scoring: the one policy the CLI, the service, Ray actors and evaluation
share, so that every flag means the same everywhere.

``load_for_scoring(ScoringOptions(...))`` resolves the model name, backbone, device and dtype,
applies a speed preset and explicit timestep / resolution choices (an explicit one wins over
the preset), then ``prepare_for_scoring`` moves the model, folds LoRA into the U-Net and picks
the U-Net batch. ``load_video_for_scoring`` does the same for videos (a GenzVQA model, or any
image model in the frame-mean mode) and ``motion_source`` says where its motion features
come from (``--motion-features``, ``--slowfast``, the default SlowFast weights).
Kept apart from the model so that its forward stays the plain reference
computation: everything here changes speed, not what is computed (bf16/fp16 change scores by
rounding only; presets and timesteps change the score scale).

``scoring_identity(options)`` is what a score table records about where its scores came from
(``io/tables.py`` keeps it beside the table and refuses a resume with another): the model's
config with the scoring settings applied, the sha256 of its trained weights file, the dtype
and whether detail columns are written. It is computed from the files alone (the config JSON
and the weights file's bytes), without torch and without loading the model, so that a resume
with nothing left to do answers at once. It is distinct from ``GenzIQA.fingerprint()``,
which hashes a loaded model's config and trained tensors (for any model in memory, e.g. one
being trained or evaluated); both change when the config or the trained weights change. The
backbone is named in the config (aliases resolved, local paths made absolute), not hashed:
its weights are referenced, never copied.

torch is imported only by the functions that need it (``check_options``, loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import spaced_timesteps
from .presets import check_preset, preset_settings

if TYPE_CHECKING:
    import torch

    from ..model import GenzIQA
    from ..video.inputs import MotionSource
    from ..video.model import GenzVQA


class ScoringSetupError(ValueError):
    """The model cannot be loaded as asked (unknown name, missing backbone, bad device...)."""


class BackboneUnavailableError(ScoringSetupError):
    """The backbone's weights are not here (or not fetchable): the message says how to supply
    them in library terms, and the command line adds its flags."""


@dataclass(frozen=True)
class ScoringOptions:
    """How to load a model for scoring; ``None`` keeps the model's own setting.

    ``model``: a model folder, hub repo or built-in name (None: the zero-shot baseline).
    ``timesteps``: how many scoring timesteps (spaced as the reference spaces them), for
    images and videos alike; a ``preset`` gives videos its count capped at the video model's
    own (4 in the reference), so ``reference`` and ``fast`` keep (9, 34, 59, 84).
    Videos only: ``frames`` (K sampled frames), ``slowfast`` (converted SlowFast weights;
    default ``genziqa.video.motion.default_slowfast_path()``), ``motion_features`` (a folder
    with ``slow/`` and ``fast/`` precomputed ``.npy`` files, instead of SlowFast),
    ``motion_cache`` (where computed motion features are kept; default in the genziqa cache).
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
    frames: int | None = None
    slowfast: str | None = None
    motion_features: str | None = None
    motion_cache: str | None = None
    strict_backbone: bool = False  # refuse, not only warn, when the backbone's digests differ

    @property
    def model_name(self) -> str:
        return self.model or "zero-shot"


def check_options(options: ScoringOptions) -> tuple[torch.device, torch.dtype]:
    """Everything about the options that can be checked before loading: the device, dtype,
    preset, timestep count and resolution; ScoringSetupError otherwise. Imports torch."""
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
    from ..video.model import is_video_model

    if is_video_model(options.model):  # a video model scores images with its image model
        return load_video_for_scoring(options).image_model
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


def load_video_for_scoring(options: ScoringOptions) -> GenzVQA:
    """The video model ``options`` describe, ready to score: a GenzVQA model, or an image
    model (the default zero-shot one included) in the frame-mean mode; its ``image_model``
    scores the images of the same run with the same settings."""
    import torch

    from ..backbone import BackboneFileError, BackboneNotFoundError
    from ..pretrained import ModelNotFoundError
    from ..video.model import GenzVQA

    device, dtype = check_options(options)
    overrides = (
        {}
        if options.backbone_config is None
        else {"image.backbone.config": options.backbone_config}
    )
    try:
        model = GenzVQA.from_pretrained(
            options.model_name,
            backbone=options.backbone,
            local_files_only=True if options.offline else None,
            overrides=overrides,
        )
    except BackboneFileError as error:
        raise ScoringSetupError(str(error)) from None
    except BackboneNotFoundError as error:
        raise BackboneUnavailableError(str(error)) from None
    except (ModelNotFoundError, ValueError) as error:
        raise ScoringSetupError(str(error)) from None
    settings = preset_settings(options.preset, model.resolution) if options.preset else {}
    video: dict = {}
    if options.preset:
        count = min(len(settings["timesteps"]), len(model.config.timesteps))
        video["timesteps"] = spaced_timesteps(count)
    try:
        if options.timesteps is not None:
            settings["timesteps"] = video["timesteps"] = spaced_timesteps(options.timesteps)
        if options.resolution is not None:
            settings["resolution"] = options.resolution
        if options.frames is not None:
            video["frames"] = options.frames
        model.image_model.set_scoring(**settings)
        model.set_scoring(**video)
    except ValueError as error:
        raise ScoringSetupError(str(error)) from None
    prepare_for_scoring(model.image_model, device, dtype, compile=options.compile)
    if model.modulator is not None:  # tiny; kept in float32 whatever the U-Net's dtype
        model.modulator.to(device=device, dtype=torch.float32)
    return model


def motion_source(options: ScoringOptions, model: GenzVQA) -> MotionSource | None:
    """Where ``model``'s motion features come from: None when it needs none (frame-mean and
    zero-shot modes); ``--motion-features DIR`` (precomputed ``.npy``); else SlowFast R50 from
    ``--slowfast FILE`` or the default place, its features cached by file content.
    ScoringSetupError, saying how to get the weights, when there are none."""
    if not model.config.needs_motion:
        return None
    from ..io.features import FeatureFileError, MotionFeatureCache
    from ..pretrained import genziqa_cache_dir
    from ..video.inputs import PrecomputedMotion, SlowFastMotion
    from ..video.motion import CheckpointError, find_slowfast, load_slowfast

    try:
        if options.motion_features is not None:
            return PrecomputedMotion(options.motion_features)
        network = load_slowfast(find_slowfast(options.slowfast), device=model.device)
    except (CheckpointError, FeatureFileError) as error:
        raise ScoringSetupError(str(error)) from None
    cache_dir = options.motion_cache or genziqa_cache_dir() / "motion-features"
    return SlowFastMotion(network, model.config.motion, cache=MotionFeatureCache(cache_dir))


def scoring_identity(
    options: ScoringOptions, *, details: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(identity, about)`` of the scores ``options`` give (see the module docstring), from
    the files alone: no torch, no model loaded. ``identity`` is compared on resume; ``about``
    (the model name as typed, the preset) is only shown. The dtype is in ``identity`` when
    ``options.dtype`` names one; ``"auto"`` depends on the machine, so the caller adds it
    (``dtype_name``) once it has resolved it. ScoringSetupError for an unknown model."""
    from ..io.durable import file_digest
    from ..pretrained import (
        BACKBONE_ALIASES,
        CONFIG_NAME,
        WEIGHTS_NAME,
        ModelNotFoundError,
        load_config,
    )

    if _names_video_model(options.model):
        return _video_identity(options, details)
    try:
        config, folder = load_config(
            options.model_name,
            backbone=options.backbone,
            local_files_only=True if options.offline else None,
        )
        if options.backbone_config is not None:
            config = config.replace(**{"backbone.config": options.backbone_config})
        resolution: int | str | None = config.preprocess.resolution
        timesteps = config.scoring.timesteps
        if options.preset is not None:
            preset = check_preset(options.preset)
            timesteps = spaced_timesteps(preset.timesteps)
            if resolution is not None:
                resolution = preset_settings(options.preset, resolution)["resolution"]
            elif preset.resolution_scale != 1.0:
                resolution = f"native x {preset.resolution_scale}"
        if options.timesteps is not None:
            timesteps = spaced_timesteps(options.timesteps)
        if options.resolution is not None:
            resolution = options.resolution
        config = config.replace(**{"scoring.timesteps": timesteps})
    except (ModelNotFoundError, ValueError) as error:
        raise ScoringSetupError(str(error)) from None
    described = config.to_dict()
    described["preprocess"]["resolution"] = "native" if resolution is None else resolution
    source = BACKBONE_ALIASES.get(config.backbone.source, config.backbone.source)
    if Path(source).expanduser().exists():
        source = str(Path(source).expanduser().resolve())
    described["backbone"]["source"] = source
    weights = None
    if folder is not None:
        if not (folder / WEIGHTS_NAME).is_file():
            raise ScoringSetupError(f"{folder}: missing {WEIGHTS_NAME} next to {CONFIG_NAME}")
        weights = file_digest(folder / WEIGHTS_NAME)
    identity: dict[str, Any] = {
        "config": described,
        "weights_sha256": weights,
        "details": bool(details),
    }
    if options.frames is not None:  # the frames of the videos an image model scores
        identity["frames"] = options.frames
    if options.dtype in DTYPE_NAMES:
        identity["dtype"] = DTYPE_NAMES[options.dtype]
    about = {"model": options.model_name, "preset": options.preset}
    return identity, about


def _names_video_model(model: str | None) -> bool:
    """Whether ``model`` names a GenzVQA model; image model names and folders are told apart
    without importing torch (a resume with nothing left to do answers without it)."""
    from ..pretrained import CONFIG_NAME, MODEL_NAMES, VIDEO_CONFIG_NAME

    if model is None or model in MODEL_NAMES:
        return False
    folder = Path(model).expanduser()
    if (folder / VIDEO_CONFIG_NAME).is_file():
        return True
    if (folder / CONFIG_NAME).is_file():
        return False
    from ..video.config import VIDEO_MODEL_NAMES

    return model in VIDEO_MODEL_NAMES


def _video_identity(options: ScoringOptions, details: bool) -> tuple[dict, dict]:
    """``scoring_identity`` of a GenzVQA model: its video config with the run's settings (as
    ``load_video_for_scoring`` applies them) and the sha256 of its weights file."""
    from ..io.durable import file_digest
    from ..pretrained import VIDEO_WEIGHTS_NAME, ModelNotFoundError
    from ..video.model import load_video_config

    try:
        config, folder = load_video_config(
            options.model_name, local_files_only=True if options.offline else None
        )
        image = config.image
        changes: dict[str, Any] = {}
        if options.backbone is not None:
            image = image.replace(**{"backbone.source": options.backbone})
        if options.backbone_config is not None:
            image = image.replace(**{"backbone.config": options.backbone_config})
        if options.preset is not None:
            count = min(check_preset(options.preset).timesteps, len(config.timesteps))
            changes["timesteps"] = spaced_timesteps(count)
        if options.timesteps is not None:
            changes["timesteps"] = spaced_timesteps(options.timesteps)
        if options.frames is not None:
            changes["frames"] = options.frames
        config = config.replace(image=image, **changes)
    except (ModelNotFoundError, ValueError) as error:
        raise ScoringSetupError(str(error)) from None
    weights = None
    if folder is not None:
        if not (folder / VIDEO_WEIGHTS_NAME).is_file():
            raise ScoringSetupError(f"{folder}: missing {VIDEO_WEIGHTS_NAME}")
        weights = file_digest(folder / VIDEO_WEIGHTS_NAME)
    identity: dict[str, Any] = {
        "video_config": config.to_dict(),
        "weights_sha256": weights,
        "details": bool(details),
        "preset": options.preset,
        "timesteps": options.timesteps,
        "resolution": options.resolution,
    }
    if options.dtype in DTYPE_NAMES:
        identity["dtype"] = DTYPE_NAMES[options.dtype]
    return identity, {"model": options.model_name, "preset": options.preset}


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``: the dtype as a score table's identity names it."""
    return str(dtype).removeprefix("torch.")


DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else the CPU; otherwise the named device."""
    import torch

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
    import torch

    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if name not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {name!r}; expected auto, {', '.join(DTYPE_NAMES)}")
    return getattr(torch, DTYPE_NAMES[name])


def prepare_for_scoring(
    model: GenzIQA,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
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
    import torch

    device = torch.device(device)
    model.to(device=device, dtype=torch.float32 if dtype is None else dtype)
    model.eval()
    if model.lora_modules:
        model.merge_lora()
    rows = len(model.config.scoring.timesteps) * model.prompts.num_prompts
    model.unet_batch_size = model.prompts.num_prompts if device.type == "cpu" else rows * 4
    if compile:
        model.unet.requires_grad_(False)
        model.unet.compile(dynamic=False, options={"freezing": True})
    return model
