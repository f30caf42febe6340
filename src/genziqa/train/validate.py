"""Validation during training: score every validation set, metrics per set.

The validation data are scored at the fixed scoring timesteps (the model in eval mode);
the best checkpoint is chosen by the mean SRCC over the sets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..evaluation.metrics import evaluate_predictions
from .config import TrainConfig
from .data import LabelledImages, Split, collate_items

if TYPE_CHECKING:
    from accelerate import Accelerator

    from ..model import GenzIQA
    from ..video.model import GenzVQA
    from .task import ImageTask
    from .video_data import LabelledVideos
    from .video_task import VideoTask


@torch.no_grad()
def validate(
    task: ImageTask | VideoTask,
    model_core: GenzIQA | GenzVQA,
    val_data: list[tuple[Split, LabelledImages | LabelledVideos]],
    config: TrainConfig,
    accelerator: Accelerator,
    log: Callable[[str], None] | None,
) -> dict[str, dict]:
    """Score every validation set at the fixed scoring timesteps; metrics per set.

    With several processes each scores every N-th image and the predictions are gathered, so
    every process gets the same metrics. A set with fewer than 3 scorable images is skipped.
    """
    from accelerate.utils import gather_object

    was_training = model_core.training
    model_core.eval()
    results = {}
    try:
        for split, data in val_data:
            mine = list(range(accelerator.process_index, len(data), accelerator.num_processes))
            loader = DataLoader(
                data,
                batch_size=config.val_batch_size,
                sampler=mine,
                num_workers=task.num_workers,
                collate_fn=collate_items,
            )
            pairs: list[tuple[float, float]] = []
            for items in loader:
                latents, batch_labels = task.batch(model_core, items, lambda _: None)
                data.remember(items)
                if latents is None:
                    continue
                scores = task.predict(model_core, latents).double().cpu().tolist()
                pairs.extend(zip(scores, batch_labels.double().tolist(), strict=True))
            if accelerator.num_processes > 1:
                pairs = gather_object(pairs)
            if len(pairs) < 3:
                if log is not None:
                    log(f"validation: {split.name} skipped, {len(pairs)} scorable image(s)")
                continue
            predictions, labels = np.array(pairs).T
            results[split.name] = evaluate_predictions(predictions, labels, split.lower_better)
    finally:
        model_core.train(was_training)
    return results


def mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def mean_srcc(metrics: dict[str, dict]) -> float | None:
    return mean_or_none([m["srcc"] for m in metrics.values()])
