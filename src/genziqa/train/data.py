"""Training data: which rows of which databases, and labelled images for the model.

``load_splits``/``select_rows`` pick each database's rows for a role (training, or the
held-out rows for validation); ``LabelledImages`` turns rows into latents from the cache, or
decoded images.

Workers hash each file (once per run: the main process keeps the digests, see ``remember``); a
cached latent comes back ready, a miss comes back as the decoded, resized (and, in training,
flipped) image for the main process to encode once on the model's device and store. Flips
are drawn from a hash of (seed, epoch, index), so they do not depend on worker count or on
where a resumed run restarted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..datasets import load_specs, media_of
from ..datasets.splits import apply_split
from ..io.durable import file_digest
from ..io.images import ImageError
from ..preprocess import FLIPS, flip_image, load_for_model
from ..seeding import stable_seed
from .config import TrainSetupError
from .latent_cache import LatentCache, latent_key


@dataclass
class Split:
    """One dataset's rows for a role (train or validation); ``media``: image or video."""

    name: str
    table: pd.DataFrame
    lower_better: bool
    media: str = "image"


def load_splits(
    specs: tuple[str, ...], role: str, split_seed: int, train_split: str = "train"
) -> list[Split]:
    """Dataset tables for a role: ``train`` rows, or the held-out rows used for validation."""
    return select_rows(load_tables(specs, split_seed), role, train_split)


def load_tables(specs: tuple[str, ...], split_seed: int) -> list[tuple[str, Split]]:
    """(spec, whole table with its split column) per spec, each database loaded once."""
    tables = []
    for spec, (name, table, lower_better) in zip(specs, load_specs(specs), strict=True):
        media = media_of(spec, table)
        tables.append((spec, Split(name, apply_split(table, seed=split_seed), lower_better, media)))
    return tables


def training_media(train_sets: list[Split], val_sets: list[Split]) -> str:
    """ "image" (GenzIQA) or "video" (GenzVQA): what every training and validation set holds;
    TrainSetupError when they mix the two."""
    kinds: dict[str, list[str]] = {}
    for split in (*train_sets, *val_sets):
        names = kinds.setdefault(split.media, [])
        if split.name not in names:
            names.append(split.name)
    if len(kinds) > 1:
        raise TrainSetupError(
            f"the training data mix images ({', '.join(kinds['image'])}) and videos "
            f"({', '.join(kinds['video'])}); train GenzIQA on image databases or GenzVQA on "
            "video databases, not both in one run"
        )
    return next(iter(kinds), "image")


def select_rows(
    tables: list[tuple[str, Split]], role: str, train_split: str = "train"
) -> list[Split]:
    """The rows of each table for ``role``: train, val-of-train (held out) or val (all)."""
    splits = []
    for spec, whole in tables:
        name, table, lower_better = whole.name, whole.table, whole.lower_better
        if role == "train":
            chosen = table if train_split == "all" else table[table["split"] == "train"]
        elif role == "val-of-train":
            held = "val" if (table["split"] == "val").any() else "test"
            chosen = table[table["split"] == held]
        else:  # an explicit validation database is used whole
            chosen = table
        if chosen.empty:
            raise TrainSetupError(
                f"{spec}: no rows for {role} (splits present: {set(table['split'])})"
            )
        splits.append(Split(name, chosen.reset_index(drop=True), lower_better, whole.media))
    return splits


def training_targets(split: Split, target: str) -> np.ndarray:
    """Regression targets: raw MOS (negated when lower is better), or the [0, 1] score."""
    if target == "unit":
        return split.table["score"].to_numpy(float)
    mos = split.table["mos"].to_numpy(float)
    return -mos if split.lower_better else mos


@dataclass
class Item:
    index: int
    label: float
    latent: torch.Tensor | None = None  # (C, h, w) from the cache
    image: torch.Tensor | None = None  # (3, R, R) uint8 when the latent must be computed
    key: str | None = None  # where to store the computed latent
    digest: str | None = None  # the file's content hash, kept by ``remember``
    error: str = ""


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
        return FLIPS[(stable_seed(self.seed, self.epoch, index) >> 56) % 4]

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
