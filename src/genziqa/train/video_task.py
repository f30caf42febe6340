"""The video task: training GenzVQA through the same loop as images (``loop.py``).

Recipe (VIDEO.md 1.6-1.8): LSVQ's train split, batch 16 videos, 6 epochs, AdamW lr 1e-4,
weight decay 0.01, gradient norm 1.0, MSE between the score and the raw MOS; 12 frames per
video in training, one timestep in [0, 100) and ONE noise tensor per video, shared by its
frames and both prompts; trained: the context vectors, the attn2 LoRA and the temporal
modulator (``GenzVQA.trainable_parameters``). Validation scores 8 frames at the video
timesteps (9, 34, 59, 84); the best checkpoint is chosen by validation SRCC (the reference
hard-codes its third epoch). The per-frame VAE latents and the motion features are each
computed once per video and cached (``video_data.py``).

The loop sees the same five calls as for images: ``build_model``, ``datasets``, ``batch``
(here a :class:`VideoBatch` of latents and motion features), ``loss`` and ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..noise import sample_train_timesteps
from .config import TrainConfig, TrainSetupError
from .data import Split, training_targets
from .latent_cache import LatentCache, settings_key
from .task import LOSSES, _latent_cache, _latent_settings
from .video_data import LabelledVideos, VideoItem

if TYPE_CHECKING:
    from torch import nn

    from ..video.inputs import MotionSource
    from ..video.model import GenzVQA


@dataclass
class VideoBatch:
    """A batch of videos for the model: latents (B, K, C, h, w) and, with a modulator, the
    motion features of each video (lists of (N_i, 2048) and (N_i, 256))."""

    latents: torch.Tensor
    slow: list[torch.Tensor] | None
    fast: list[torch.Tensor] | None


class VideoTask:
    """GenzVQA on labelled videos, latents and motion features cached on disk."""

    unit = "videos"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.cache: LatentCache | None = None
        self.motion: MotionSource | None = None
        self.num_workers = config.num_workers

    def build_model(self) -> GenzVQA:
        from ..video.model import GenzVQA

        try:
            model_config = self.config.video.model_config(self.config.model)
        except ValueError as error:
            raise TrainSetupError(f"video model: {error}") from None
        model = GenzVQA.from_config(model_config, init_seed=self.config.seed)
        if self.config.gradient_checkpointing:
            model.image_model.unet.enable_gradient_checkpointing()
        if not model.trainable_parameters():
            raise TrainSetupError("this model config has nothing to train (zero-shot baseline?)")
        return model

    def datasets(
        self, core: GenzVQA, train_sets: list[Split], val_sets: list[Split]
    ) -> tuple[LabelledVideos, list[tuple[Split, LabelledVideos]]]:
        """The training videos (train_frames each, flipped as a whole) and each validation set
        (frames each, unflipped)."""
        self.cache = _latent_cache(self.config)
        self.motion = self._motion_source(core)
        video = self.config.video

        def labelled(paths, labels, frames: int, flips: bool) -> LabelledVideos:
            return LabelledVideos(
                paths,
                labels,
                frames,
                core.resolution,
                self.cache,
                self._settings(core, frames),
                self.motion,
                short=video.short_videos,
                flips=flips,
                seed=self.config.seed,
            )

        train_data = labelled(
            pd.concat([s.table["path"] for s in train_sets]).tolist(),
            np.concatenate([training_targets(s, self.config.target) for s in train_sets]).tolist(),
            video.train_frames,
            self.config.flips,
        )
        val_data = [
            (split, labelled(split.table["path"], split.table["mos"], video.frames, False))
            for split in val_sets
        ]
        return train_data, val_data

    def _settings(self, core: GenzVQA, frames: int) -> str:
        return settings_key(
            image=_latent_settings(core.image_model),
            video_frames=frames,
            sampler="floor(linspace(0, N - 1, K)) over decoded frames",
            short_videos=self.config.video.short_videos,
        )

    def _motion_source(self, core: GenzVQA) -> MotionSource | None:
        """Precomputed ``.npy`` features, or SlowFast R50 with its feature cache; None when the
        model has no modulator. SlowFast on a GPU runs in this process (no loader workers)."""
        if core.modulator is None:
            return None
        from ..io.features import FeatureFileError, MotionFeatureCache
        from ..pretrained import genziqa_cache_dir
        from ..video.inputs import PrecomputedMotion, SlowFastMotion
        from ..video.motion import CheckpointError, find_slowfast, load_slowfast

        video = self.config.video
        try:
            if video.motion_features is not None:
                return PrecomputedMotion(video.motion_features)
            network = load_slowfast(find_slowfast(video.slowfast), device=core.device)
        except (CheckpointError, FeatureFileError) as error:
            raise TrainSetupError(f"motion features: {error}") from None
        if core.device.type != "cpu":
            self.num_workers = 0
        cache = None
        if video.motion_cache is not None:
            root = (
                genziqa_cache_dir() / "motion-features"
                if video.motion_cache == "auto"
                else video.motion_cache
            )
            cache = MotionFeatureCache(root)
        return SlowFastMotion(network, core.config.motion, cache=cache)

    def batch(
        self, core: GenzVQA, items: list[VideoItem], log: Callable[[str], None]
    ) -> tuple[VideoBatch | None, torch.Tensor]:
        """Latents (n, K, C, h, w) on the model's device, motion features and labels (n,);
        missing latents encoded (all frames of the batch in VAE chunks) and cached."""
        for item in items:
            if item.error:
                log(f"skipped: {item.error}")
        items = [item for item in items if not item.error]
        if not items:
            return None, torch.empty(0)
        missing = [item for item in items if item.latent is None]
        # Videos with the same bytes (same cache key) in one batch are encoded once.
        unique = list({item.key or id(item): item for item in missing}.values())
        if unique:
            frames = torch.cat([item.frames for item in unique]).float().div_(255.0)
            with torch.no_grad():
                encoded = core.image_model.encode_images(frames).cpu()
            per_video = encoded.view(len(unique), -1, *encoded.shape[1:])
            computed = {}
            for item, latent in zip(unique, per_video, strict=True):
                computed[item.key or id(item)] = latent.clone()
                if self.cache is not None and item.key is not None:
                    self.cache.put(item.key, computed[item.key])
            for item in missing:
                item.latent = computed[item.key or id(item)]
        latents = torch.stack([item.latent for item in items]).to(core.device)
        labels = torch.tensor([item.label for item in items], dtype=torch.float32)
        if core.modulator is None:
            return VideoBatch(latents, None, None), labels
        slow = [item.slow for item in items]
        fast = [item.fast for item in items]
        return VideoBatch(latents, slow, fast), labels  # type: ignore[arg-type]

    def loss(
        self,
        model: nn.Module,
        core: GenzVQA,
        batch: VideoBatch,
        labels: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """One step's loss: one timestep and one noise tensor per VIDEO from ``generator``."""
        low, high = core.image_model.config.scoring.train_timesteps
        count = len(labels)
        timesteps = sample_train_timesteps(count, low, high, generator).view(-1, 1)
        noise = torch.randn((count, 1, *batch.latents.shape[2:]), generator=generator)
        output = model(
            latents=batch.latents,
            slow=batch.slow,
            fast=batch.fast,
            timesteps=timesteps,
            noise=noise,
        )
        return LOSSES[self.config.loss](output.score.float(), labels.to(output.score.device))

    def predict(self, core: GenzVQA, batch: VideoBatch) -> torch.Tensor:
        """Scores (n,) at the fixed video timesteps (K = ``frames``), for validation."""
        return core(latents=batch.latents, slow=batch.slow, fast=batch.fast).score
