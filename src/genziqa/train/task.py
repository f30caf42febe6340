"""The image task: what the training loop needs to know about training GenzIQA on images.

The loop (``loop.py``) is generic: it asks the task for the model, the datasets, a batch of
model inputs with labels, the loss of a training step and the scores for validation. The
video task (GenzVQA) plugs into the same loop from ``video_task.py``; ``make_task`` picks one.

Recipe (METHOD.md): MSE between the score and the raw MOS (or 1 - batch PLCC), one timestep
per image drawn uniformly from ``scoring.train_timesteps`` with fresh noise, both drawn from a
generator seeded by (seed, step, process) so that a resumed run draws the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..model import GenzIQA
from ..noise import sample_train_timesteps
from ..pretrained import genziqa_cache_dir
from .config import TrainConfig, TrainSetupError
from .data import Item, LabelledImages, Split, training_targets
from .latent_cache import LatentCache, settings_key, vae_fingerprint

if TYPE_CHECKING:
    from torch import nn

    from .video_task import VideoTask


def plcc_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1 - Pearson correlation) / 2 within the batch: blind to the score's offset and scale."""
    if scores.numel() < 2:
        return scores.sum() * 0.0
    s = scores - scores.mean()
    y = labels - labels.mean()
    correlation = (s * y).sum() / (s.norm() * y.norm() + 1e-12)
    return (1 - correlation) / 2


LOSSES = {"mse": F.mse_loss, "plcc": plcc_loss}


class ImageTask:
    """GenzIQA on labelled images, with VAE latents cached on disk."""

    unit = "images"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.cache: LatentCache | None = None
        self.settings = ""
        self.num_workers = config.num_workers

    def build_model(self) -> GenzIQA:
        model = GenzIQA.from_config(self.config.model, init_seed=self.config.seed)
        if self.config.gradient_checkpointing:
            model.unet.enable_gradient_checkpointing()
        if not model.trainable_parameters():
            raise TrainSetupError("this model config has nothing to train (zero-shot baseline?)")
        return model

    def datasets(
        self, core: GenzIQA, train_sets: list[Split], val_sets: list[Split]
    ) -> tuple[LabelledImages, list[tuple[Split, LabelledImages]]]:
        """The training images (flipped as the recipe says) and each validation set."""
        self.cache = _latent_cache(self.config)
        self.settings = _latent_settings(core)
        train_data = LabelledImages(
            pd.concat([s.table["path"] for s in train_sets]).tolist(),
            np.concatenate([training_targets(s, self.config.target) for s in train_sets]).tolist(),
            core.resolution,
            self.cache,
            self.settings,
            flips=self.config.flips,
            seed=self.config.seed,
        )
        val_data = [
            (
                split,
                LabelledImages(
                    split.table["path"],
                    split.table["mos"],
                    core.resolution,
                    self.cache,
                    self.settings,
                ),
            )
            for split in val_sets
        ]
        return train_data, val_data

    def batch(
        self, core: GenzIQA, items: list[Item], log: Callable[[str], None]
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Latents (n, C, h, w) on the model's device and labels (n,); misses encoded and cached."""
        for item in items:
            if item.error:
                log(f"skipped: {item.error}")
        items = [item for item in items if not item.error]
        if not items:
            return None, torch.empty(0)
        missing = [item for item in items if item.latent is None]
        if missing:
            images = torch.stack([item.image for item in missing]).float().div_(255.0)
            with torch.no_grad():
                encoded = core.encode_images(images).cpu()
            for item, latent in zip(missing, encoded, strict=True):
                item.latent = latent
                if self.cache is not None and item.key is not None:
                    self.cache.put(item.key, latent)
        latents = torch.stack([item.latent for item in items]).to(core.device)
        labels = torch.tensor([item.label for item in items], dtype=torch.float32)
        return latents, labels

    def loss(
        self,
        model: nn.Module,
        core: GenzIQA,
        latents: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """One training step's loss: one timestep and fresh noise per image from ``generator``."""
        low, high = core.config.scoring.train_timesteps
        timesteps = sample_train_timesteps(len(labels), low, high, generator).view(-1, 1)
        noise = torch.randn((len(labels), 1, *latents.shape[1:]), generator=generator)
        # accelerate's prepare() already runs the forward under autocast for mixed precision
        output = model(latents=latents, timesteps=timesteps, noise=noise)
        return LOSSES[self.config.loss](output.score.float(), labels.to(output.score.device))

    def predict(self, core: GenzIQA, latents: torch.Tensor) -> torch.Tensor:
        """Scores (n,) at the fixed scoring timesteps, for validation."""
        return core(latents=latents).score


def make_task(config: TrainConfig, media: str) -> ImageTask | VideoTask:
    """The task for the training data's media: images -> ImageTask, videos -> VideoTask."""
    if media == "video":
        from .video_task import VideoTask

        return VideoTask(config)
    return ImageTask(config)


def _latent_cache(config: TrainConfig) -> LatentCache | None:
    if config.latent_cache is None:
        return None
    if config.latent_cache == "auto":
        return LatentCache(genziqa_cache_dir() / "latents")
    return LatentCache(config.latent_cache)


def _latent_settings(model: GenzIQA) -> str:
    scoring = model.config.scoring
    return settings_key(
        vae=vae_fingerprint(model.vae),
        scaling_factor=model.vae.config.scaling_factor,
        shift_factor=getattr(model.vae.config, "shift_factor", None),
        resolution=model.resolution,
        normalization=model.config.preprocess.normalization,
        latent=scoring.latent,
        latent_seed=scoring.seed if scoring.latent == "sample" else None,
        vae_batch=model.vae_batch_size,
    )
