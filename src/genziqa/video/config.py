"""Configuration of a GenzVQA (video) model: frozen dataclasses with a strict JSON round trip.

A GenzVQA model is a GenzIQA image model (``image``: prompts, LoRA, scoring of each frame)
plus what makes it a video model: how many frames, the video scoring timesteps, the temporal
quality modulator and the motion-feature recipe. Saved as ``genzvqa_config.json`` beside
``genzvqa_weights.safetensors`` (``genziqa.pretrained.VIDEO_CONFIG_NAME``). Unknown keys are
an error listing the valid ones, as for ``GenzIQAConfig``.

Defaults are the reference's (VIDEO.md 1.2-1.5): 8 frames when scoring, 12 when training,
timesteps (9, 34, 59, 84), 64-wide heads, keys LayerNorm -> Linear(d, 64) -> Linear(64, C_l)
from slow (2048-d) and fast (256-d) SlowFast features cut by SimpleVQA's recipe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import (
    GenzIQAConfig,
    build_dataclass,
    replace_fields,
    spaced_timesteps,
    to_jsonable,
)
from .frames import MotionRecipe

SLOW_DIM, FAST_DIM = 2048, 256  # SlowFast R50 feature widths (slow and fast pathways)

VIDEO_TIMESTEPS: tuple[int, ...] = spaced_timesteps(4)
"""The reference's video scoring timesteps: (9, 34, 59, 84)."""


@dataclass(frozen=True)
class ModulatorConfig:
    """The temporal quality modulator (``genziqa.video.modulator``; VIDEO.md 1.5).

    ``head_dim``: width of the heads the query means and keys are split into (64 in the
    reference; it must divide every cross-attention layer's width). ``key_dim``: the width of
    the keys' bottleneck Linear(d, key_dim) -> Linear(key_dim, C_l) (64). ``slow_dim`` /
    ``fast_dim``: the motion feature widths (SlowFast R50: 2048 and 256).
    ``similarity_scale``: ``"reference"`` MULTIPLIES the head dot products by
    sqrt(head_dim) (the reference divides by ``64 ** -0.5``, i.e. multiplies by 8, where
    attention divides); ``"attention"`` divides by sqrt(head_dim), the usual attention scale.
    ``query_timesteps``: the query means of the ``"last"`` scoring timestep only (the
    reference keeps the last timestep's, t = 84) or the mean over ``"all"`` of them.
    """

    head_dim: int = 64
    key_dim: int = 64
    slow_dim: int = SLOW_DIM
    fast_dim: int = FAST_DIM
    similarity_scale: Literal["reference", "attention"] = "reference"
    query_timesteps: Literal["last", "all"] = "last"

    def __post_init__(self) -> None:
        for name in ("head_dim", "key_dim", "slow_dim", "fast_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"modulator.{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class GenzVQAConfig:
    """Everything that defines a GenzVQA model's scores, saved as ``genzvqa_config.json``.

    ``image``: the image model that scores every frame (its ``scoring.timesteps`` are used for
    images, e.g. in a mixed folder; videos use ``timesteps``). ``frames``: K frames sampled
    per video when scoring, ``train_frames`` when training (the sampler is
    ``floor(linspace(0, N - 1, K))`` over the decoded frames). ``short_videos``: a video with
    fewer decoded frames than K repeats frames by that same rule (``"repeat"``, what the
    reference does) or is refused (``"error"``). ``modulator``: the temporal quality
    modulator; None scores a video as the frame mean of the image model's scores (the
    zero-shot video mode, or an image model applied to frames). ``motion``: how motion
    features are computed from a file (SimpleVQA's SlowFast recipe). ``zero_shot`` marks the
    untrained baseline.
    """

    image: GenzIQAConfig = field(default_factory=GenzIQAConfig)
    frames: int = 8
    train_frames: int = 12
    timesteps: tuple[int, ...] = VIDEO_TIMESTEPS
    short_videos: Literal["repeat", "error"] = "repeat"
    modulator: ModulatorConfig | None = field(default_factory=ModulatorConfig)
    motion: MotionRecipe = field(default_factory=MotionRecipe)
    zero_shot: bool = False

    def __post_init__(self) -> None:
        for name in ("frames", "train_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not self.timesteps or any(not 0 <= t < 1000 for t in self.timesteps):
            raise ValueError(f"timesteps must be non-empty, each in [0, 1000): {self.timesteps}")
        if self.modulator is not None and self.image.calibration:
            raise ValueError(
                "image.calibration (an affine head on the image score) has no place in a model "
                "with a temporal modulator, which works on per-layer scores; turn one off"
            )

    @property
    def needs_motion(self) -> bool:
        """Whether scoring needs motion features (only the modulator uses them)."""
        return self.modulator is not None

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return to_jsonable(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenzVQAConfig:
        return build_dataclass(cls, data, "config")

    @classmethod
    def from_json_file(cls, path: str | Path) -> GenzVQAConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
        data.pop("_genziqa", None)
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GenzVQAConfig:
        """A copy with fields changed by dotted keys: ``{"frames": 12, "image.scoring.seed": 1,
        "modulator.query_timesteps": "all"}`` (see ``genziqa.config.replace_fields``)."""
        return replace_fields(self, changes)


def frame_mean_config(image: GenzIQAConfig) -> GenzVQAConfig:
    """A video config that scores each video as the frame mean of ``image``'s scores (no
    modulator, no motion features); zero-shot when the image model is."""
    return GenzVQAConfig(image=image, modulator=None, zero_shot=image.zero_shot)


def tiny_video_config() -> GenzVQAConfig:
    """An untrained GenzVQA on the tiny test backbone: 16-wide heads (the tiny layers are 64
    wide) and a cheap motion recipe (8-frame clips at 32 px): for tests and demos only."""
    from ..pretrained import tiny_config

    return GenzVQAConfig(
        image=tiny_config(),
        modulator=ModulatorConfig(head_dim=16),
        motion=MotionRecipe(clip_frames=8, size=32),
    )


def tiny_zero_shot_video_config() -> GenzVQAConfig:
    from ..pretrained import MODEL_NAMES

    return frame_mean_config(MODEL_NAMES["genziqa-tiny-zero-shot"]())


# Built-in video model names (GenzVQA.from_pretrained, `genziqa score --model`). Image model
# names are accepted too: they give the frame-mean mode (the zero-shot one for "zero-shot").
VIDEO_MODEL_NAMES: dict[str, Callable[[], GenzVQAConfig]] = {
    "genzvqa-tiny": tiny_video_config,
    "genzvqa-tiny-zero-shot": tiny_zero_shot_video_config,
}


__all__ = [
    "VIDEO_MODEL_NAMES",
    "VIDEO_TIMESTEPS",
    "GenzVQAConfig",
    "ModulatorConfig",
    "frame_mean_config",
    "tiny_video_config",
]
