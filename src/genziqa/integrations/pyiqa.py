"""GenzIQA as a pyiqa metric: ``pyiqa.create_metric("genziqa", pretrained_model_path=...)``.

    >>> import pyiqa
    >>> import genziqa.integrations.pyiqa  # registers "genziqa" and "genziqa-zero-shot"
    >>> metric = pyiqa.create_metric("genziqa", pretrained_model_path="path/to/model")
    >>> metric(images)          # (B, 3, H, W) in [0, 1], or an image path -> scores (B,)

The explicit import is needed: pyiqa checks its table of metric names before it loads any
plugin, so the ``pyiqa.archs`` entry point (declared in genziqa's pyproject) alone makes the
names appear only after some pyiqa registry was queried. Needs ``pip install 'genziqa[pyiqa]'``;
pyiqa's licence is non-commercial (PolyForm Noncommercial), so it stays an optional extra and
is imported only here.

Two metrics, both no-reference and higher-is-better:

- ``genziqa``: a trained model, given as ``pretrained_model_path=`` (a folder from
  ``GenzIQA.save_pretrained``, ``genziqa train`` or ``genziqa import-official``) or
  ``model=`` (such a folder, a hub repo holding one, or a built-in name). Its scores are on
  the MOS scale of its training data (the raw score is regressed onto raw MOS; no bound).
- ``genziqa-zero-shot``: the untrained baseline (hand-written prompts, no LoRA), on
  ``backbone=`` (default Stable Diffusion 2.1-base). Scores are a difference of denoising
  errors, around 0, unbounded; weak agreement with human ratings.

What pyiqa does to inputs before our arch sees them (pyiqa 0.1.16 ``InferenceModel``): a
tensor is passed on unchanged (only moved to the metric's device; without ``as_loss`` pyiqa
first asserts it is 4-D, 1 or 3 channels, in [0, 1]); a path (a ``str``) is read with Pillow
as ``Image.open(path).convert("RGB")`` and ``to_tensor``, giving (1, 3, H, W) in [0, 1] at the
file's own size. The arch then does what ``GenzIQA.score`` does with a tensor: the same
checks, the square bicubic resize (skipped when the size already matches), CLIP
normalisation. So a tensor scores exactly as ``GenzIQA.score(tensor)``, and a path exactly as
``GenzIQA.score(path)`` when the file is an RGB image at the model's resolution. For other
files the two differ by the resize (``GenzIQA.score`` resizes files with Pillow on 8-bit data,
a tensor with antialiased bicubic ``interpolate``) and by EXIF orientation, which pyiqa does
not apply; ``genziqa score`` is the front door for files. One-channel tensors are repeated to
three channels, as Pillow's ``convert("RGB")`` does.

``as_loss=True``: gradients reach the input (the model's own tensors stay frozen); inputs must
still lie in [0, 1] (clamp or squash a generator's output first). The inner model always stays
in eval mode: fixed timesteps and noise, deterministic, independent of the batch.
Nothing here goes through pyiqa's weight download; the backbone is found by genziqa's own
loader (Hugging Face cache first, ``HF_HUB_OFFLINE=1`` or ``local_files_only=True`` stay
offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

try:
    from pyiqa.default_model_configs import DEFAULT_CONFIGS
    from pyiqa.utils.registry import ARCH_REGISTRY
except ImportError:
    raise ImportError(
        "the genziqa pyiqa metric needs pyiqa: pip install 'genziqa[pyiqa]'"
    ) from None

from ..config import spaced_timesteps
from ..model import GenzIQA
from ..preprocess import prepare_images

METRIC_NAME = "genziqa"
ZERO_SHOT_METRIC_NAME = "genziqa-zero-shot"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class GenzIQAMetricError(ValueError):
    """A pyiqa metric option or input that genziqa cannot use; the message says why."""


class GenzIQAArch(nn.Module):
    """pyiqa arch around a ``GenzIQA`` model: (B, 3, H, W) in [0, 1] -> scores (B,).

    Options (``pyiqa.create_metric(name, **options)``):
    ``pretrained_model_path`` or ``model``: the trained model (folder, hub repo or built-in
    name such as ``"zero-shot"``); ``backbone``: replaces the Stable Diffusion the model names
    (a hub id, alias, diffusers folder or single file); ``timesteps``: a count (spaced as in
    ``genziqa score --timesteps``) or explicit timesteps; ``resolution``: the input size;
    ``dtype``: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``; ``batch_size``: images per
    model call; ``local_files_only``: never use the network (default: ``HF_HUB_OFFLINE``).
    """

    def __init__(
        self,
        model: str | None = None,
        pretrained_model_path: str | Path | None = None,
        backbone: str | None = None,
        timesteps: int | Sequence[int] | None = None,
        resolution: int | None = None,
        dtype: str = "fp32",
        batch_size: int = 8,
        local_files_only: bool | None = None,
    ) -> None:
        super().__init__()
        if (model is None) == (pretrained_model_path is None):
            raise GenzIQAMetricError(
                "the genziqa metric needs exactly one trained model: "
                "pyiqa.create_metric('genziqa', pretrained_model_path='path/to/model') "
                "(a folder from genziqa train or genziqa import-official), or "
                "'genziqa-zero-shot' for the untrained baseline"
                + ("" if model is None else f"; got model={model!r} and pretrained_model_path")
            )
        if dtype not in DTYPES:
            raise GenzIQAMetricError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        if batch_size < 1:
            raise GenzIQAMetricError(f"batch_size must be >= 1, got {batch_size}")
        overrides: dict = {}
        if timesteps is not None:
            overrides["scoring.timesteps"] = (
                spaced_timesteps(timesteps) if isinstance(timesteps, int) else tuple(timesteps)
            )
        if resolution is not None:
            overrides["preprocess.resolution"] = resolution
        self.model = GenzIQA.from_pretrained(
            str(pretrained_model_path if model is None else model),
            backbone=backbone,
            local_files_only=local_files_only,
            overrides=overrides or None,
        ).to(DTYPES[dtype])
        # A metric, not a trainable module: gradients go to the input only.
        self.model.requires_grad_(False)
        self.batch_size = batch_size
        self.model.eval()

    def train(self, mode: bool = True) -> GenzIQAArch:
        """The wrapped model always stays in eval mode (fixed timesteps and noise)."""
        super().train(mode)
        self.model.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (B,) of images (B, 3, H, W) or (B, 1, H, W) in [0, 1], higher = better."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise GenzIQAMetricError(f"expected images (B, 3, H, W) in [0, 1], got {shape}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        images = prepare_images(x, self.model.resolution)  # what GenzIQA.score does
        return torch.cat([self.model(batch).score for batch in images.split(self.batch_size)])


def _entry(model: str | None, score_range: str) -> dict:
    return {
        "metric_opts": {"type": GenzIQAArch.__name__, "model": model},
        "metric_mode": "NR",
        "lower_better": False,
        "score_range": score_range,
    }


def register() -> None:
    """Register the arch and the two metric names with pyiqa (idempotent).

    The ``pyiqa.archs`` entry point calls this; importing this module does too.
    """
    ARCH_REGISTRY.register(GenzIQAArch, override=True)
    DEFAULT_CONFIGS.setdefault(
        METRIC_NAME, _entry(None, "~, ~ (the MOS scale of the model's training data)")
    )
    DEFAULT_CONFIGS.setdefault(
        ZERO_SHOT_METRIC_NAME, _entry("zero-shot", "~, ~ (around 0: a denoising-error contrast)")
    )


register()

__all__ = [
    "METRIC_NAME",
    "ZERO_SHOT_METRIC_NAME",
    "GenzIQAArch",
    "GenzIQAMetricError",
    "register",
]
