"""The training run's configuration: the only place training defaults live.

``TrainConfig`` is a strict frozen dataclass saved as ``train_config.json`` in the run folder.
``build_train_config`` makes one the way ``genziqa train`` does: a JSON file (``--config``),
then dotted ``key=value`` settings (``--set model.prompts.n_ctx=8``), then the everyday
flags, each through the same strict builder, so a typo is an error listing the valid keys.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import GenzIQAConfig, build_dataclass, replace_fields, to_jsonable
from ..video.config import VIDEO_TIMESTEPS, GenzVQAConfig, ModulatorConfig
from ..video.frames import MotionRecipe

EPOCHS = {"image": 10, "video": 6}
"""The recipe's epochs when ``epochs`` is not given: GenzIQA 10 (METHOD.md), GenzVQA 6
(VIDEO.md 1.8, ``--num_train_epochs 6``)."""


class TrainSetupError(ValueError):
    """The run cannot start as configured (a usage problem, not a bug): said in one line."""


@dataclass(frozen=True)
class VideoTrainConfig:
    """GenzVQA training (used only when the training data are videos; VIDEO.md 1.2-1.8).

    The video model around the image model ``TrainConfig.model``: ``train_frames`` frames
    per video in training (12 in the reference), ``frames`` when validating and scoring (8),
    the scoring ``timesteps`` (9, 34, 59, 84), ``short_videos``, the temporal ``modulator``
    and the SlowFast clip ``motion`` recipe (the fields of ``genziqa.video.GenzVQAConfig``).
    Where motion features come from: ``motion_features`` (a folder with ``slow/`` and
    ``fast/`` precomputed ``.npy`` files, the reference's layout) or SlowFast R50 weights
    ``slowfast`` (converted by ``genziqa convert-slowfast``; None = the default place), its
    features computed once per video and kept in ``motion_cache`` ("auto" = the genziqa
    cache, null = not kept).
    """

    frames: int = 8
    train_frames: int = 12
    timesteps: tuple[int, ...] = VIDEO_TIMESTEPS
    short_videos: Literal["repeat", "error"] = "repeat"
    modulator: ModulatorConfig | None = field(default_factory=ModulatorConfig)
    motion: MotionRecipe = field(default_factory=MotionRecipe)
    motion_features: str | None = None
    slowfast: str | None = None
    motion_cache: str | None = "auto"

    def model_config(self, image: GenzIQAConfig) -> GenzVQAConfig:
        """The GenzVQA config this run trains, with ``image`` scoring every frame."""
        return GenzVQAConfig(
            image=image,
            frames=self.frames,
            train_frames=self.train_frames,
            timesteps=tuple(self.timesteps),
            short_videos=self.short_videos,
            modulator=self.modulator,
            motion=self.motion,
        )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; saved as ``train_config.json`` in the run."""

    train: tuple[str, ...]
    out: str
    val: tuple[str, ...] = ()
    model: GenzIQAConfig = field(default_factory=GenzIQAConfig)
    video: VideoTrainConfig = field(default_factory=VideoTrainConfig)
    train_split: Literal["train", "all"] = "train"
    split_seed: int = 0
    epochs: int | None = None  # None: the recipe's, EPOCHS[media] (10 images, 6 videos)
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    target: Literal["mos", "unit"] = "mos"
    loss: Literal["mse", "plcc"] = "mse"
    flips: bool = True
    seed: int = 0
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    latent_cache: str | None = "auto"
    num_workers: int = 2
    log_every: int = 10
    save_every: int = 0
    max_steps: int | None = None
    val_batch_size: int = 8
    val_every: int = 1
    tensorboard: bool = False
    cpu: bool = False

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError("at least one training dataset (NAME=ROOT) is needed")
        for name in ("epochs", "batch_size", "val_batch_size", "log_every", "val_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError("lr and grad_clip must be > 0")
        if self.train_split == "all" and not self.val:
            raise ValueError(
                "train_split 'all' trains on every image, so validation needs other data: "
                "give --val NAME=ROOT"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    def for_media(self, media: str) -> TrainConfig:
        """This config with the recipe's epochs for ``media`` when none were given."""
        if self.epochs is not None:
            return self
        return dataclasses.replace(self, epochs=EPOCHS[media])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return build_dataclass(cls, data, "train config")


# Fields a resumed run may change (they do not change the weights); anything else must match.
RESUMABLE_CHANGES = (
    "epochs",
    "max_steps",
    "num_workers",
    "log_every",
    "tensorboard",
    "val_every",
    "save_every",
    "val_batch_size",
    "latent_cache",
    "out",
)


def default_of(name: str) -> Any:
    """A TrainConfig field's default (for help texts: defaults are never copied)."""
    spec = {f.name: f for f in dataclasses.fields(TrainConfig)}[name]
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    raise KeyError(f"TrainConfig.{name} has no default")


def parse_setting(text: str) -> tuple[str, Any]:
    """``"key=value"`` -> (key, value): the value as JSON when it parses (numbers, true/false,
    null, lists), else the plain string (``loss=plcc``, ``model.backbone.source=sd15``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise TrainSetupError(f"--set expects KEY=VALUE (e.g. lr=3e-4), got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def build_train_config(
    base: str | Path | None = None,
    settings: list[str] | tuple[str, ...] = (),
    **flags: Any,
) -> TrainConfig:
    """A TrainConfig from a JSON file (``base``), then ``settings`` ("key=value", dotted keys
    at any depth), then ``flags`` (dotted keys too; ``None`` means not given).

    Without a file, ``train`` and ``out`` must come from the settings or flags.
    """
    data: dict[str, Any] = {}
    if base is not None:
        path = Path(base)
        try:
            data = json.loads(path.read_text())
        except OSError as error:
            raise TrainSetupError(f"--config {path}: {error.strerror or error}") from None
        except json.JSONDecodeError as error:
            raise TrainSetupError(f"--config {path}: not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise TrainSetupError(f"--config {path}: expected a JSON object")
    changes = dict(parse_setting(s) for s in settings)
    changes.update({k: v for k, v in flags.items() if v is not None})
    top = {k: changes.pop(k) for k in ("train", "out") if k in changes}
    data = {**data, **to_jsonable(top)}
    missing = [name for name in ("train", "out") if name not in data]
    if missing:
        raise TrainSetupError(
            f"training needs {' and '.join(missing)}: give --train NAME=ROOT and --out FOLDER "
            f"(or put them in the --config file)"
        )
    try:
        config = TrainConfig.from_dict(data)
        return replace_fields(config, changes, "train config") if changes else config
    except ValueError as error:
        raise TrainSetupError(str(error)) from None
