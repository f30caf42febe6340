"""Labelled videos for GenzVQA training: per video its K frames' VAE latents and its motion
features, each computed once and kept on disk.

A video's latents are cached as ONE entry (K, C, h, w) under ``latent_key(file digest,
settings, flip)``, the image cache's key, with the settings naming K, the frame sampler and
the short-video rule besides the VAE settings: the VAE runs once per (video, flip) over any
number of epochs and runs. Motion features come from a :class:`genziqa.video.inputs.
MotionSource`: precomputed ``.npy`` files, or SlowFast R50 run in the same decoding pass and
kept in a :class:`genziqa.io.features.MotionFeatureCache`, so SlowFast runs once per video.
A video whose latents and features are both cached is not decoded at all.

Flips: the reference flips each frame independently when it builds its cache, once, so its
flips are frozen (VIDEO.md 1.2). Here a video is flipped as a whole (all K frames alike,
which keeps the motion consistent), drawn per (seed, epoch, video) like the image flips, so
each epoch can see another of the four variants, each cached the first time it is drawn.
Motion features are computed on the unflipped video, as the reference's are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..io.durable import file_digest
from ..preprocess import flip_image
from .data import LabelledImages
from .latent_cache import LatentCache, latent_key

if TYPE_CHECKING:
    from ..video.inputs import MotionSource


@dataclass
class VideoItem:
    index: int
    label: float
    latent: torch.Tensor | None = None  # (K, C, h, w) from the cache
    frames: torch.Tensor | None = None  # (K, 3, R, R) uint8 when the latents must be computed
    slow: torch.Tensor | None = None  # (N, 2048)
    fast: torch.Tensor | None = None  # (N, 256)
    key: str | None = None  # where to store the computed latents
    digest: str | None = None  # the file's content hash, kept by ``remember``
    error: str = ""


class LabelledVideos(LabelledImages):
    """Video files with labels -> ``VideoItem`` (cached latents or frames, motion features);
    the labels, flips and digest bookkeeping are ``LabelledImages``'."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        labels: Sequence[float],
        frames: int,
        resolution: int,
        cache: LatentCache | None,
        settings: str,
        motion: MotionSource | None,
        *,
        short: str = "repeat",
        flips: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(paths, labels, resolution, cache, settings, flips, seed)
        self.frames = frames
        self.motion = motion
        self.short = short  # a video is flipped as a whole: one flip_for(index) per epoch

    def __getitem__(self, index: int) -> VideoItem:
        from ..io.features import FeatureFileError
        from ..io.video import VideoError
        from ..video.inputs import read_video
        from ..video.motion import CheckpointError

        path = self.paths[index]
        flip = self.flip_for(index)
        item = VideoItem(index, self.labels[index])
        try:
            if self.cache is not None:
                item.digest = self.digests.get(index) or file_digest(path)
                item.key = latent_key(item.digest, self.settings, flip)
                item.latent = self.cache.get(item.key)
            if item.latent is not None:
                if self.motion is None:
                    return item
                job = self.motion.prepare(Path(path))
                if job.features is not None:  # precomputed or cached: no decoding at all
                    item.slow, item.fast = job.features
                    return item
            video = read_video(
                path,
                self.frames,
                self.resolution,
                motion=self.motion,
                short=self.short,  # type: ignore[arg-type]
            )
            if item.latent is None:
                item.frames = flip_image(video.frames, flip)
            item.slow, item.fast = video.slow, video.fast
        except (VideoError, FeatureFileError, CheckpointError) as error:
            item.error = f"{path}: {error.reason}"
        except OSError as error:
            item.error = f"{path}: {error.strerror or error}"
        return item
