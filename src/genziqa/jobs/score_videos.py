"""Score many video files: decoding (and motion features) in DataLoader workers, batches of
videos through GenzVQA, rows written as each batch finishes.

Each video is decoded once (``genziqa.video.inputs.read_video``): its K frames at the model's
size and, when the model has a temporal modulator, its motion features (SlowFast in the same
pass, a feature cache, or precomputed ``.npy`` files). Bad files never stop the run: every
problem (corrupt, truncated, no video stream, audio only, not a video, too many pixels, too
small, fewer frames than K with ``short_videos="error"``, unknown frame rate for motion clips,
missing or bad feature files) becomes an error row with its one-line reason. The frames of a
batch's videos share the U-Net calls; a score does not depend on the batch.

Which files are videos: :func:`split_media` (by extension; a name that is both an image and
a video extension, such as ``.gif``, stays an image, as genziqa has always scored it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset

from ..io.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS
from ..io.video import VIDEO_EXTENSIONS
from .score_files import ScoreSummary, default_workers

if TYPE_CHECKING:
    from ..video.inputs import MotionSource
    from ..video.model import GenzVQA

Row = dict[str, object]

MEDIA_EXTENSIONS: frozenset[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
"""What ``genziqa score`` picks up in folders: images and videos."""


def is_video(path: str | Path) -> bool:
    """Whether a file is scored as a video: a video extension that is not an image one."""
    suffix = Path(path).suffix.lower()
    return suffix in VIDEO_EXTENSIONS and suffix not in IMAGE_EXTENSIONS


def split_media(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(images, videos), each in the given order."""
    videos = [p for p in paths if is_video(p)]
    chosen = set(videos)
    return [p for p in paths if p not in chosen], videos


class VideoFiles(Dataset):
    """Video files -> (index, frames uint8 (K, 3, R, R), slow, fast, error reason); empty
    tensors and a reason for a file that cannot be used."""

    def __init__(
        self,
        paths: Sequence[Path],
        frames: int,
        resolution: int,
        *,
        motion: MotionSource | None = None,
        short: str = "repeat",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.paths = list(paths)
        self.frames = frames
        self.resolution = resolution
        self.motion = motion
        self.short = short
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        from ..io.features import FeatureFileError
        from ..io.video import VideoError
        from ..video.inputs import read_video
        from ..video.motion import CheckpointError

        empty = torch.empty(0)
        try:
            video = read_video(
                self.paths[index],
                self.frames,
                self.resolution,
                motion=self.motion,
                short=self.short,  # type: ignore[arg-type]
                max_pixels=self.max_pixels,
            )
        except (VideoError, FeatureFileError, CheckpointError) as error:
            return index, empty, empty, empty, error.reason
        except RuntimeError as error:  # e.g. out of memory in SlowFast: report, go on
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            return index, empty, empty, empty, f"motion features failed: {first}"
        slow = video.slow if video.slow is not None else empty
        fast = video.fast if video.fast is not None else empty
        return index, video.frames, slow, fast, ""


def _collate(items):
    good = [item for item in items if not item[4]]
    return {
        "indices": [item[0] for item in items],
        "errors": {item[0]: item[4] for item in items if item[4]},
        "frames": torch.stack([item[1] for item in good]) if good else torch.empty(0),
        "slow": [item[2] for item in good],
        "fast": [item[3] for item in good],
    }


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def score_videos(
    model: GenzVQA,
    paths: Sequence[Path],
    write: Callable[[list[Row]], None],
    *,
    motion: MotionSource | None = None,
    batch_size: int = 2,
    num_workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    on_progress: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Score video ``paths`` in batches of ``batch_size`` videos; call ``write(rows)`` once
    per finished batch. Rows: ``{"path", "score", "status", "error", "media": "video"}``.

    ``motion`` is needed when the model has a temporal modulator (``model.config.
    needs_motion``). Decoding workers default to up to 4 (0 when motion features are computed
    on a GPU: the network stays in this process).
    """
    if model.config.needs_motion and motion is None:
        raise ValueError("this video model needs motion features: pass motion=")
    workers = default_workers() if num_workers is None else num_workers
    network = getattr(motion, "model", None)
    if network is not None and next(network.parameters()).device.type != "cpu":
        workers = 0
    dataset = VideoFiles(
        paths,
        model.config.frames,
        model.resolution,
        motion=motion if model.config.needs_motion else None,
        short=model.config.short_videos,
        max_pixels=max_pixels,
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init if workers else None,
    )
    summary = ScoreSummary()
    model.eval()
    for batch in loader:
        scores: list[float] = []
        batch_error = ""
        if batch["frames"].numel():
            try:
                frames = batch["frames"].to(model.device).float().div_(255.0)
                features = (
                    list(zip(batch["slow"], batch["fast"], strict=True))
                    if model.config.needs_motion
                    else None
                )
                scores = model.score(frames, features, batch_size=len(frames)).tolist()
            except (RuntimeError, ValueError) as error:
                batch_error = f"scoring failed: {str(error).strip().splitlines()[0]}"
        rows: list[Row] = []
        ok = iter(scores)
        for index in batch["indices"]:
            path = str(paths[index])
            if index in batch["errors"]:
                rows.append(_error_row(path, batch["errors"][index]))
            elif batch_error:
                rows.append(_error_row(path, batch_error))
            else:
                score = next(ok)
                if math.isfinite(score):
                    rows.append(
                        {
                            "path": path,
                            "score": score,
                            "status": "ok",
                            "error": "",
                            "media": "video",
                        }
                    )
                else:
                    rows.append(
                        _error_row(path, f"the model produced a non-finite score ({score})")
                    )
        write(rows)
        summary.scored += sum(row["status"] == "ok" for row in rows)
        summary.failed += sum(row["status"] == "error" for row in rows)
        if on_progress is not None:
            on_progress(len(rows))
    return summary


def _error_row(path: str, reason: str) -> Row:
    return {
        "path": path,
        "score": float("nan"),
        "status": "error",
        "error": reason,
        "media": "video",
    }


__all__ = [
    "MEDIA_EXTENSIONS",
    "VideoFiles",
    "is_video",
    "score_videos",
    "split_media",
]
