"""Labelled images for training and validation: latents from the cache, or decoded images.

Workers hash each file (once per run: the main process keeps the digests, see ``remember``); a
cached latent comes back ready, a miss comes back as the decoded, resized (and, in training,
flipped) image for the main process to encode once on the model's device and store. Flips
are drawn from a hash of (seed, epoch, index), so they do not depend on worker count or on
where a resumed run restarted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .images import ImageError
from .latent_cache import FLIPS, LatentCache, file_digest, latent_key
from .preprocess import load_for_model


@dataclass
class Item:
    index: int
    label: float
    latent: torch.Tensor | None = None  # (C, h, w) from the cache
    image: torch.Tensor | None = None  # (3, R, R) uint8 when the latent must be computed
    key: str | None = None  # where to store the computed latent
    digest: str | None = None  # the file's content hash, kept by ``remember``
    error: str = ""


def flip_image(image: torch.Tensor, flip: str) -> torch.Tensor:
    if "h" in flip:
        image = image.flip(-1)
    if "v" in flip:
        image = image.flip(-2)
    return image


class LabelledImages(Dataset):
    """Image files with labels -> ``Item`` (latent from the cache, or the image to encode)."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        labels: Sequence[float],
        resolution: int,
        cache: LatentCache | None,
        settings: str,
        flips: bool = False,
        seed: int = 0,
    ) -> None:
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths = [str(p) for p in paths]
        self.labels = [float(v) for v in labels]
        self.resolution = resolution
        self.cache = cache
        self.settings = settings
        self.flips = flips
        self.seed = seed
        self.epoch = 0
        self.digests: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def flip_for(self, index: int) -> str:
        """One of none/h/v/hv, each with probability 1/4 (both flips independent, p = 1/2)."""
        if not self.flips:
            return "none"
        digest = hashlib.sha256(f"{self.seed}:{self.epoch}:{index}".encode()).digest()
        return FLIPS[digest[0] % 4]

    def remember(self, items: Sequence[Item]) -> None:
        """Keep the file digests workers computed, so later epochs do not read files just to
        hash them (workers start afresh each epoch with a copy of this dataset)."""
        for item in items:
            if item.digest is not None:
                self.digests[item.index] = item.digest

    def __getitem__(self, index: int) -> Item:
        path = self.paths[index]
        flip = self.flip_for(index)
        item = Item(index, self.labels[index])
        try:
            if self.cache is not None:
                item.digest = self.digests.get(index) or file_digest(path)
                item.key = latent_key(item.digest, self.settings, flip)
                item.latent = self.cache.get(item.key)
                if item.latent is not None:
                    return item
            item.image = flip_image(load_for_model(path, self.resolution), flip)
        except ImageError as error:
            item.error = str(error)
        except OSError as error:
            item.error = f"{path}: {error.strerror or error}"
        return item


def collate_items(items: list[Item]) -> list[Item]:
    return items
