"""GenzIQA: no-reference image quality from a latent diffusion model's cross-attention.

Paper: D. De, S. Basu Roy Chowdhury et al., "GenzIQA: Generalized Image Quality Assessment
using Prompt-Guided Latent Diffusion Models" (WACV 2025), and its video extension GenzVQA.
Reference implementation: the authors' public code (a vendored, edited diffusers).

Data path, one stage per file, top to bottom:

    images (B, 3, R, R) in [0, 1]          preprocess.py  resize, CLIP mean/std normalisation
    -> latents (B, C, R/f, R/f)            latents.py     frozen VAE encoder, posterior mean
    -> noisy U-Net inputs per timestep     noise.py       fixed timesteps and seeded noise
    -> prompt_embeds (P=2, 77, D)          prompts.py     learned context + "Good/Bad Photo."
    -> U-Net with the score processor      attention.py   logits S = QK^T*scale on every attn2,
                                                          spatial log-sum-exp (a recorder)
    -> per-layer attention scores A_l      pooling.py     mean over prompts, heads, tokens
       and the denoising contrast b        pooling.py     ||eps - eps_good|| - ||eps - eps_bad||
    -> layer_scores (B, T, L) = A_l + b -> score (B,) = mean over layers and timesteps
                                           pooling.py     aggregate_score

The U-Net rows (image x timestep, each once per prompt) are cut into fixed-size calls in
``batching.py``; names and model folders live in ``pretrained.py``.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from . import __version__
from .attention import (
    CrossAttentionScoreProcessor,
    PooledLogits,
    Recorder,
    recording,
    score_processors,
)
from .backbone import Backbone, backbone_digests, check_backbone_digests, load_backbone
from .batching import (
    SharedPrefix,
    fixed_chunks,
    repeat_for_prompts,
    rows_per_call,
    split_prompts,
    unchunk,
)
from .config import GenzIQAConfig
from .latents import encode_latents
from .lora import add_cross_attention_lora, merge_lora
from .noise import (
    denoising_target,
    fixed_noise,
    noisy_model_input,
    scoring_noise,
    timesteps_and_noise,
)
from .pooling import aggregate_score, attention_scores, denoising_contrast
from .preprocess import Images, normalize, prepare_images, random_flips
from .pretrained import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelNotFoundError,
    folder_metadata,
    load_config,
    read_weights,
    write_model_folder,
)
from .prompts import PromptLearner


@dataclass
class GenzIQAOutput:
    """Scores of a batch of B images over T timesteps and L cross-attention layers."""

    score: torch.Tensor  # (B,) final score (after the calibration head when there is one)
    layer_scores: torch.Tensor  # (B, T, L) A_l + b
    attention_scores: torch.Tensor  # (B, T, L) A_l
    contrast: torch.Tensor  # (B, T) b
    # What the extra recorders passed to ``score_latents`` kept: name -> layer -> (P, B, T, ...)
    recorded: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


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
        self._processors = score_processors(self.unet)
        self.unet.set_attn_processor({**self.unet.attn_processors, **self._processors})
        self.layer_names = list(self._processors)
        # Everything before the first cross-attention runs once for both prompts (exact).
        self.shared_prefix = SharedPrefix(self.unet, self.layer_names[0], self.prompts.num_prompts)
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
        backbone_check: Literal["warn", "error", "off"] = "warn",
    ) -> GenzIQA:
        """Load a model: a folder from ``save_pretrained``, a hub repo holding one, or a
        built-in name (``genziqa.pretrained.MODEL_NAMES``: ``"zero-shot"``, ``"genziqa-tiny"``).

        ``backbone`` replaces the backbone the config names (a hub id, a local diffusers folder,
        a single .safetensors file, or an already loaded ``Backbone``), e.g. to point a model at
        a local copy of its Stable Diffusion weights. ``overrides`` changes scoring settings,
        e.g. ``{"scoring.timesteps": (9, 59), "preprocess.resolution": 384}``.
        ``backbone_check``: when the folder recorded digests of the backbone weights it was
        trained on and today's differ, warn (``BackboneChangedWarning``), refuse
        (``"error"``: ``BackboneChangedError``) or say nothing (``"off"``).
        """
        config, folder = load_config(
            name_or_path,
            backbone=backbone if isinstance(backbone, str) else None,
            local_files_only=local_files_only,
            revision=revision,
        )
        weights = None if folder is None else read_weights(folder)
        if overrides:
            config = config.replace(**overrides)
        model = cls.from_config(
            config,
            backbone=None if isinstance(backbone, str) else backbone,
            local_files_only=local_files_only,
            torch_dtype=torch_dtype,
        )
        if weights is not None:
            model.load_trained_state_dict(weights)
        if folder is not None and not isinstance(backbone, Backbone):
            recorded = folder_metadata(folder).get("backbone_digests")
            check_backbone_digests(recorded, config.backbone, backbone_check)
        return model

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the config (JSON) and the trained tensors only (safetensors, a few MB at most)."""
        if self.lora_merged:
            raise RuntimeError(
                "cannot save a model whose LoRA was merged into the U-Net for fast scoring; "
                "save it before calling merge_lora()"
            )
        return write_model_folder(
            folder,
            self.config,
            self.trained_state_dict(),
            __version__,
            backbone_digests=backbone_digests(self.config.backbone),
        )

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
            latents = self.images_to_latents(images)  # 1-2. flips, normalise, VAE
        return self.score_latents(latents, timesteps, noise)

    def images_to_latents(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, R, R) in [0, 1] -> latents (B, C, h, w) as ``forward`` makes them:
        the reference's random flips when ``scoring.test_time_flips`` (eval mode only), then
        ``encode_images``."""
        if self.config.scoring.test_time_flips and not self.training:
            images = random_flips(images)  # 1. preprocess (the reference's flips)
        return self.encode_images(images)

    def score_latents(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        *,
        recorders: Mapping[str, Recorder] | None = None,
    ) -> GenzIQAOutput:
        """Score clean latents (B, C, h, w).

        ``timesteps`` (B, T) and ``noise`` (B, T, C, h, w) default to: in eval mode, the fixed
        scoring timesteps and noise; in train mode, one timestep per image drawn uniformly from
        ``scoring.train_timesteps`` with fresh noise. ``recorders`` (name -> Recorder) see every
        cross-attention layer's logits; what they kept is in ``output.recorded[name]``.
        """
        latents = latents.to(self.device, torch.float32)
        scoring = self.config.scoring
        timesteps, noise = self.timesteps_and_noise(latents, timesteps, noise)  # 3. noise
        embeds = self.prompt_embeds()  # 4. prompts, once per call (in training: with a graph)
        attention, contrast, recorded = self._score_all_rows(  # 5. U-Net + attention
            latents, timesteps, noise, embeds, recorders or {}
        )
        layer_scores, raw = aggregate_score(attention, contrast, scoring.score)  # 6. pooling
        score = raw if self.calibration is None else self.calibration(raw.unsqueeze(-1)).squeeze(-1)
        return GenzIQAOutput(score, layer_scores, attention, contrast, recorded)

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
            for chunk in fixed_chunks(pixels, self.vae_batch_size, pad=not self.training)
        ]
        return torch.cat(chunks)[: pixels.shape[0]]

    def timesteps_and_noise(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        *,
        scoring_timesteps: tuple[int, ...] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The timesteps (B, T) and noise (B, T, C, h, w) ``score_latents`` uses for clean
        ``latents`` (B, C, h, w): given ones checked and kept; else the fixed scoring timesteps
        (``scoring_timesteps``, default ``scoring.timesteps``) with their seeded noise, or in
        train mode one timestep per row from ``scoring.train_timesteps`` with fresh noise."""
        scoring = self.config.scoring
        return timesteps_and_noise(
            latents,
            timesteps,
            noise,
            training=self.training,
            scoring_timesteps=scoring.timesteps if scoring_timesteps is None else scoring_timesteps,
            train_range=scoring.train_timesteps,
            seed=scoring.seed,
        )

    def prepare_images(self, images: Images) -> torch.Tensor:
        """Any input ``score`` accepts -> float (B, 3, R, R) in [0, 1] at this model's size."""
        return prepare_images(images, self.resolution)

    def scoring_noise(self, latent_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed scoring timesteps (T,) and their noise (T, C, h, w), same for every image."""
        return scoring_noise(self.config.scoring.timesteps, latent_shape, self.config.scoring.seed)

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

    def _score_all_rows(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor,
        noise: torch.Tensor,
        embeds: torch.Tensor,
        recorders: Mapping[str, Recorder],
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, dict[str, torch.Tensor]]]:
        """Every (image, timestep) row through fixed-shape U-Net calls: A (B, T, L), b (B, T)
        and the extra recorders' results, layer -> (P, B, T, ...)."""
        batch, steps = timesteps.shape
        rows = rows_per_call(self.unet_batch_size, steps, self.prompts.num_prompts)
        pad = not self.training
        # Each image's T rows start at a multiple of T (or lie in whole groups of T), and
        # every call has the same shape, so a score never depends on the rest of the batch.
        chunks = zip(
            fixed_chunks(latents.repeat_interleave(steps, dim=0), rows, pad),
            fixed_chunks(timesteps.reshape(-1), rows, pad),
            fixed_chunks(noise.reshape(-1, *latents.shape[1:]), rows, pad),
            strict=True,
        )
        attention, contrast = [], []
        for chunk in chunks:
            a, b = self.score_rows(*chunk, embeds, recorders=tuple(recorders.values()))
            attention.append(a)
            contrast.append(b)
        total = batch * steps
        recorded = {
            name: {
                layer: unchunk(calls, self.prompts.num_prompts, total).reshape(
                    self.prompts.num_prompts, batch, steps, *calls[0].shape[1:]
                )
                for layer, calls in recorder.take().items()
            }
            for name, recorder in recorders.items()
        }
        attention_t = torch.cat(attention)[:total].view(batch, steps, -1)
        return attention_t, torch.cat(contrast)[:total].view(batch, steps), recorded

    def score_rows(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor,
        noise: torch.Tensor,
        embeds: torch.Tensor,
        *,
        recorders: tuple[Recorder, ...] = (),
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One U-Net call: n (latent, timestep, noise) rows x P prompts -> A (n, L), b (n,).

        ``embeds`` (P, 77, D) are the prompt embeddings from :meth:`prompt_embeds`; extra
        ``recorders`` keep what they want of this call's logits (their ``take()`` returns it).
        """
        num_prompts = self.prompts.num_prompts
        model_input = noisy_model_input(latents, noise, timesteps, self.alphas_cumprod)
        target = denoising_target(
            latents, noise, timesteps, self.alphas_cumprod, self.prediction_type
        )
        context = embeds.repeat_interleave(latents.shape[0], dim=0)
        sample = repeat_for_prompts(model_input.to(self.dtype), num_prompts)
        pooled = PooledLogits(self.config.scoring.lse_lambda)
        with recording(self._processors, (pooled, *recorders)):
            prediction = self.unet(
                sample, repeat_for_prompts(timesteps.to(self.device), num_prompts), context
            ).sample
        token_mask = (
            self.prompts.attention_mask if self.config.scoring.tokens == "non_padding" else None
        )
        by_layer = pooled.take()
        attention = attention_scores(
            [split_prompts(by_layer[name][0], num_prompts) for name in self.layer_names], token_mask
        )
        predicted = split_prompts(prediction, num_prompts)
        return attention, denoising_contrast(target, predicted[0], predicted[1])

    # --------------------------------------------------------------------------- scoring

    @torch.no_grad()
    def score(self, images: Images, batch_size: int = 8) -> np.ndarray:
        """Quality scores (B,) as float64, higher = better; deterministic and batch-independent.

        ``images``: PIL images, file paths, numpy arrays (H, W, 3) / (H, W) of uint8 (one or a
        list), or a float tensor (B, 3, H, W) / (3, H, W) in [0, 1].
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

    def explain(self, images: Images, *, kind: str = "contribution", batch_size: int = 8):
        """Scores and quality heatmaps from the same pass: a ``genziqa.explain.heatmaps.
        Explanation`` with ``score`` (B,) (equal to ``score``), ``map`` (B, H, W) at image size,
        ``layer_maps`` and ``overlay(i)``. ``kind``: ``"contribution"`` (default),
        ``"contrast"``, ``"responsibility"`` or ``"entropy"`` (defined in that module)."""
        from .explain.heatmaps import explain

        return explain(self, images, kind=kind, batch_size=batch_size)

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
