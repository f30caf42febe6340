"""Score many image files: decoding in DataLoader workers, batches written as they finish.

The model never waits on I/O: workers decode and resize the next batches while the current
one runs. Bad files never stop the run; each becomes an error row with its reason. Memory
stays flat: nothing but the current batches is held.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..io.images import DEFAULT_MAX_PIXELS, ImageError
from ..preprocess import load_for_model, prepare_images

if TYPE_CHECKING:
    from ..model import GenzIQA

Row = dict[str, object]


class ImageFiles(Dataset):
    """Image files -> (index, uint8 tensor (3, R, R) or an empty tensor, error reason)."""

    def __init__(
        self,
        paths: Sequence[Path],
        resolution: int,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.paths = list(paths)
        self.resolution = resolution
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, str]:
        try:
            pixels = load_for_model(self.paths[index], self.resolution, max_pixels=self.max_pixels)
            return index, pixels, ""
        except ImageError as error:
            return index, torch.empty(0, dtype=torch.uint8), error.reason


def _collate(items: list[tuple[int, torch.Tensor, str]]):
    """A batch as (indices, uint8 array (n, 3, R, R), errors). A numpy array, not a tensor:
    workers send tensors through shared-memory files (/dev/shm), whose exhaustion (64 MB in
    a default Docker container, or a file size limit) hangs the loader; an array travels
    through the worker's pipe, which cannot fill up."""
    indices = [i for i, _, _ in items]
    images = [t.numpy() for _, t, reason in items if not reason]
    errors = {i: reason for i, _, reason in items if reason}
    stacked = np.stack(images) if images else np.empty((0,), dtype=np.uint8)
    return indices, stacked, errors


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the model's threads


@dataclass
class ScoreSummary:
    scored: int = 0
    failed: int = 0


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def score_files(
    model: GenzIQA,
    paths: Sequence[Path],
    write: Callable[[list[Row]], None],
    *,
    batch_size: int = 8,
    num_workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    on_progress: Callable[[int], None] | None = None,
    details: bool = False,
) -> ScoreSummary:
    """Score ``paths`` in batches; call ``write(rows)`` once per finished batch.

    Rows: ``{"path", "score", "status": "ok" | "error", "error"}``. ``on_progress(n)`` is told
    how many files were finished, image by image where the model allows: a batch is scored in
    parts of ``images_per_call(model)`` images, which changes no score (scores do not depend
    on the batch) and costs nothing (each part is one U-Net call's worth of images).
    ``details=True`` adds what the model computed on the way
    (``genziqa.io.tables.DETAIL_COLUMNS``): ``layer_scores`` and ``attention_scores`` as T x L
    nested lists, ``contrast`` as a list of T (None in an error row). The scores are the same
    with or without details: both come from one forward pass.
    """
    workers = default_workers() if num_workers is None else num_workers
    loader = DataLoader(
        ImageFiles(paths, model.resolution, max_pixels),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init if workers else None,
        pin_memory=model.device.type == "cuda",
    )
    summary = ScoreSummary()
    model.eval()
    step = images_per_call(model)
    tell = on_progress or (lambda count: None)
    for indices, array, errors in loader:
        images = torch.from_numpy(array)
        scored: list[Row] = []
        batch_error = ""
        told = 0
        if images.numel():
            try:
                pixels = images.to(model.device, non_blocking=True).float().div_(255.0)
                for start in range(0, len(pixels), step):
                    part = _score_batch(model, pixels[start : start + step], details)
                    scored += part
                    tell(len(part))
                    told += len(part)
            except (RuntimeError, ValueError) as error:  # e.g. out of memory: report, go on
                batch_error = f"scoring failed: {str(error).strip().splitlines()[0]}"
        rows: list[Row] = []
        ok = iter(scored)
        for index in indices:
            path = str(paths[index])
            if index in errors:
                rows.append(_error_row(path, errors[index], details))
            elif batch_error:
                rows.append(_error_row(path, batch_error, details))
            else:
                row = next(ok)
                score = row["score"]
                if math.isfinite(score):  # type: ignore[arg-type]
                    rows.append({"path": path, **row, "status": "ok", "error": ""})
                else:
                    reason = f"the model produced a non-finite score ({score})"
                    rows.append(_error_row(path, reason, details))
        write(rows)
        summary.scored += sum(row["status"] == "ok" for row in rows)
        summary.failed += sum(row["status"] == "error" for row in rows)
        if len(rows) > told:
            tell(len(rows) - told)  # the files that failed to decode or to score
    return summary


def images_per_call(model: GenzIQA) -> int:
    """How many images fill one U-Net call (its rows are image x timestep x prompt): scoring
    parts of this size runs the same calls as scoring the whole batch at once."""
    rows_per_image = len(model.config.scoring.timesteps) * model.prompts.num_prompts
    return max(1, model.unet_batch_size // rows_per_image)


def _score_batch(model: GenzIQA, pixels: torch.Tensor, details: bool) -> list[Row]:
    """Images in [0, 1] -> per image ``{"score"}`` (+ the detail columns), as
    ``GenzIQA.score`` computes it (the same forward pass, float64 scores)."""
    with torch.no_grad():
        output = model(prepare_images(pixels, model.resolution))
    scores = output.score.double().cpu().tolist()
    if not details:
        return [{"score": score} for score in scores]
    layer = output.layer_scores.double().cpu().tolist()
    attention = output.attention_scores.double().cpu().tolist()
    contrast = output.contrast.double().cpu().tolist()
    return [
        {"score": s, "layer_scores": a, "attention_scores": b, "contrast": c}
        for s, a, b, c in zip(scores, layer, attention, contrast, strict=True)
    ]


def _error_row(path: str, reason: str, details: bool = False) -> Row:
    row: Row = {"path": path, "score": float("nan"), "status": "error", "error": reason}
    if details:
        row.update(layer_scores=None, attention_scores=None, contrast=None)
    return row
