"""A video file -> what GenzVQA scores: K frames at the model's size and motion features.

:func:`read_video` decodes the file ONCE (:func:`genziqa.io.video.decode_into`): a
``FrameCollector`` keeps the K frames of ``floor(linspace(0, N - 1, K))`` over the N decoded
frames, resized to R x R with the image model's rule (Pillow bicubic), and, when motion
features are not available already, a ``MotionFeatureSink`` computes SlowFast features from
the same pass. Where motion features come from is a :class:`MotionSource`:

- :class:`SlowFastMotion`: computed with SlowFast R50 in the decoding pass, stored in (and
  read back from) a :class:`genziqa.io.features.MotionFeatureCache` keyed by the file's bytes,
  the weights and the recipe;
- :class:`PrecomputedMotion`: ``.npy`` files in the reference's layout
  (``<DIR>/slow/<name>.npy``, ``<DIR>/fast/<name>.npy``), found by the video's path: the
  longest trailing part of it that has both files (``yfcc-batch1/725`` before ``725``);
- none: the frame-mean and zero-shot modes need no motion features.

A video with fewer decoded frames than K repeats frames by the same rule (``short="repeat"``,
as the reference does; ``VideoInput.repeated`` says so) or is refused (``short="error"``).
Every problem with a file raises :class:`genziqa.io.video.VideoError` or
:class:`genziqa.io.features.FeatureFileError`, one line each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch

from .frames import sample_indices, to_chw_tensor
from .motion import MotionFeatureSink, MotionRecipe, SlowFastR50, feature_cache_key

if TYPE_CHECKING:
    from ..io.features import MotionFeatureCache, NpyFeatureFolders
    from ..io.video import FrameSink, VideoInfo

__all__ = [
    "MotionJob",
    "MotionSource",
    "PrecomputedMotion",
    "SlowFastMotion",
    "VideoInput",
    "read_video",
]


@dataclass
class VideoInput:
    """One decoded video: ``frames`` uint8 (K, 3, R, R), motion features ``slow`` (N, 2048)
    and ``fast`` (N, 256) float32 (None when not asked for), the decoded frame count, and
    whether frames were repeated because the video has fewer than K."""

    path: Path
    frames: torch.Tensor
    slow: torch.Tensor | None
    fast: torch.Tensor | None
    num_frames: int
    repeated: bool


@dataclass
class MotionJob:
    """One video's motion features: ready, or a sink to run in the decoding pass."""

    features: tuple[torch.Tensor, torch.Tensor] | None = None
    sink: MotionFeatureSink | None = None
    store: Callable[[torch.Tensor, torch.Tensor], None] | None = None

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.features is None:
            assert self.sink is not None
            self.features = self.sink.result()
            if self.store is not None:
                self.store(*self.features)
        return self.features


class MotionSource(Protocol):
    """Where a video's motion features come from (module docstring)."""

    def prepare(self, path: Path) -> MotionJob: ...


class SlowFastMotion:
    """Motion features computed by SlowFast R50 in the decoding pass, cached when ``cache``.

    ``recipe`` cuts the clips (SimpleVQA's by default), ``batch_size`` clips go through the
    network at a time (a setting of the cache key: features agree across batch sizes only to
    ~1e-7), ``autorotate`` must match the decoding's.
    """

    def __init__(
        self,
        model: SlowFastR50,
        recipe: MotionRecipe | None = None,
        *,
        cache: MotionFeatureCache | None = None,
        batch_size: int = 1,
        autorotate: bool = True,
    ) -> None:
        self.model = model
        self.recipe = recipe or MotionRecipe()
        self.cache = cache
        self.batch_size = batch_size
        self.autorotate = autorotate

    def prepare(self, path: Path) -> MotionJob:
        store = None
        if self.cache is not None:
            cache = self.cache
            key = feature_cache_key(
                cache,
                path,
                self.model,
                self.recipe,
                autorotate=self.autorotate,
                batch_size=self.batch_size,
            )
            stored = cache.get(key)
            if stored is not None:
                return MotionJob(features=stored)

            def store(slow: torch.Tensor, fast: torch.Tensor) -> None:
                cache.put(key, slow, fast, source=str(path))

        sink = MotionFeatureSink(self.model, self.recipe, batch_size=self.batch_size)
        return MotionJob(sink=sink, store=store)


class PrecomputedMotion:
    """Features precomputed in the reference's layout under one folder: ``<root>/slow`` and
    ``<root>/fast`` each holding ``<name>.npy``; ``name`` is found from the video's path (the
    longest trailing part with both files, without the video extension)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        from ..io.features import FeatureFileError, NpyFeatureFolders

        root = Path(root).expanduser()
        if not root.is_dir():
            raise FeatureFileError(root, "the motion feature folder does not exist")
        self.root = root
        self.folders: NpyFeatureFolders = NpyFeatureFolders(root / "slow", root / "fast")

    def name_for(self, path: Path) -> str:
        """The feature name of a video: the longest trailing part of its path whose slow and
        fast files both exist; FeatureFileError when there is none."""
        from ..io.features import FeatureFileError

        parts = Path(path).parts
        for start in range(1 if Path(path).is_absolute() else 0, len(parts)):
            name = Path(*parts[start:]).as_posix()
            slow, fast = self.folders.paths(name)
            if slow.is_file() and fast.is_file():
                return name
        slow, fast = self.folders.paths(parts[-1])
        raise FeatureFileError(
            path,
            f"no precomputed motion features: expected {slow} and {fast} (or the same under "
            "the video's sub-folders)",
        )

    def prepare(self, path: Path) -> MotionJob:
        return MotionJob(features=self.folders.load(self.name_for(path)))


class _Frames:
    """The K-frame sink: ``floor(linspace(0, N - 1, K))``, short videos per ``short``."""

    def __init__(self, k: int, size: int, short: str) -> None:
        from ..io.video import FrameCollector

        if short not in ("repeat", "error"):
            raise ValueError(f"short must be 'repeat' or 'error', got {short!r}")
        sample_indices(1, k)  # validates k before any decoding
        self.k, self.short = k, short
        self.collector = FrameCollector(self._rule, size=size, resample="bicubic")

    def _rule(self, info: VideoInfo) -> list[int]:
        from ..io.video import VideoError

        assert info.num_frames is not None
        if self.short == "error" and info.num_frames < self.k:
            raise VideoError(
                info.path,
                f"video has {info.num_frames} decoded frames, fewer than the {self.k} to sample "
                "(short_videos='repeat' repeats frames instead)",
            )
        return sample_indices(info.num_frames, self.k)


def read_video(
    path: str | os.PathLike[str],
    k: int,
    size: int,
    *,
    motion: MotionSource | None = None,
    short: Literal["repeat", "error"] = "repeat",
    **decode_options: Any,
) -> VideoInput:
    """Decode a video file once into its K frames at ``size`` and, with ``motion``, its motion
    features (module docstring). ``decode_options`` go to ``decode_into`` (``max_pixels``,
    ``autorotate``, ``threads``, ``allow_truncated``). Raises VideoError / FeatureFileError.
    """
    from ..io.video import decode_into

    path = Path(path)
    frames = _Frames(k, size, short)
    job = motion.prepare(path) if motion is not None else None
    sinks: list[FrameSink] = [frames.collector]
    if job is not None and job.sink is not None:
        sinks.append(job.sink)
    info = decode_into(path, sinks, **decode_options)
    kept = frames.collector.frames()
    shapes = {f.shape for f in kept}
    if len(shapes) != 1:  # cannot happen with size set; a clear error if it ever does
        raise ValueError(f"{path}: frames of different shapes {sorted(shapes)}")
    slow = fast = None
    if job is not None:
        slow, fast = job.result()
    assert info.num_frames is not None
    return VideoInput(
        path=path,
        frames=to_chw_tensor(np.stack(kept)),
        slow=slow,
        fast=fast,
        num_frames=info.num_frames,
        repeated=info.num_frames < k,
    )
