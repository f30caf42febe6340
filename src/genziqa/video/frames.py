"""Which decoded frames a video contributes: the index rules, with no decoding in here.

Indices always count DECODED frames (0 = the first frame the decoder outputs, in display
order), never timestamps, so the rules hold for variable frame rates and whatever frame
count a container header claims. Two samplers, kept apart as in the reference code
(VIDEO.md 1.2 and 2.2):

- :func:`sample_indices`: GenzVQA's K frames for the diffusion branch, ``floor(linspace(0,
  N - 1, K))``, the first and the last decoded frame included. With fewer frames than K the
  same rule repeats indices (N=3, K=8 -> 0 0 0 0 1 1 1 2), which is what the reference does.
- :func:`motion_clips`: SimpleVQA's SlowFast clips, one clip of 32 consecutive frames per
  second of video, plus the slow pathway's 8 of those 32 (:func:`slow_pathway_indices`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "clip_rate",
    "motion_clips",
    "needed_indices",
    "sample_indices",
    "slow_pathway_indices",
    "to_chw_tensor",
]

ClipMode = Literal["start", "mid"]


def sample_indices(num_frames: int, k: int) -> list[int]:
    """GenzVQA's frame choice: ``np.linspace(0, num_frames - 1, k).astype(int)``.

    Computed with numpy exactly as the reference writes it, so float rounding (e.g. a value
    that lands at 33.999999) truncates the same way. Fewer frames than ``k`` repeat indices.
    """
    _check_count("num_frames", num_frames)
    _check_count("k", k)
    return [int(i) for i in np.linspace(0, num_frames - 1, k).astype(int)]


def clip_rate(fps: float | None) -> int:
    """Frames per motion clip step: the reference's ``int(round(fps))`` (Python rounding).

    Raises ValueError for an unknown frame rate or one that rounds to 0.
    """
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"the frame rate is unknown ({fps!r}); motion clips need one")
    rate = round(float(fps))
    if rate < 1:
        raise ValueError(f"a frame rate of {fps} fps rounds to 0 frames per second")
    return rate


def motion_clips(
    num_frames: int,
    fps: float | None,
    *,
    clip_frames: int = 32,
    min_clips: int = 8,
    max_clips: int | None = None,
    mode: ClipMode = "start",
) -> list[tuple[int, ...]]:
    """The decoded-frame indices of each SlowFast clip, one clip per second of video.

    With ``rate = clip_rate(fps)`` and ``n = num_frames // rate`` whole seconds:

    - ``mode="start"`` (SimpleVQA, the default): clip i is the ``clip_frames`` consecutive
      frames from ``i * rate``; indices past the end repeat the last frame of the video. At
      under 32 fps a clip therefore reaches into the next second; the frames of a last
      partial second are used only that way.
    - ``mode="mid"`` (MinimalisticVQA, sample rate 1): clip i is the ``clip_frames`` frames
      centred in second i, ``[i*rate + rate//2 - clip_frames//2, ...)``; when a second has
      fewer frames than that, its frames followed by repeats of its last frame.

    Then, as the reference does, clips are padded up to ``min_clips`` by repeating the last
    clip (8 for KoNViD-1k and LSVQ, 20 for YouTube-UGC in SimpleVQA). ``max_clips`` keeps only
    the first clips (SimpleVQA's training reads the first 8); None keeps all.

    Our choice where the reference has none: a video shorter than one second (n = 0; the
    reference crashes) gives one clip built from all its frames by the same rules.
    """
    _check_count("num_frames", num_frames)
    _check_count("clip_frames", clip_frames)
    if isinstance(min_clips, bool) or not isinstance(min_clips, int) or min_clips < 0:
        raise ValueError(f"min_clips must be an int >= 0, got {min_clips!r}")
    if max_clips is not None:
        _check_count("max_clips", max_clips)
        if max_clips < min_clips:
            raise ValueError(f"max_clips ({max_clips}) is smaller than min_clips ({min_clips})")
    if mode not in ("start", "mid"):
        raise ValueError(f"mode must be 'start' or 'mid', got {mode!r}")
    rate = clip_rate(fps)
    seconds = num_frames // rate
    if max_clips is not None:
        seconds = min(seconds, max_clips)
    clips: list[tuple[int, ...]] = []
    for i in range(max(seconds, 1)):
        if mode == "start":
            first, available = i * rate, num_frames - i * rate
        else:
            first, available = i * rate, rate if seconds else num_frames
        if mode == "mid" and clip_frames < available:
            first += available // 2 - clip_frames // 2
            available = clip_frames
        clips.append(tuple(first + min(j, available - 1) for j in range(clip_frames)))
    clips.extend([clips[-1]] * (min_clips - len(clips)))
    return clips


def slow_pathway_indices(clip_frames: int = 32, alpha: int = 4) -> list[int]:
    """Positions in a clip that feed the slow pathway: ``linspace(0, T-1, T // alpha).long()``.

    Computed with torch as the reference does; for 32 frames: 0 4 8 13 17 22 26 31 (not an
    exact stride of 4).
    """
    _check_count("clip_frames", clip_frames)
    _check_count("alpha", alpha)
    if clip_frames // alpha < 1:
        raise ValueError(f"clip_frames ({clip_frames}) must be at least alpha ({alpha})")
    import torch

    return torch.linspace(0, clip_frames - 1, clip_frames // alpha).long().tolist()


def needed_indices(*groups: Iterable[int]) -> list[int]:
    """The sorted distinct indices of several selections: what one decode pass must keep."""
    return sorted({int(i) for group in groups for i in group})


def to_chw_tensor(frames: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 RGB frames (n, H, W, 3) -> a uint8 tensor (n, 3, H, W), the image model's layout."""
    array = np.stack(list(frames)) if not isinstance(frames, np.ndarray) else frames
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"expected uint8 RGB frames shaped (n, H, W, 3), got {array.dtype} {array.shape}"
        )
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class MotionRecipe:
    """How clips are cut and prepared (defaults: SimpleVQA's recipe, VIDEO.md 2.2).

    ``min_clips`` pads short videos by repeating the last clip (SimpleVQA: 8 for KoNViD-1k
    and LSVQ, 20 for YouTube-UGC); ``max_clips`` keeps only the first clips (None = all);
    ``mode`` is "start" (SimpleVQA) or "mid" (MinimalisticVQA's centred clips).
    """

    clip_frames: int = 32
    size: int = 224
    mean: float = 0.45
    std: float = 0.225
    min_clips: int = 8
    max_clips: int | None = None
    mode: ClipMode = "start"

    def __post_init__(self) -> None:
        if self.clip_frames < 4 or self.clip_frames % 4:
            raise ValueError(f"clip_frames must be a multiple of 4, got {self.clip_frames}")
        if self.size < 32 or self.size % 32:
            raise ValueError(f"size must be a multiple of 32, got {self.size}")
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std}")
        motion_clips(
            1,
            1.0,
            clip_frames=self.clip_frames,
            min_clips=self.min_clips,
            max_clips=self.max_clips,
            mode=self.mode,
        )

    def clips(self, num_frames: int, fps: float | None) -> list[tuple[int, ...]]:
        """The decoded-frame indices of each clip for a video of ``num_frames`` at ``fps``."""
        return motion_clips(
            num_frames,
            fps,
            clip_frames=self.clip_frames,
            min_clips=self.min_clips,
            max_clips=self.max_clips,
            mode=self.mode,
        )
