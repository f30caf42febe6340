"""GenzVQA: no-reference video quality from GenzIQA's frame scores and a temporal modulator.

The video extension of GenzIQA (the extended paper; the official code's ``genzvqa_*.py``,
read line by line in VIDEO.md 1). Data path, everything per frame done by the image model's
own stages through a :class:`genziqa.GenzIQA` instance (``self.image_model``):

    video file                              inputs.py    one decode: K frames + motion features
    -> frames (B, K, 3, R, R) in [0, 1]     GenzIQA.prepare_images / images_to_latents
    -> latents (B*K, C, h, w)               (resize, CLIP normalisation, VAE posterior mean)
    -> per video: T timesteps + noise       GenzIQA.timesteps_and_noise, shared by the K frames
    -> frame rows through the U-Net         GenzIQA.score_latents (frames of several videos
                                            share fixed-shape U-Net calls), QueryMeans recorder
    -> frame_layer_scores (B, K, L)         A_l + b averaged over timesteps
    -> layer_scores (B, L)                  the mean over frames
    -> gains (B, L)                         modulator.py: query means x SlowFast keys
    -> score (B,) = mean_l gain_l * layer_score_l

Without a modulator (``config.modulator=None``) a video's score is the frame mean of the image
model's scores: the zero-shot video mode (labelled untrained) or any image model on frames.

Reference conventions reproduced: K = 8 frames when scoring (12 in training) from
``floor(linspace(0, N - 1, K))`` over the decoded frames; timesteps (9, 34, 59, 84) with fixed
seeded noise shared by every frame and video; in training one timestep and one noise tensor
per video, shared by its frames and both prompts; the query means of the last scoring
timestep; the modulator's factor (it multiplies by 8 where attention divides; see
``modulator.py``). Deliberate deviations, as for images: posterior mean instead of a VAE
sample (``image.scoring.latent="sample"`` restores a seeded sample), no random flips (the
reference flips every frame independently at caching time; ``image.scoring.test_time_flips``
does that), and batching: the reference scores one frame per U-Net call; here the frames of
several videos share calls and a video's score does not depend on the batch (tested).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..model import GenzIQA, GenzIQAOutput
from ..pretrained import (
    CONFIG_NAME,
    MODEL_NAMES,
    VIDEO_CONFIG_NAME,
    VIDEO_WEIGHTS_NAME,
    WEIGHTS_NAME,
    ModelNotFoundError,
    find_model_folder,
    read_weights,
    write_model_folder,
)
from .config import VIDEO_MODEL_NAMES, GenzVQAConfig, frame_mean_config
from .modulator import QueryMeans, TemporalModulator, block_name, modulated_score, select_timesteps

if TYPE_CHECKING:
    from ..backbone import Backbone
    from .inputs import MotionSource

VIDEO_NAMES = (VIDEO_CONFIG_NAME, VIDEO_WEIGHTS_NAME)
IMAGE_NAMES = (CONFIG_NAME, WEIGHTS_NAME)
_QUERY = "query_means"


@dataclass
class GenzVQAOutput:
    """Scores of B videos of K frames over L cross-attention layers, with every intermediate."""

    score: torch.Tensor  # (B,)
    frame_layer_scores: torch.Tensor  # (B, K, L): A_l + b per frame, averaged over timesteps
    layer_scores: torch.Tensor  # (B, L): the frame means of frame_layer_scores
    frame_scores: torch.Tensor  # (B, K): the image model's score of each frame
    similarity_slow: torch.Tensor | None  # (B, L): s_slow per layer (None without modulator)
    similarity_fast: torch.Tensor | None  # (B, L)
    gains: torch.Tensor | None  # (B, L): gamma_l
    # Layer name -> (B, P, K, C_l): the query means the modulator used (empty without one).
    query_means: dict[str, torch.Tensor] = field(default_factory=dict)
    # The image model's output for the B*K frame rows, video-major (frame k of video b is
    # row b*K + k); its ``recorded`` holds the query means of every timestep.
    frames: GenzIQAOutput | None = None


def layer_widths(image_model: GenzIQA) -> dict[str, int]:
    """Cross-attention layer name -> the width C_l of its query."""
    widths = {}
    for name in image_model.layer_names:
        to_q = image_model.unet.get_submodule(name.removesuffix(".processor")).to_q
        widths[name] = int(to_q.out_features)
    return widths


class GenzVQA(nn.Module):
    """A video quality model: a GenzIQA image model scoring K frames + a temporal modulator.

    Build one with ``GenzVQA.from_pretrained(name_or_dir)`` (a GenzVQA folder, a built-in name
    such as ``"genzvqa-tiny"``, or any image model name or folder, which gives the frame-mean
    mode), ``GenzVQA(config, backbone)``, or ``GenzVQA.from_image_model(model)``.
    ``score(videos)`` returns one number per video, higher = better; ``forward`` returns
    every intermediate with gradients.
    """

    def __init__(
        self,
        config: GenzVQAConfig,
        backbone: Backbone | None = None,
        *,
        image_model: GenzIQA | None = None,
        init_seed: int = 0,
    ) -> None:
        super().__init__()
        if (backbone is None) == (image_model is None):
            raise ValueError("pass exactly one of backbone or image_model")
        if image_model is None:
            image_model = GenzIQA(config.image, backbone, init_seed=init_seed)
        elif image_model.config.replace(**{"preprocess.resolution": None}) != config.image.replace(
            **{"preprocess.resolution": None}
        ):
            raise ValueError("image_model's config differs from config.image")
        self.image_model = image_model
        self.config = config.replace(image=image_model.config)
        self.modulator: TemporalModulator | None = None
        if config.modulator is not None:
            widths = layer_widths(image_model)
            self.modulator = TemporalModulator(
                {block_name(name): width for name, width in widths.items()},
                config.modulator,
                seed=init_seed + 1,
            )
        self._trained_names = tuple(self.trained_state_dict())
        self.train(False)

    # ----------------------------------------------------------------- construction and I/O

    @classmethod
    def from_image_model(cls, model: GenzIQA, config: GenzVQAConfig | None = None) -> GenzVQA:
        """A video model around an existing image model (shared, not copied); by default the
        frame-mean mode (no modulator; zero-shot when the image model is)."""
        config = config or frame_mean_config(model.config)
        return cls(config, image_model=model)

    @classmethod
    def from_config(
        cls,
        config: GenzVQAConfig,
        *,
        backbone: Backbone | None = None,
        local_files_only: bool | None = None,
        torch_dtype: torch.dtype | None = None,
        init_seed: int = 0,
    ) -> GenzVQA:
        """A fresh (untrained) model; loads the backbone the config names unless one is given."""
        from ..backbone import load_backbone

        if backbone is None:
            backbone = load_backbone(
                config.image.backbone, local_files_only=local_files_only, torch_dtype=torch_dtype
            )
        return cls(config, backbone, init_seed=init_seed)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        backbone: str | Backbone | None = None,
        local_files_only: bool | None = None,
        torch_dtype: torch.dtype | None = None,
        revision: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> GenzVQA:
        """Load a video model: a folder from ``save_pretrained`` (``genzvqa_config.json``), a
        hub repo holding one, a built-in name (``VIDEO_MODEL_NAMES``), or an image model's name
        or folder (frame-mean mode). ``backbone`` and ``overrides`` (dotted keys of
        ``GenzVQAConfig``, e.g. ``{"frames": 12, "image.preprocess.resolution": 384}``) act as
        in ``GenzIQA.from_pretrained``.
        """
        config, folder = load_video_config(
            name_or_path, local_files_only=local_files_only, revision=revision
        )
        if isinstance(backbone, str):
            config = config.replace(
                **{"image.backbone.source": backbone, "image.backbone.revision": None}
            )
        if overrides:
            config = config.replace(**overrides)
        weights = None
        if folder is not None and (folder / VIDEO_CONFIG_NAME).is_file():
            weights = read_weights(folder, VIDEO_NAMES)
        elif folder is not None:  # an image model folder: its trained tensors, prefixed
            image_weights = read_weights(folder)
            weights = {f"image_model.{k}": v for k, v in image_weights.items()}
        model = cls.from_config(
            config,
            backbone=None if isinstance(backbone, str) else backbone,
            local_files_only=local_files_only,
            torch_dtype=torch_dtype,
        )
        if weights is not None:
            model.load_trained_state_dict(weights)
        return model

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the config (JSON) and the trained tensors only: ctx, LoRA, modulator."""
        if self.image_model.lora_merged:
            raise RuntimeError(
                "cannot save a model whose LoRA was merged into the U-Net for fast scoring; "
                "save it before merging"
            )
        return write_model_folder(
            folder, self.config, self.trained_state_dict(), __version__, names=VIDEO_NAMES
        )

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors training changes: ``image_model.prompts.ctx``, ``image_model.unet...lora``
        and ``modulator.{slow,fast,gates}.<block>...``."""
        return {name: p for name, p in self.named_parameters() if p.requires_grad}

    def load_trained_state_dict(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Copy trained tensors in, strictly: every key present, no extra key, same shapes."""
        image = {
            k.removeprefix("image_model."): v
            for k, v in tensors.items()
            if k.startswith("image_model.")
        }
        modulator = {k: v for k, v in tensors.items() if k.startswith("modulator.")}
        others = sorted(set(tensors) - {f"image_model.{k}" for k in image} - set(modulator))
        if others:
            raise ValueError(
                f"trained weights do not match this video model: unexpected {others[:4]}"
            )
        own = {k: p for k, p in self.named_parameters() if k.startswith("modulator.")}
        missing, unexpected = sorted(set(own) - set(modulator)), sorted(set(modulator) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"modulator weights do not match this model's config: missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}"
            )
        self.image_model.load_trained_state_dict(image)
        with torch.no_grad():
            for name, parameter in own.items():
                value = modulator[name]
                if value.shape != parameter.shape:
                    raise ValueError(
                        f"trained tensor {name}: shape {tuple(value.shape)} does not match the "
                        f"model's {tuple(parameter.shape)} (another backbone or head width?)"
                    )
                parameter.copy_(value.to(parameter.dtype))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The explicit list the optimizer gets: context, LoRA and modulator parameters."""
        return list(self.trained_state_dict().values())

    def fingerprint(self) -> str:
        """A hash of the config and the trained tensors (merging LoRA does not change it)."""
        digest = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        digest.update(self.image_model.fingerprint().encode())
        if self.modulator is not None:
            for name, tensor in sorted(self.modulator.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().to("cpu", torch.float32).numpy().tobytes())
        return digest.hexdigest()

    def set_scoring(
        self,
        timesteps: tuple[int, ...] | None = None,
        resolution: int | None = None,
        frames: int | None = None,
    ) -> GenzVQA:
        """Change the video timesteps, the input size (shared with the image model) or the
        number of frames K of a built model (speed presets, ``--frames``)."""
        if resolution is not None:
            self.image_model.set_scoring(resolution=resolution)
        changes: dict[str, Any] = {"image": self.image_model.config}
        if timesteps is not None:
            changes["timesteps"] = tuple(timesteps)
        if frames is not None:
            changes["frames"] = frames
        self.config = self.config.replace(**changes)
        return self

    @property
    def device(self) -> torch.device:
        return self.image_model.device

    @property
    def dtype(self) -> torch.dtype:
        return self.image_model.dtype

    @property
    def resolution(self) -> int:
        return self.image_model.resolution

    @property
    def num_frames(self) -> int:
        """K: ``config.train_frames`` in train mode, ``config.frames`` when scoring."""
        return self.config.train_frames if self.training else self.config.frames

    @property
    def layer_names(self) -> list[str]:
        return self.image_model.layer_names

    # ------------------------------------------------------------------------- data path

    def forward(
        self,
        frames: torch.Tensor | None = None,
        slow: torch.Tensor | Sequence[torch.Tensor] | None = None,
        fast: torch.Tensor | Sequence[torch.Tensor] | None = None,
        timesteps: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        latents: torch.Tensor | None = None,
    ) -> GenzVQAOutput:
        """Score B videos: ``frames`` (B, K, 3, H, W) in [0, 1] (resized to R by the image
        model's rule when H, W differ) or their ``latents`` (B, K, C, h, w), with motion
        features per video, ``slow`` (N_i, 2048) and ``fast`` (N_i, 256) (lists, or tensors
        (B, N, d); N_i may differ between videos; not needed without a modulator).

        ``timesteps`` (B, T) and ``noise`` (B, T, C, h, w) are PER VIDEO, shared by its K
        frames and both prompts; they default to the fixed video timesteps with seeded noise
        in eval mode, and to one timestep and fresh noise per video in train mode.
        """
        if (frames is None) == (latents is None):
            raise ValueError("pass exactly one of frames or latents")
        image_model = self.image_model
        if latents is None:
            frames = _check_video_tensor(frames, "frames")
            batch, k = frames.shape[:2]
            pixels = image_model.prepare_images(frames.reshape(batch * k, *frames.shape[2:]))
            flat = image_model.images_to_latents(pixels)
            latents = flat.view(batch, k, *flat.shape[1:])
        else:
            latents = _check_video_tensor(latents, "latents", channels=None)
        batch, k = latents.shape[:2]
        motion = self._motion_inputs(slow, fast, batch) if self.modulator is not None else None
        latents = latents.to(self.device, torch.float32)
        timesteps, noise = image_model.timesteps_and_noise(  # per video
            latents[:, 0], timesteps, noise, scoring_timesteps=self.config.timesteps
        )
        recorders = {_QUERY: QueryMeans()} if self.modulator is not None else None
        out = image_model.score_latents(
            latents.reshape(batch * k, *latents.shape[2:]),
            timesteps.repeat_interleave(k, dim=0),  # each video's frames share them
            noise.repeat_interleave(k, dim=0),
            recorders=recorders,
        )
        layers = out.layer_scores.shape[-1]
        frame_layer = out.layer_scores.mean(dim=1).view(batch, k, layers)
        layer_scores = frame_layer.mean(dim=1)
        frame_scores = out.score.view(batch, k)
        if self.modulator is None or motion is None:
            return GenzVQAOutput(
                frame_scores.mean(dim=1), frame_layer, layer_scores, frame_scores,
                None, None, None, {}, out,
            )  # fmt: skip
        mode = self.config.modulator.query_timesteps  # type: ignore[union-attr]
        queries = {}
        for name in self.layer_names:
            chosen = select_timesteps(out.recorded[_QUERY][name], mode)  # (P, B*K, C)
            queries[name] = chosen.view(chosen.shape[0], batch, k, -1).transpose(0, 1)
        slow_s, fast_s, gains = [], [], []
        for b in range(batch):  # one video at a time: no result depends on the batch
            s, f, g = self.modulator([queries[n][b] for n in self.layer_names], *motion[b])
            slow_s.append(s)
            fast_s.append(f)
            gains.append(g)
        gains_t = torch.stack(gains)
        score = modulated_score(gains_t, layer_scores.to(gains_t.dtype))
        return GenzVQAOutput(
            score, frame_layer, layer_scores, frame_scores,
            torch.stack(slow_s), torch.stack(fast_s), gains_t, queries, out,
        )  # fmt: skip

    def _motion_inputs(
        self,
        slow: torch.Tensor | Sequence[torch.Tensor] | None,
        fast: torch.Tensor | Sequence[torch.Tensor] | None,
        batch: int,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        assert self.config.modulator is not None
        if slow is None or fast is None:
            raise ValueError(
                "this GenzVQA model has a temporal modulator: pass the motion features slow "
                "(N, 2048) and fast (N, 256) of every video (SlowFast; see genziqa.video.inputs)"
            )
        dims = {"slow": self.config.modulator.slow_dim, "fast": self.config.modulator.fast_dim}
        checked = {}
        for label, values in (("slow", slow), ("fast", fast)):
            items = list(values.unbind(0)) if isinstance(values, torch.Tensor) else list(values)
            if isinstance(values, torch.Tensor) and values.ndim != 3:
                raise ValueError(
                    f"{label} features: expected a tensor (B, N, {dims[label]}) or a list of "
                    f"(N, {dims[label]}) tensors, got shape {tuple(values.shape)}"
                )
            if len(items) != batch:
                raise ValueError(f"{label} features for {len(items)} videos, frames for {batch}")
            for i, item in enumerate(items):
                item = torch.as_tensor(item)
                if item.ndim != 2 or item.shape[1] != dims[label] or item.shape[0] < 1:
                    raise ValueError(
                        f"{label} features of video {i}: expected (N, {dims[label]}) with N >= 1, "
                        f"got {tuple(item.shape)}"
                    )
                if not torch.isfinite(item).all():
                    raise ValueError(f"{label} features of video {i} hold NaN or infinite values")
                items[i] = item.to(self.device, torch.float32)
            checked[label] = items
        return list(zip(checked["slow"], checked["fast"], strict=True))

    # --------------------------------------------------------------------------- scoring

    @torch.no_grad()
    def score(
        self,
        videos: torch.Tensor | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        features: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
        *,
        motion: MotionSource | None = None,
        batch_size: int = 4,
        **decode_options: Any,
    ) -> np.ndarray:
        """Quality scores (B,) as float64, higher = better; deterministic and batch-independent.

        ``videos``: video files (each decoded once into ``config.frames`` frames, see
        ``genziqa.video.inputs.read_video``) or sampled frames (B, K, 3, H, W) / (K, 3, H, W)
        in [0, 1]. Motion features, when the model has a modulator: ``features`` (one
        (slow, fast) pair per video) or, for files, a ``motion`` source
        (``SlowFastMotion``, ``PrecomputedMotion``). ``decode_options`` go to the decoder.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(videos, torch.Tensor):
            tensor = videos.unsqueeze(0) if videos.ndim == 4 else videos
            items = [(tensor[i], None) for i in range(tensor.shape[0])]
        else:
            paths = [videos] if isinstance(videos, (str, os.PathLike)) else list(videos)
            items = [(Path(p), None) for p in paths]
        if features is not None and len(features) != len(items):
            raise ValueError(f"features for {len(features)} videos, {len(items)} videos given")
        needs_motion = self.modulator is not None and features is None
        if needs_motion and motion is None and not isinstance(videos, torch.Tensor):
            raise ValueError(
                "this GenzVQA model has a temporal modulator: pass features=[(slow, fast), ...] "
                "or motion=SlowFastMotion(load_slowfast(...)) / PrecomputedMotion(folder)"
            )
        was_training = self.training
        self.eval()
        try:
            scores = []
            for start in range(0, len(items), batch_size):
                chunk = items[start : start + batch_size]
                pairs = None if features is None else features[start : start + batch_size]
                frames, pairs = self._load(
                    chunk, pairs, motion if needs_motion else None, decode_options
                )
                slow = fast = None
                if pairs is not None:
                    slow, fast = [p[0] for p in pairs], [p[1] for p in pairs]
                scores.append(self(frames, slow, fast).score.double().cpu())
        finally:
            self.train(was_training)
        return torch.cat(scores).numpy()

    def _load(self, chunk, pairs, motion, decode_options):
        """A batch of score() inputs -> frames (B, K, 3, R, R) in [0, 1] and (slow, fast) pairs."""
        from .inputs import read_video

        if not isinstance(chunk[0][0], Path):
            frames = torch.stack([item for item, _ in chunk])
            return frames, pairs
        loaded = [
            read_video(
                path,
                self.config.frames,
                self.resolution,
                motion=motion,
                short=self.config.short_videos,
                **decode_options,
            )
            for path, _ in chunk
        ]
        frames = torch.stack([v.frames for v in loaded]).float().div_(255.0)
        if pairs is None and motion is not None:
            pairs = [(v.slow, v.fast) for v in loaded]
        return frames, pairs

    def extra_repr(self) -> str:
        if self.config.zero_shot:
            kind = "zero-shot video baseline (untrained): frame mean of the zero-shot image scores"
        elif self.modulator is None:
            kind = "frame mean of an image model's scores (no temporal modulator)"
        else:
            kind = "GenzVQA"
        return (
            f"{kind}, frames={self.config.frames}, timesteps={list(self.config.timesteps)}, "
            f"resolution={self.resolution}"
        )


def _check_video_tensor(values: torch.Tensor, what: str, channels: int | None = 3) -> torch.Tensor:
    if not isinstance(values, torch.Tensor) or values.ndim != 5:
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        layout = "(B, K, 3, H, W)" if channels else "(B, K, C, h, w)"
        raise ValueError(f"expected {what} shaped {layout}, got {shape}")
    if channels is not None and values.shape[2] != channels:
        raise ValueError(f"expected {what} shaped (B, K, 3, H, W), got {tuple(values.shape)}")
    if values.shape[0] < 1 or values.shape[1] < 1:
        raise ValueError(f"{what}: no videos or no frames in shape {tuple(values.shape)}")
    return values


def load_video_config(
    name_or_path: str | Path,
    *,
    local_files_only: bool | None = None,
    revision: str | None = None,
) -> tuple[GenzVQAConfig, Path | None]:
    """The video config a name or folder stands for, and its folder (None for a built-in name).

    Video model names and ``genzvqa_config.json`` folders give their own config; image model
    names and ``genziqa_config.json`` folders the frame-mean config of that image model.
    """
    from ..config import GenzIQAConfig

    name = str(name_or_path)
    if name in VIDEO_MODEL_NAMES:
        return VIDEO_MODEL_NAMES[name](), None
    if name in MODEL_NAMES:
        return frame_mean_config(MODEL_NAMES[name]()), None
    path = Path(name).expanduser()
    if path.is_dir() and not (path / VIDEO_CONFIG_NAME).is_file():
        if (path / CONFIG_NAME).is_file():
            return frame_mean_config(GenzIQAConfig.from_json_file(path / CONFIG_NAME)), path
        raise ModelNotFoundError(
            f"{path} is not a model folder: no {VIDEO_CONFIG_NAME} (GenzVQA) or {CONFIG_NAME} "
            "(GenzIQA); expected the output of save_pretrained or `genziqa train`"
        )
    folder = find_model_folder(name, local_files_only, revision, (*VIDEO_NAMES, *IMAGE_NAMES))
    if (folder / VIDEO_CONFIG_NAME).is_file():
        return GenzVQAConfig.from_json_file(folder / VIDEO_CONFIG_NAME), folder
    if (folder / CONFIG_NAME).is_file():
        return frame_mean_config(GenzIQAConfig.from_json_file(folder / CONFIG_NAME)), folder
    raise ModelNotFoundError(f"model {name!r}: the hub repo holds no {VIDEO_CONFIG_NAME}")


def is_video_model(name_or_path: str | Path | None) -> bool:
    """Whether a model name or local folder is a GenzVQA model (a built-in video name or a
    folder holding ``genzvqa_config.json``); hub repos are looked up by ``from_pretrained``."""
    if name_or_path is None:
        return False
    name = str(name_or_path)
    return name in VIDEO_MODEL_NAMES or (Path(name).expanduser() / VIDEO_CONFIG_NAME).is_file()


__all__ = [
    "GenzVQA",
    "GenzVQAOutput",
    "is_video_model",
    "layer_widths",
    "load_video_config",
]
