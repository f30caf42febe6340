"""SlowFast R50 motion features for GenzVQA, in plain torch (no torchvision, no pytorchvideo).

The model is SlowFast R50 8x8 trained on Kinetics-400 (pytorchvideo's ``slowfast_r50``), with
module names chosen so that its ``state_dict`` names and shapes EQUAL pytorchvideo's: the
published ``SLOWFAST_8x8_R50.pyth`` loads with ``strict=True`` once converted to safetensors
by :func:`convert_slowfast`. Architecture facts are in VIDEO.md 2.4; in short, per pathway a
stem, four bottleneck stages (3, 4, 6, 3 blocks) and a fast-to-slow lateral fusion after the
stem and after each of the first three stages (a temporal conv of stride 4 whose output is
concatenated to the slow features).

The features follow SimpleVQA's recipe (VIDEO.md 2.2), the one GenzVQA's ``.npy`` files most
likely come from (2.3), exactly:

1. The video is decoded once (:mod:`genziqa.io.video`); every frame a clip needs is resized
   to 224 x 224 with Pillow bilinear (torchvision's ``Resize`` on PIL frames), turned into
   [0, 1] floats (``ToTensor``) and normalised with mean 0.45 and std 0.225.
2. Clips are cut by :func:`genziqa.video.frames.motion_clips`: one clip of 32 consecutive
   frames per second (``int(round(fps))`` frames), the last frame repeated past the end, and
   the clip list padded to 8 clips by repeating the last one.
3. The fast pathway sees the 32 frames, the slow pathway frames 0 4 8 13 17 22 26 31.
4. Each clip's features are the global averages (over time, height, width) of the res5
   outputs, taken with the same pooling ops as pytorchvideo's head: slow (2048,), fast (256,).

A video gives ``slow`` (clips, 2048) and ``fast`` (clips, 256), float32, the 2-D layout
GenzVQA reads. Decoding streams: frames are dropped as soon as the clips using them have run,
so memory is a few clips whatever the video length. Clips run in fixed-size batches (the last
one padded), so a clip's features do not depend on the video it sits in or on the batch.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import FAST_DIM, SLOW_DIM
from .frames import MotionRecipe, needed_indices, slow_pathway_indices

if TYPE_CHECKING:
    from ..io.features import MotionFeatureCache
    from ..io.video import VideoInfo

__all__ = [
    "FAST_DIM",
    "SLOWFAST_URL",
    "SLOW_DIM",
    "CheckpointError",
    "MotionFeatureSink",
    "MotionRecipe",
    "SlowFastR50",
    "convert_slowfast",
    "default_slowfast_path",
    "feature_cache_key",
    "find_slowfast",
    "load_slowfast",
    "motion_features",
]

_FORMAT = "genziqa-slowfast-r50"

# --------------------------------------------------------------------------------------------
# The network (pytorchvideo's module names; see VIDEO.md 2.4)
# --------------------------------------------------------------------------------------------


def _conv(c_in: int, c_out: int, kernel: tuple[int, int, int], stride=(1, 1, 1)) -> nn.Conv3d:
    padding = tuple(k // 2 for k in kernel)
    return nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)


class _Stem(nn.Module):
    """conv (1 or 5)x7x7 stride (1, 2, 2) -> BN -> ReLU -> max pool 1x3x3 stride (1, 2, 2)."""

    def __init__(self, c_out: int, temporal_kernel: int) -> None:
        super().__init__()
        self.conv = _conv(3, c_out, (temporal_kernel, 7, 7), stride=(1, 2, 2))
        self.norm = nn.BatchNorm3d(c_out)
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.activation(self.norm(self.conv(x))))


class _Bottleneck(nn.Module):
    """conv_a (t x 1 x 1) -> conv_b (1 x 3 x 3, spatial stride) -> conv_c (1 x 1 x 1), BN each."""

    def __init__(self, c_in: int, inner: int, c_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        self.conv_a = _conv(c_in, inner, (temporal_kernel, 1, 1))
        self.norm_a = nn.BatchNorm3d(inner)
        self.act_a = nn.ReLU()
        self.conv_b = _conv(inner, inner, (1, 3, 3), stride=(1, stride, stride))
        self.norm_b = nn.BatchNorm3d(inner)
        self.act_b = nn.ReLU()
        self.conv_c = _conv(inner, c_out, (1, 1, 1))
        self.norm_c = nn.BatchNorm3d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class _ResBlock(nn.Module):
    """ReLU(shortcut + bottleneck); the shortcut is a strided 1x1x1 conv + BN in a stage's
    first block (``branch1_*``), the identity otherwise."""

    def __init__(self, c_in: int, inner: int, c_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        if c_in != c_out or stride != 1:
            self.branch1_conv = nn.Conv3d(c_in, c_out, 1, stride=(1, stride, stride), bias=False)
            self.branch1_norm = nn.BatchNorm3d(c_out)
        else:
            self.branch1_conv = None
            self.branch1_norm = None
        self.branch2 = _Bottleneck(c_in, inner, c_out, temporal_kernel, stride)
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.branch1_conv is not None and self.branch1_norm is not None:
            shortcut = self.branch1_norm(self.branch1_conv(x))
        return self.activation(shortcut + self.branch2(x))


class _ResStage(nn.Module):
    def __init__(
        self, depth: int, c_in: int, inner: int, c_out: int, temporal_kernel: int, stride: int
    ) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(
            _ResBlock(
                c_in if j == 0 else c_out, inner, c_out, temporal_kernel, stride if j == 0 else 1
            )
            for j in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class _FuseFastToSlow(nn.Module):
    """Fast features -> temporal conv 7x1x1 stride 4 -> BN -> ReLU, concatenated to slow."""

    def __init__(self, c_fast: int) -> None:
        super().__init__()
        self.conv_fast_to_slow = nn.Conv3d(
            c_fast, 2 * c_fast, (7, 1, 1), stride=(4, 1, 1), padding=(3, 0, 0), bias=False
        )
        self.norm = nn.BatchNorm3d(2 * c_fast)
        self.activation = nn.ReLU()

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        fuse = self.activation(self.norm(self.conv_fast_to_slow(x[1])))
        return [torch.cat([x[0], fuse], 1), x[1]]


class _MultiPathway(nn.Module):
    """One block per pathway (slow, fast), then the lateral fusion (identity after res5)."""

    def __init__(self, slow: nn.Module, fast: nn.Module, fusion: nn.Module | None) -> None:
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion if fusion is not None else nn.Identity()

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        out = [block(t) for block, t in zip(self.multipathway_blocks, x, strict=True)]
        if isinstance(self.multipathway_fusion, nn.Identity):
            return out
        return self.multipathway_fusion(out)


class _PoolConcat(nn.Module):
    """Average each pathway over its whole (T, H, W) and concatenate: (B, 2304, 1, 1, 1).

    pytorchvideo uses fixed AvgPool3d kernels (8, 7, 7) and (32, 7, 7), which at 224 x 224
    are exactly the whole res5 maps; pooling with the map's own size is the same op there and
    also works for other input sizes.
    """

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([_global_average(t) for t in x], 1)


class _Head(nn.Module):
    """Dropout -> Linear(2304, 400) on channels-last -> global average: Kinetics logits."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.proj = nn.Linear(SLOW_DIM + FAST_DIM, 400)
        self.output_pool = nn.AdaptiveAvgPool3d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.dropout(x).permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return self.output_pool(x).flatten(1)


def _global_average(x: torch.Tensor) -> torch.Tensor:
    """SimpleVQA's ``AvgPool3d(map size)`` then ``AdaptiveAvgPool3d(1)``: (B, C, 1, 1, 1)."""
    return F.adaptive_avg_pool3d(F.avg_pool3d(x, kernel_size=tuple(x.shape[2:]), stride=1), 1)


class SlowFastR50(nn.Module):
    """SlowFast R50 8x8 (alpha 4, beta 1/8), state-dict names equal to pytorchvideo's.

    ``forward([slow, fast])`` -> Kinetics-400 logits (B, 400); :meth:`features` -> the res5
    global averages (B, 2048), (B, 256) that GenzVQA uses. Inputs are (B, 3, T, H, W) with
    T_fast = 4 * T_slow (8 and 32 in the recipe) and H, W a multiple of 32 (224 in the recipe).
    """

    def __init__(self) -> None:
        super().__init__()
        depths = (3, 4, 6, 3)
        slow_temporal = (1, 1, 3, 3)  # conv_a temporal kernel per stage (res2..res5)
        blocks: list[nn.Module] = [
            _MultiPathway(_Stem(64, 1), _Stem(8, 5), _FuseFastToSlow(8)),
        ]
        slow_in, fast_in = 64 + 16, 8
        for stage, depth in enumerate(depths):
            slow_inner, fast_inner = 64 * 2**stage, 8 * 2**stage
            slow_out, fast_out = 4 * slow_inner, 4 * fast_inner
            stride = 1 if stage == 0 else 2
            slow = _ResStage(depth, slow_in, slow_inner, slow_out, slow_temporal[stage], stride)
            fast = _ResStage(depth, fast_in, fast_inner, fast_out, 3, stride)
            last = stage == len(depths) - 1
            blocks.append(_MultiPathway(slow, fast, None if last else _FuseFastToSlow(fast_out)))
            slow_in, fast_in = slow_out + (0 if last else 2 * fast_out), fast_out
        blocks += [_PoolConcat(), _Head()]
        self.blocks = nn.ModuleList(blocks)
        self._fingerprint: tuple[tuple[int, ...], str] | None = None

    def res5(self, slow: torch.Tensor, fast: torch.Tensor) -> list[torch.Tensor]:
        """The res5 outputs: slow (B, 2048, T/4, H/32, W/32), fast (B, 256, T, H/32, W/32)."""
        _check_pathways(slow, fast)
        x = [slow, fast]
        for block in self.blocks[:5]:
            x = block(x)
        return x

    def features(self, slow: torch.Tensor, fast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Global averages of the res5 outputs: (B, 2048) and (B, 256)."""
        x = self.res5(slow, fast)
        return _global_average(x[0]).flatten(1), _global_average(x[1]).flatten(1)

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.blocks[6](self.blocks[5](self.res5(x[0], x[1])))

    def fingerprint(self) -> str:
        """sha256 of the weights (names, dtypes, shapes, bytes), recomputed only after they
        change (tracked through the tensors' version counters); keys feature caches."""
        tensors = self.state_dict(keep_vars=True)
        versions = tuple(t._version for t in tensors.values()) + tuple(
            t.data_ptr() for t in tensors.values()
        )
        if self._fingerprint is None or self._fingerprint[0] != versions:
            digest = hashlib.sha256()
            for name, tensor in tensors.items():
                value = tensor.detach().to("cpu").contiguous()
                digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
                digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
            self._fingerprint = (versions, digest.hexdigest())
        return self._fingerprint[1]


def _check_pathways(slow: torch.Tensor, fast: torch.Tensor) -> None:
    if slow.ndim != 5 or fast.ndim != 5 or slow.shape[1] != 3 or fast.shape[1] != 3:
        raise ValueError(
            f"expected slow and fast clips shaped (B, 3, T, H, W), got {tuple(slow.shape)} "
            f"and {tuple(fast.shape)}"
        )
    if fast.shape[2] != 4 * slow.shape[2] or slow.shape[0] != fast.shape[0]:
        raise ValueError(
            "the fast pathway needs 4 times the slow pathway's frames and the same batch, got "
            f"{tuple(slow.shape)} and {tuple(fast.shape)}"
        )


# --------------------------------------------------------------------------------------------
# The feature recipe
# --------------------------------------------------------------------------------------------


class MotionFeatureSink:
    """A :class:`genziqa.io.video.FrameSink` that computes clip features while decoding.

    Use it alone through :func:`motion_features`, or next to other sinks in one
    :func:`genziqa.io.video.decode_into` pass (e.g. with a ``FrameCollector`` for the K
    frames of the diffusion branch), then read :meth:`result`. ``fps`` overrides the file's.
    """

    def __init__(
        self,
        model: SlowFastR50,
        recipe: MotionRecipe | None = None,
        *,
        batch_size: int = 1,
        fps: float | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.model = model
        self.recipe = recipe or MotionRecipe()
        self.batch_size = batch_size
        self.fps = fps
        self._slow_positions = slow_pathway_indices(self.recipe.clip_frames)
        self._buffers: tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.start(1, 1.0)

    def plan(self, info: VideoInfo) -> list[int]:
        from ..io.video import VideoError

        assert info.num_frames is not None
        fps = self.fps or info.fps
        if not fps or fps < 0.5:
            raise VideoError(
                info.path, f"the frame rate is unknown ({fps!r}); give fps= to cut motion clips"
            )
        return self.start(info.num_frames, fps)

    def start(self, num_frames: int, fps: float | None) -> list[int]:
        """Reset for a video of ``num_frames`` at ``fps``; returns the frame indices needed."""
        self.clips = self.recipe.clips(num_frames, fps)
        self._unique = list(dict.fromkeys(self.clips))
        self._done = 0
        self._frames: dict[int, np.ndarray] = {}
        self._pending: list[tuple[int, ...]] = []
        self._features: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        return needed_indices(*self._unique)

    def add(self, index: int, frame: np.ndarray) -> None:
        from ..io.video import resize_frame

        self._frames[index] = resize_frame(frame, self.recipe.size, "bilinear")
        while self._done < len(self._unique) and max(self._unique[self._done]) <= index:
            self._pending.append(self._unique[self._done])
            self._done += 1
            if len(self._pending) == self.batch_size or self._done == len(self._unique):
                self._run()

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(slow (clips, 2048), fast (clips, 256)) float32 on the CPU, after the decode."""
        if len(self._features) != len(self._unique):
            raise RuntimeError("motion features are incomplete: not every clip's frames arrived")
        slow = torch.stack([self._features[c][0] for c in self.clips])
        fast = torch.stack([self._features[c][1] for c in self.clips])
        return slow, fast

    def _run(self) -> None:
        batch = self._pending + [self._pending[-1]] * (self.batch_size - len(self._pending))
        fast, slow = self._inputs(batch)
        with torch.no_grad():
            slow_features, fast_features = self.model.features(slow, fast)
        for k, clip in enumerate(self._pending):
            self._features[clip] = (slow_features[k].float().cpu(), fast_features[k].float().cpu())
        self._pending = []
        keep_from = min(self._unique[self._done]) if self._done < len(self._unique) else None
        for index in list(self._frames):
            if keep_from is None or index < keep_from:
                del self._frames[index]

    def _inputs(self, batch: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The model inputs of a batch of clips, laid out as SimpleVQA builds them.

        uint8 frames -> float (B, T, 3, S, S) as stacked ``ToTensor`` outputs, ``/255``, then
        ``(x - mean) / std`` in place; fast = its (B, 3, T, S, S) view, slow = the 8 frames
        picked with ``index_select``. The buffers are allocated once per sink and reused:
        fresh ~20 MB tensors per clip fragment glibc's heap (measured: peak RSS then grew by
        0.6 MB per 720p frame of video).
        """
        device = next(self.model.parameters()).device
        size, frames = self.recipe.size, self.recipe.clip_frames
        shape = (self.batch_size, frames, size, size, 3)
        if self._buffers is None or self._buffers[1].device != device:
            self._buffers = (
                np.empty(shape, np.uint8),
                torch.empty((self.batch_size, frames, 3, size, size), device=device),
                torch.empty(
                    (self.batch_size, 3, len(self._slow_positions), size, size), device=device
                ),
                torch.tensor(self._slow_positions, device=device),
            )
        pixels, floats, slow, positions = self._buffers
        for b, clip in enumerate(batch):
            for t, index in enumerate(clip):
                pixels[b, t] = self._frames[index]
        floats.copy_(torch.from_numpy(pixels).to(device).permute(0, 1, 4, 2, 3))
        floats.div_(255).sub_(self.recipe.mean).div_(self.recipe.std)
        fast = floats.permute(0, 2, 1, 3, 4)
        torch.index_select(fast, 2, positions, out=slow)
        return fast, slow


def motion_features(
    video: str | os.PathLike[str] | np.ndarray | Sequence[np.ndarray],
    model: SlowFastR50,
    *,
    recipe: MotionRecipe | None = None,
    fps: float | None = None,
    batch_size: int = 1,
    cache: MotionFeatureCache | None = None,
    **decode_options: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A video's SlowFast features: slow (clips, 2048) and fast (clips, 256), float32, CPU.

    ``video`` is a file (decoded by :func:`genziqa.io.video.decode_into` with
    ``decode_options``) or its decoded frames, uint8 RGB (N, H, W, 3) upright at any size,
    with ``fps`` given. ``cache`` (a :class:`genziqa.io.features.MotionFeatureCache`) returns
    stored features for the same file bytes, weights and recipe, and stores new ones.
    """
    recipe = recipe or MotionRecipe()
    sink = MotionFeatureSink(model, recipe, batch_size=batch_size, fps=fps)
    if isinstance(video, (str, os.PathLike)):
        from ..io.video import decode_into

        key = None
        if cache is not None:
            key = feature_cache_key(
                cache,
                video,
                model,
                recipe,
                fps=fps,
                autorotate=decode_options.get("autorotate", True),
                batch_size=batch_size,
            )
            stored = cache.get(key)
            if stored is not None:
                return stored
        decode_into(video, [sink], **decode_options)
        slow, fast = sink.result()
        if cache is not None and key is not None:
            cache.put(key, slow, fast, source=str(video))
        return slow, fast
    if cache is not None or decode_options:
        raise ValueError("cache and decoding options apply to video files, not to frame arrays")
    frames = np.stack(list(video)) if not isinstance(video, np.ndarray) else video
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(
            f"expected uint8 RGB frames shaped (N, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    if fps is None:
        raise ValueError("fps is needed to cut motion clips from a frame array")
    for index in sink.start(len(frames), fps):
        sink.add(index, np.ascontiguousarray(frames[index]))
    return sink.result()


def feature_cache_key(
    cache: MotionFeatureCache,
    video: str | os.PathLike[str],
    model: SlowFastR50,
    recipe: MotionRecipe,
    *,
    fps: float | None = None,
    autorotate: bool = True,
    batch_size: int = 1,
) -> str:
    """The cache key of a video file's features: its content, the weights, the recipe and
    the settings that change the numbers (every path that computes features uses this)."""
    settings = {
        **asdict(recipe),
        "fps": fps,
        "autorotate": autorotate,
        # Features agree across batch sizes only to ~1e-7 relative, so a batch size is a
        # setting: same settings, bit-identical features, cached or not.
        "batch_size": batch_size,
    }
    return cache.key(video, model.fingerprint(), settings)


# --------------------------------------------------------------------------------------------
# Weights: convert the published checkpoint once, then load safetensors
# --------------------------------------------------------------------------------------------

SLOWFAST_URL = (
    "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/SLOWFAST_8x8_R50.pyth"
)
"""Where pytorchvideo publishes the SlowFast R50 8x8 Kinetics-400 weights (genziqa never
downloads them: a user fetches the file once and converts it)."""


def default_slowfast_path() -> Path:
    """Where genziqa looks for converted SlowFast weights when none are named:
    ``<genziqa cache>/slowfast_r50.safetensors`` (``$GENZIQA_CACHE`` or ``~/.cache/genziqa``)."""
    from ..pretrained import genziqa_cache_dir

    return genziqa_cache_dir() / "slowfast_r50.safetensors"


def slowfast_instructions() -> str:
    """One line saying how to get usable SlowFast weights."""
    return (
        f"download {SLOWFAST_URL} once and convert it with `genziqa convert-slowfast "
        f"SLOWFAST_8x8_R50.pyth -o {default_slowfast_path()}` (or pass --slowfast FILE, or "
        "--motion-features DIR with precomputed features)"
    )


def find_slowfast(path: str | os.PathLike[str] | None = None) -> Path:
    """The SlowFast weights file to use: ``path`` if given, else the default location;
    CheckpointError saying how to get the weights when there is none."""
    chosen = Path(path).expanduser() if path is not None else default_slowfast_path()
    if not chosen.is_file():
        where = "no such file" if path is not None else "no SlowFast weights at the default place"
        raise CheckpointError(
            chosen, f"{where}; motion features need SlowFast R50 weights: {slowfast_instructions()}"
        )
    return chosen


class CheckpointError(Exception):
    """A SlowFast weights file that cannot be used; ``reason`` says why in one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def expected_state_dict() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of every SlowFastR50 state-dict entry (built on the meta device)."""
    with torch.device("meta"):
        model = SlowFastR50()
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def convert_slowfast(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Convert pytorchvideo's ``SLOWFAST_8x8_R50.pyth`` to a safetensors file; returns ``dst``.

    The source is read ONCE with ``torch.load(weights_only=True)`` (no arbitrary code runs);
    it must be a torch zip archive holding ``{"model_state": state_dict, ...}`` (the model zoo
    layout; other entries such as the epoch are ignored) or the state dict itself, with
    exactly SlowFastR50's names and shapes (a DDP ``module.`` prefix is removed). Floating
    tensors are written as float32, with the source's sha256 in the metadata; the file is
    written atomically (temp file, fsync, rename). Raises :class:`CheckpointError`.
    """
    from ..io.durable import file_digest
    from ..io.features import write_safetensors_atomic

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise CheckpointError(src, "file not found" if not src.exists() else "not a file")
    if not zipfile.is_zipfile(src):
        raise CheckpointError(
            src,
            "not a PyTorch checkpoint: expected the zip archive torch.save writes (such as "
            "SLOWFAST_8x8_R50.pyth)",
        )
    try:
        loaded = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(
            src, f"cannot be read safely with torch.load(weights_only=True): {first}"
        ) from None
    state = _state_dict_of(src, loaded)
    _check_state_dict(src, state)
    tensors = {
        name: (t.float() if t.is_floating_point() else t).contiguous() for name, t in state.items()
    }
    metadata = {"format": _FORMAT, "source": src.name, "source_sha256": file_digest(src)}
    if dst.is_dir():
        raise CheckpointError(dst, "is a directory; give the output file path")
    return write_safetensors_atomic(dst, tensors, metadata)


def load_slowfast(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> SlowFastR50:
    """A :class:`SlowFastR50` in eval mode, no gradients, with weights from a safetensors file
    (as :func:`convert_slowfast` writes; names must match exactly). Raises CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found" if not path.exists() else "not a file")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(path, f"not a readable safetensors file ({error})") from None
    _check_state_dict(path, state)
    model = SlowFastR50()
    model.load_state_dict(state, strict=True)
    return model.to(device).eval().requires_grad_(False)


def _state_dict_of(src: Path, loaded: Any) -> dict[str, torch.Tensor]:
    if isinstance(loaded, dict) and "model_state" in loaded:
        loaded = loaded["model_state"]
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointError(
            src,
            "unexpected layout: expected {'model_state': state_dict} or a state dict, got "
            + (
                f"keys {sorted(map(str, loaded))[:5]}"
                if isinstance(loaded, dict)
                else type(loaded).__name__
            ),
        )
    not_tensors = [str(k) for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            src, f"unexpected layout: entries that are not tensors, e.g. {not_tensors[:3]}"
        )
    state = {str(k): v for k, v in loaded.items()}
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _check_state_dict(path: Path, state: dict[str, torch.Tensor]) -> None:
    expected = expected_state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        raise CheckpointError(
            path, f"not SlowFast R50 weights: {', '.join(parts)} state-dict entries"
        )
    wrong = [
        f"{k} {tuple(v.shape)} (expected {expected[k][0]})"
        for k, v in state.items()
        if tuple(v.shape) != expected[k][0]
    ]
    if wrong:
        raise CheckpointError(
            path, f"not SlowFast R50 weights: {len(wrong)} tensors have other shapes: {wrong[:2]}"
        )
