"""GenzIQA: no-reference image quality from a latent diffusion model's cross-attention.

Paper: D. De, S. Basu Roy Chowdhury et al., "GenzIQA: Generalized Image Quality Assessment
using Prompt-Guided Latent Diffusion Models" (WACV 2025), and its video extension GenzVQA.
Reference implementation: the authors' public code (a vendored, edited diffusers).

Data path, one stage per file, top to bottom:

    images (B, 3, R, R) in [0, 1]          preprocess.py  resize, CLIP mean/std normalisation
    -> latents (B, C, R/f, R/f)            latents.py     frozen VAE encoder, posterior mean
    -> noisy U-Net inputs per timestep     noise.py       fixed timesteps and seeded noise
    -> prompt_embeds (P=2, 77, D)          prompts.py     learned context + "Good/Bad Photo."
    -> U-Net with score processors         attention.py   pre-softmax logits on every attn2
    -> per-layer attention scores A_l      pooling.py     spatial log-sum-exp, token mean
       and the denoising contrast b        pooling.py     ||eps - eps_good|| - ||eps - eps_bad||
    -> layer_scores (B, T, L) = A_l + b -> score (B,) = mean over layers and timesteps

Reference conventions we reproduce exactly: CLIP mean/std normalisation fed to the VAE; Euler
(sigma) noising x_t = x_0 + sigma_t eps, U-Net input x_t / sqrt(sigma_t^2 + 1); smooth maximum
over the SPATIAL axis with lambda = 0.14; the mean over prompts, heads and all 77 tokens
(padding included); b = ||eps - eps_good|| - ||eps - eps_bad|| (v target on v-prediction
checkpoints); no score head (raw score regressed onto raw MOS); LoRA rank 4 on the attn2
projections; 16 context vectors N(0, 0.02^2) shared by both prompts.

Deliberate deviations, each with a switch that restores the reference:
- VAE posterior mean instead of a random sample (``scoring.latent="sample"``, seeded);
- no random flips at test time (``scoring.test_time_flips=True``);
- batched scoring whose result does not depend on the batch (the reference pairs prompts and
  latents wrongly for batches larger than one; there is no switch for a bug);
- the text encoder runs once per scoring call, the VAE once per image (no effect on scores).
Optional: a 2-parameter affine calibration head (``calibration=True``), off by default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from . import __version__
from .attention import CrossAttentionScoreProcessor, score_processors
from .backbone import Backbone, load_backbone
from .config import GenzIQAConfig
from .latents import encode_latents
from .lora import add_cross_attention_lora, merge_lora
from .noise import denoising_target, fixed_noise, noisy_model_input, sample_train_timesteps
from .pooling import denoising_contrast, token_mean
from .prefix_sharing import SharedPrefix
from .preprocess import Images, normalize, prepare_images
from .prompts import PromptLearner

CONFIG_NAME = "genziqa_config.json"
WEIGHTS_NAME = "genziqa_weights.safetensors"


class ModelNotFoundError(FileNotFoundError):
    """A trained GenzIQA model could not be found or read; the message says where we looked."""


@dataclass
class GenzIQAOutput:
    """Scores of a batch of B images over T timesteps and L cross-attention layers."""

    score: torch.Tensor  # (B,) final score (after the calibration head when there is one)
    layer_scores: torch.Tensor  # (B, T, L) A_l + b
    attention_scores: torch.Tensor  # (B, T, L) A_l
    contrast: torch.Tensor  # (B, T) b


def repeat_for_prompts(x: torch.Tensor, num_prompts: int) -> torch.Tensor:
    """(N, ...) -> (P * N, ...), prompt-major: rows [p=0: all N, p=1: all N, ...]."""
    return x.repeat(num_prompts, *([1] * (x.ndim - 1)))


def split_prompts(x: torch.Tensor, num_prompts: int) -> torch.Tensor:
    """(P * N, ...) -> (P, N, ...): the inverse of ``repeat_for_prompts``'s layout."""
    return x.view(num_prompts, x.shape[0] // num_prompts, *x.shape[1:])


class GenzIQA(nn.Module):
    """A quality model: frozen Stable Diffusion + learned prompts + LoRA on cross-attention.

    Build one with ``GenzIQA.from_pretrained(name_or_dir)`` (a trained model folder, a hub repo
    holding one, or a built-in name such as ``"zero-shot"``) or ``GenzIQA(config, backbone)``.
    ``score(images)`` returns one number per image, higher = better quality; ``forward`` returns
    every intermediate (per-layer and per-timestep scores) with gradients.
    """

    def __init__(self, config: GenzIQAConfig, backbone: Backbone, *, init_seed: int = 0) -> None:
        super().__init__()
        resolution = config.preprocess.resolution or backbone.native_resolution
        self.config = config.replace(**{"preprocess.resolution": resolution})
        self.backbone_source = backbone.source
        self.tokenizer = backbone.tokenizer
        self.scheduler = backbone.scheduler
        self.vae = backbone.vae
        self.text_encoder = backbone.text_encoder
        self.unet = backbone.unet
        for module in (self.vae, self.text_encoder, self.unet):
            module.requires_grad_(False)
        self.prompts = PromptLearner(
            self.tokenizer, self.text_encoder.config.hidden_size, self.config.prompts, init_seed
        )
        self.lora_modules = (
            add_cross_attention_lora(self.unet, self.config.lora, init_seed)
            if self.config.lora.rank > 0
            else []
        )
        self.calibration = nn.Linear(1, 1) if self.config.calibration else None
        if self.calibration is not None:
            nn.init.ones_(self.calibration.weight)
            nn.init.zeros_(self.calibration.bias)
        # Kept off the module's buffers so that model.to(dtype) never rounds the schedule.
        self.alphas_cumprod = self.scheduler.alphas_cumprod.detach().to("cpu", torch.float64)
        self.prediction_type = self.scheduler.config.prediction_type
        self.vae_scale_factor = backbone.vae_scale_factor
        # Installed for the model's lifetime, not per call: gradient checkpointing re-runs the
        # U-Net forward during backward, which must see the same processors.
        if any(
            isinstance(p, CrossAttentionScoreProcessor) for p in self.unet.attn_processors.values()
        ):
            raise ValueError(
                "this backbone's U-Net already serves another GenzIQA model (its processors "
                "and hooks are installed for that model's lifetime); load a fresh backbone "
                "for each model"
            )
        self._processors = score_processors(self.unet, self.config.scoring.lse_lambda)
        self.unet.set_attn_processor({**self.unet.attn_processors, **self._processors})
        self.layer_names = list(self._processors)
        # Everything before the first cross-attention runs once for both prompts (exact).
        self.shared_prefix = SharedPrefix(self.unet, self.prompts.num_prompts)
        # Runtime settings: they change speed and memory; scores only by float rounding
        # (about 1e-7 relative), and never with what else is in the batch.
        self.unet_batch_size = 16
        self.vae_batch_size = 1
        self._prompt_cache: tuple[tuple, torch.Tensor] | None = None
        # Recorded now: merging LoRA for scoring later freezes its parameters.
        self._trained_names = tuple(self.trained_state_dict())
        self.train(False)

    # ----------------------------------------------------------------- construction and I/O

    @classmethod
    def from_config(
        cls,
        config: GenzIQAConfig,
        *,
        backbone: Backbone | None = None,
        local_files_only: bool | None = None,
        torch_dtype: torch.dtype | None = None,
        init_seed: int = 0,
    ) -> GenzIQA:
        """A fresh (untrained) model; loads the backbone the config names unless one is given."""
        if backbone is None:
            backbone = load_backbone(
                config.backbone, local_files_only=local_files_only, torch_dtype=torch_dtype
            )
        return cls(config, backbone, init_seed=init_seed)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        backbone: str | Backbone | None = None,
        local_files_only: bool | None = None,
        torch_dtype: torch.dtype | None = None,
        revision: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> GenzIQA:
        """Load a model: a folder from ``save_pretrained``, a hub repo holding one, or a
        built-in name (``genziqa.pretrained.MODEL_NAMES``: ``"zero-shot"``, ``"genziqa-tiny"``).

        ``backbone`` replaces the backbone the config names (a hub id, a local diffusers folder,
        a single .safetensors file, or an already loaded ``Backbone``), e.g. to point a model at
        a local copy of its Stable Diffusion weights. ``overrides`` changes scoring settings,
        e.g. ``{"scoring.timesteps": (9, 59), "preprocess.resolution": 384}``.
        """
        config, folder = load_config(
            name_or_path,
            backbone=backbone if isinstance(backbone, str) else None,
            local_files_only=local_files_only,
            revision=revision,
        )
        weights: dict[str, torch.Tensor] | None = None
        if folder is not None:
            weights_path = folder / WEIGHTS_NAME
            if not weights_path.is_file():
                raise ModelNotFoundError(f"{folder}: missing {WEIGHTS_NAME} next to {CONFIG_NAME}")
            weights = load_file(str(weights_path))
        if isinstance(backbone, str):
            backbone = None
        if overrides:
            config = config.replace(**overrides)
        model = cls.from_config(
            config, backbone=backbone, local_files_only=local_files_only, torch_dtype=torch_dtype
        )
        if weights is not None:
            model.load_trained_state_dict(weights)
        return model

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the config (JSON) and the trained tensors only (safetensors, a few MB at most)."""
        if self.lora_merged:
            raise RuntimeError(
                "cannot save a model whose LoRA was merged into the U-Net for fast scoring; "
                "save it before calling merge_lora()"
            )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            k: v.detach().to("cpu").contiguous() for k, v in self.trained_state_dict().items()
        }
        save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"genziqa": __version__})
        payload = {**self.config.to_dict(), "_genziqa": {"version": __version__}}
        (folder / CONFIG_NAME).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        return folder

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors training changes: context vectors, LoRA, calibration head."""
        return {name: p for name, p in self.named_parameters() if p.requires_grad}

    def load_trained_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Copy trained tensors in, strictly: every key present, no extra key, same shapes."""
        own = self.trained_state_dict()
        missing = sorted(set(own) - set(tensors))
        unexpected = sorted(set(tensors) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"trained weights do not match this model's config: missing {missing[:4]}"
                f"{' ...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}"
                f"{' ...' if len(unexpected) > 4 else ''}"
            )
        with torch.no_grad():
            for name, parameter in own.items():
                value = tensors[name]
                if value.shape != parameter.shape:
                    raise ValueError(
                        f"trained tensor {name}: shape {tuple(value.shape)} does not match the "
                        f"model's {tuple(parameter.shape)} (was it trained on another backbone?)"
                    )
                parameter.copy_(value.to(parameter.dtype))

    def fingerprint(self) -> str:
        """A hash of the config and the trained tensors: equal for the same model and settings
        (used to tell whose predictions a folder holds); merging LoRA does not change it."""
        digest = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        parameters = dict(self.named_parameters())
        for name in sorted(self._trained_names):
            digest.update(name.encode())
            digest.update(parameters[name].detach().to("cpu", torch.float32).numpy().tobytes())
        return digest.hexdigest()

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The explicit list the optimizer gets: context, LoRA and head parameters."""
        return list(self.trained_state_dict().values())

    def set_scoring(
        self, timesteps: tuple[int, ...] | None = None, resolution: int | None = None
    ) -> GenzIQA:
        """Change the scoring timesteps or input size of a built model (speed presets).

        Only these two can change after construction: everything else shapes the modules.
        """
        changes: dict[str, Any] = {}
        if timesteps is not None:
            changes["scoring.timesteps"] = tuple(timesteps)
        if resolution is not None:
            changes["preprocess.resolution"] = resolution
        self.config = self.config.replace(**changes)
        return self

    def merge_lora(self) -> GenzIQA:
        """Fold LoRA into the U-Net weights for scoring (faster; not reversible, no training)."""
        merge_lora(self.unet)
        return self

    @property
    def lora_merged(self) -> bool:
        modules = dict(self.unet.named_modules())
        return any(modules[name].merged for name in self.lora_modules)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    @property
    def resolution(self) -> int:
        return int(self.config.preprocess.resolution)

    @property
    def num_layers(self) -> int:
        return len(self.layer_names)

    def train(self, mode: bool = True) -> GenzIQA:
        """Switch the trainable parts; the frozen backbone always stays in eval mode."""
        super().train(mode)
        for module in (self.vae, self.text_encoder, self.unet):
            module.eval()
        return self

    # ------------------------------------------------------------------------- data path

    def prompt_embeds(self) -> torch.Tensor:
        """The two prompts' cross-attention context (P, 77, D) in the U-Net's dtype.

        Without gradients the result is cached until the context vectors change, so scoring
        runs the text encoder once, not once per image.
        """
        ctx = self.prompts.ctx
        needs_graph = torch.is_grad_enabled() and ctx is not None and ctx.requires_grad
        if needs_graph:
            return self.prompts(self.text_encoder).to(self.dtype)
        key = (
            None if ctx is None else (id(ctx), ctx._version),
            self.device,
            self.dtype,
        )
        if self._prompt_cache is None or self._prompt_cache[0] != key:
            with torch.no_grad():
                embeds = self.prompts(self.text_encoder).to(self.dtype)
            self._prompt_cache = (key, embeds)
        return self._prompt_cache[1]

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, R, R) in [0, 1] -> latents (B, C, R/f, R/f), float32; VAE in chunks."""
        # Contiguous NCHW: kernels round differently for other memory layouts (channels-last).
        pixels = normalize(
            images.to(self.device, torch.float32).contiguous(),
            self.config.preprocess.normalization,
        )
        noise = None
        if self.config.scoring.latent == "sample":
            size = self.resolution // self.vae_scale_factor
            channels = self.vae.config.latent_channels
            noise = fixed_noise((channels, size, size), self.config.scoring.seed + 1)
        chunks = [
            encode_latents(self.vae, chunk, self.config.scoring.latent, noise)
            for chunk in self._fixed_chunks(pixels, self.vae_batch_size)
        ]
        return torch.cat(chunks)[: pixels.shape[0]]

    def _fixed_chunks(self, rows: torch.Tensor, size: int) -> list[torch.Tensor]:
        """Split into chunks of ``size`` rows; outside training the last one is zero-padded.

        Kernels can round differently for different batch sizes, so every scoring call of the
        VAE and the U-Net has the same shape: a row's score is then bit-identical whatever else
        is in the batch (padding rows are computed and dropped).
        """
        chunks = list(rows.split(size))
        short = size - chunks[-1].shape[0]
        if short and not self.training:
            padding = rows.new_zeros((short, *rows.shape[1:]))
            chunks[-1] = torch.cat([chunks[-1], padding])
        return chunks

    def scoring_noise(self, latent_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed scoring timesteps (T,) and their noise (T, C, h, w), same for every image."""
        timesteps = torch.tensor(self.config.scoring.timesteps, dtype=torch.long)
        noise = fixed_noise((len(timesteps), *latent_shape), self.config.scoring.seed)
        return timesteps, noise

    def forward(
        self,
        images: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        latents: torch.Tensor | None = None,
    ) -> GenzIQAOutput:
        """Score images (B, 3, R, R) in [0, 1], or precomputed ``latents`` (B, C, h, w).

        See ``score_latents`` for ``timesteps`` and ``noise``. Training goes through here
        (not ``score_latents``) so that wrappers such as DistributedDataParallel see the call.
        ``scoring.test_time_flips`` acts on images only: latents are scored as given.
        """
        if (images is None) == (latents is None):
            raise ValueError("pass exactly one of images or latents")
        if latents is None:
            if self.config.scoring.test_time_flips and not self.training:
                images = _random_flips(images)
            latents = self.encode_images(images)
        return self.score_latents(latents, timesteps, noise)

    def score_latents(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> GenzIQAOutput:
        """Score clean latents (B, C, h, w).

        ``timesteps`` (B, T) and ``noise`` (B, T, C, h, w) default to: in eval mode, the fixed
        scoring timesteps and noise; in train mode, one timestep per image drawn uniformly from
        ``scoring.train_timesteps`` with fresh noise.
        """
        latents = latents.to(self.device, torch.float32)
        batch = latents.shape[0]
        if timesteps is None:
            if self.training:
                low, high = self.config.scoring.train_timesteps
                timesteps = sample_train_timesteps(batch, low, high).view(batch, 1)
            else:
                fixed_t, fixed_eps = self.scoring_noise(tuple(latents.shape[1:]))
                timesteps = fixed_t.expand(batch, -1)
                noise = fixed_eps.expand(batch, *fixed_eps.shape) if noise is None else noise
        if noise is None:
            noise = torch.randn((*timesteps.shape, *latents.shape[1:]), device=self.device)
        if timesteps.shape[0] != batch or noise.shape[:2] != timesteps.shape:
            raise ValueError(
                f"timesteps {tuple(timesteps.shape)} and noise {tuple(noise.shape)} must be "
                f"(B, T) and (B, T, C, h, w) for B = {batch}"
            )
        steps = timesteps.shape[1]
        timesteps = timesteps.to(self.device)
        noise = noise.to(self.device, torch.float32)
        rows = self._rows_per_unet_call(steps)
        embeds = self.prompt_embeds()  # once per call: in training it runs the text encoder
        attention, contrast = [], []
        # Each image's T rows start at a multiple of T (or lie in whole groups of T), and
        # every call has the same shape, so a score never depends on the rest of the batch.
        chunks = zip(
            self._fixed_chunks(latents.repeat_interleave(steps, dim=0), rows),
            self._fixed_chunks(timesteps.reshape(-1), rows),
            self._fixed_chunks(noise.reshape(-1, *latents.shape[1:]), rows),
            strict=True,
        )
        for chunk_latents, chunk_t, chunk_noise in chunks:
            a, b = self._score_pairs(chunk_latents, chunk_t, chunk_noise, embeds)
            attention.append(a)
            contrast.append(b)
        attention_scores = torch.cat(attention)[: batch * steps].view(batch, steps, -1)
        contrast_t = torch.cat(contrast)[: batch * steps].view(batch, steps)
        layer_scores = attention_scores + contrast_t.unsqueeze(-1)
        if self.config.scoring.score == "contrast":
            raw = -contrast_t.mean(dim=1)
        else:
            raw = layer_scores.mean(dim=(1, 2))
        score = raw if self.calibration is None else self.calibration(raw.unsqueeze(-1)).squeeze(-1)
        return GenzIQAOutput(score, layer_scores, attention_scores, contrast_t)

    def _rows_per_unet_call(self, steps: int) -> int:
        """(latent, timestep) rows per U-Net call, each run for the P prompts: whole images'
        T rows when ``unet_batch_size`` holds T x P, else the largest group of one image's
        timesteps that fits."""
        prompts = self.prompts.num_prompts
        if self.unet_batch_size < prompts:
            raise ValueError(
                f"unet_batch_size must be at least the number of prompts ({prompts}), "
                f"got {self.unet_batch_size}"
            )
        if self.unet_batch_size >= steps * prompts:
            return self.unet_batch_size // (steps * prompts) * steps
        return max(
            g for g in range(1, steps + 1) if steps % g == 0 and g * prompts <= self.unet_batch_size
        )

    def _score_pairs(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor,
        noise: torch.Tensor,
        embeds: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One U-Net batch: N (latent, timestep, noise) rows x P prompts -> A (N, L), b (N,).

        ``embeds`` (P, 77, D) are the prompt embeddings from :meth:`prompt_embeds`."""
        num_prompts = self.prompts.num_prompts
        model_input = noisy_model_input(latents, noise, timesteps, self.alphas_cumprod)
        target = denoising_target(
            latents, noise, timesteps, self.alphas_cumprod, self.prediction_type
        )
        context = embeds.repeat_interleave(latents.shape[0], dim=0)
        sample = repeat_for_prompts(model_input.to(self.dtype), num_prompts)
        prediction = self.unet(
            sample, repeat_for_prompts(timesteps.to(self.device), num_prompts), context
        ).sample
        token_mask = None
        if self.config.scoring.tokens == "non_padding":
            token_mask = self.prompts.attention_mask.repeat_interleave(latents.shape[0], dim=0)
        per_layer = []
        for processor in self._processors.values():
            per_row = token_mean(processor.pooled, token_mask)
            per_layer.append(split_prompts(per_row, num_prompts).mean(dim=0))
            processor.pooled = None
        predicted = split_prompts(prediction, num_prompts)
        contrast = denoising_contrast(target, predicted[0], predicted[1])
        return torch.stack(per_layer, dim=1), contrast

    # --------------------------------------------------------------------------- scoring

    @torch.no_grad()
    def score(self, images: Images, batch_size: int = 8) -> np.ndarray:
        """Quality scores (B,) as float64, higher = better; deterministic and batch-independent.

        ``images``: PIL images, file paths, or a float tensor (B, 3, H, W) / (3, H, W) in [0, 1].
        """
        was_training = self.training
        self.eval()
        try:
            scores = [
                self(batch).score.double().cpu() for batch in self._batches(images, batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(scores).numpy()

    def _batches(self, images: Images, batch_size: int) -> Iterator[torch.Tensor]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(images, torch.Tensor):
            prepared = prepare_images(images, self.resolution)
            yield from prepared.split(batch_size)
            return
        items = [images] if not isinstance(images, (list, tuple)) else list(images)
        for start in range(0, len(items), batch_size):
            yield prepare_images(items[start : start + batch_size], self.resolution)

    def extra_repr(self) -> str:
        kind = "zero-shot baseline (untrained)" if self.config.zero_shot else "GenzIQA"
        return (
            f"{kind}, backbone={self.backbone_source}, layers={self.num_layers}, "
            f"timesteps={list(self.config.scoring.timesteps)}, resolution={self.resolution}"
        )


def _random_flips(images: torch.Tensor) -> torch.Tensor:
    """The reference's test-time augmentation: each flip with probability 1/2 (global RNG)."""
    flipped = []
    for image in images:
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        if torch.rand(()) < 0.5:
            image = image.flip(-2)
        flipped.append(image)
    return torch.stack(flipped)


def load_config(
    name_or_path: str | Path,
    *,
    backbone: str | None = None,
    local_files_only: bool | None = None,
    revision: str | None = None,
) -> tuple[GenzIQAConfig, Path | None]:
    """The config a built-in name, model folder or hub repo stands for, and its folder (None
    for a built-in name); ``backbone`` replaces the backbone it names."""
    from .pretrained import MODEL_NAMES

    name = str(name_or_path)
    folder = None
    if name in MODEL_NAMES:
        config = MODEL_NAMES[name]()
    else:
        folder = _model_folder(name, local_files_only, revision)
        config = GenzIQAConfig.from_json_file(folder / CONFIG_NAME)
    if backbone is not None:
        config = config.replace(**{"backbone.source": backbone, "backbone.revision": None})
    return config, folder


def _model_folder(name: str, local_files_only: bool | None, revision: str | None) -> Path:
    """A local model folder, or a hub repo's copy of its config and weights."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise ModelNotFoundError(
                f"{path} is not a GenzIQA model folder: no {CONFIG_NAME} (expected the output of "
                f"GenzIQA.save_pretrained or `genziqa train`)"
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
                allow_patterns=[CONFIG_NAME, WEIGHTS_NAME],
                local_files_only=offline,
            )
        )
    except Exception as error:  # huggingface_hub raises many kinds; all mean "not available"
        raise ModelNotFoundError(
            f"model {name!r}: not a local folder or built-in name, and not available from the "
            f"Hugging Face Hub{' cache (offline mode)' if offline else ''} at {hub_cache_dir()}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
        ) from None


def count_parameters(model: GenzIQA) -> dict[str, int]:
    """Trainable parameter counts by part: context, LoRA, head."""
    counts = {"context": 0, "lora": 0, "head": 0}
    for name, parameter in model.trained_state_dict().items():
        part = "context" if name.startswith("prompts.") else "lora" if "lora_" in name else "head"
        counts[part] += parameter.numel()
    return counts


__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "GenzIQA",
    "GenzIQAOutput",
    "ModelNotFoundError",
    "count_parameters",
]
