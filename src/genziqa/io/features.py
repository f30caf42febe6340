"""Motion features on disk: our cache (safetensors) and the reference's ``.npy`` folders.

:class:`MotionFeatureCache` stores each video's SlowFast features under a key made of the
video file's content (sha256 of its bytes), the weights' fingerprint and the recipe settings,
so a renamed or copied file hits, and a changed file, model or setting never returns stale
features. Entries are ``<root>/<key[:2]>/<key>.safetensors`` with tensors ``slow`` (N, 2048)
and ``fast`` (N, 256), written atomically (temp file, fsync, rename, fsync of the folder), so
a killed run leaves no half entry and parallel workers can share one cache.

:class:`NpyFeatureFolders` reads features precomputed in the GenzVQA reference's layout
(VIDEO.md 1.5, 1.10): ``<slow_dir>/<name>.npy`` (N, 2048) and ``<fast_dir>/<name>.npy``
(N, 256), where ``name`` is the video's name without its video extension (sub-folders and
other dots kept: ``yfcc-batch1/725.mp4`` -> ``yfcc-batch1/725.npy``, ``..._t_20.0.mp4`` ->
``..._t_20.0.npy``). Files are read with ``numpy.load(allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .durable import atomic_write, file_digest

__all__ = [
    "CACHE_VERSION",
    "FeatureFileError",
    "MotionFeatureCache",
    "NpyFeatureFolders",
    "feature_name",
    "write_safetensors_atomic",
]

CACHE_VERSION = 1
"""Part of every cache key; bumped when the feature computation itself changes."""

_DIMS = {"slow": 2048, "fast": 256}


class FeatureFileError(Exception):
    """A feature file that cannot be used; ``reason`` says why in one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def write_safetensors_atomic(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a safetensors file atomically (``io.durable.atomic_write``): a reader sees the
    old file or the complete new one, never half."""
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = save(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        metadata=dict(metadata or {}),
    )
    atomic_write(path, data)
    return path


class MotionFeatureCache:
    """SlowFast features by (file content, weights, settings) in a folder (module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def key(self, video: str | os.PathLike[str], weights: str, settings: Mapping[str, Any]) -> str:
        """The entry key: sha256 over the video's sha256, the weights fingerprint, the
        settings (as sorted JSON) and ``CACHE_VERSION``."""
        payload = {
            "video_sha256": file_digest(video),
            "weights": weights,
            "settings": dict(settings),
            "version": CACHE_VERSION,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(slow, fast) stored under ``key``, or None on a miss; an unreadable or malformed
        entry counts as a miss (it is rewritten by the next ``put``)."""
        from safetensors.torch import load_file

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            tensors = load_file(str(path))
            slow, fast = tensors["slow"], tensors["fast"]
        except Exception:  # a damaged entry is a miss, never an error
            return None
        if not _valid_pair(slow, fast):
            return None
        return slow, fast

    def put(self, key: str, slow: torch.Tensor, fast: torch.Tensor, *, source: str = "") -> Path:
        """Store (slow, fast) under ``key`` atomically; ``source`` is kept as metadata."""
        slow, fast = slow.float(), fast.float()
        if not _valid_pair(slow, fast):
            raise ValueError(
                f"expected slow (N, 2048) and fast (N, 256) with the same N, got "
                f"{tuple(slow.shape)} and {tuple(fast.shape)}"
            )
        metadata = {"source": source, "version": str(CACHE_VERSION)}
        return write_safetensors_atomic(self.path(key), {"slow": slow, "fast": fast}, metadata)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.safetensors"))


def _valid_pair(slow: torch.Tensor, fast: torch.Tensor) -> bool:
    return (
        slow.ndim == 2
        and fast.ndim == 2
        and slow.shape[1] == _DIMS["slow"]
        and fast.shape[1] == _DIMS["fast"]
        and slow.shape[0] == fast.shape[0] >= 1
    )


def feature_name(video_name: str | os.PathLike[str]) -> str:
    """A video's feature-file stem: its name without a trailing video extension.

    Only the last suffix goes, and only if it is a video extension (case-insensitive), as
    the reference strips ``.mp4``: ``yfcc-batch1/725.mp4`` -> ``yfcc-batch1/725``,
    ``A_t_20.0.mp4`` -> ``A_t_20.0``, ``12345`` -> ``12345``.
    """
    from .video import VIDEO_EXTENSIONS

    name = Path(video_name).as_posix()
    suffix = Path(name).suffix
    if suffix.lower() in VIDEO_EXTENSIONS:
        name = name[: -len(suffix)]
    return name


class NpyFeatureFolders:
    """Precomputed features in the reference's two folders of ``<name>.npy`` 2-D arrays."""

    def __init__(self, slow_dir: str | os.PathLike[str], fast_dir: str | os.PathLike[str]):
        self.slow_dir = Path(slow_dir)
        self.fast_dir = Path(fast_dir)
        for label, folder in (("slow", self.slow_dir), ("fast", self.fast_dir)):
            if not folder.is_dir():
                raise FeatureFileError(folder, f"the {label} feature folder does not exist")

    def paths(self, video_name: str | os.PathLike[str]) -> tuple[Path, Path]:
        stem = feature_name(video_name)
        return self.slow_dir / f"{stem}.npy", self.fast_dir / f"{stem}.npy"

    def load(self, video_name: str | os.PathLike[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(slow (N, 2048), fast (N, 256)) float32 tensors for a video name.

        Raises :class:`FeatureFileError` for a missing or unreadable file, a pickled object
        array, a shape other than (N, D) with N >= 1 and the expected D, non-finite values,
        or slow and fast files with different N.
        """
        slow_path, fast_path = self.paths(video_name)
        slow = _load_npy(slow_path, "slow")
        fast = _load_npy(fast_path, "fast")
        if slow.shape[0] != fast.shape[0]:
            raise FeatureFileError(
                fast_path,
                f"has {fast.shape[0]} rows but the slow features ({slow_path}) have "
                f"{slow.shape[0]}; the two must come from the same clips",
            )
        return torch.from_numpy(slow), torch.from_numpy(fast)


def _load_npy(path: Path, kind: str) -> np.ndarray:
    width = _DIMS[kind]
    if not path.is_file():
        raise FeatureFileError(path, f"{kind} feature file not found")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as error:
        raise FeatureFileError(path, f"could not read the file ({error})") from None
    if magic != b"\x93NUMPY":
        raise FeatureFileError(path, "not a readable .npy file (no NumPy header)")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise FeatureFileError(
                path, "holds pickled Python objects, which are not loaded (expected a number array)"
            ) from None
        raise FeatureFileError(path, f"not a readable .npy file ({error})") from None
    except OSError as error:
        raise FeatureFileError(path, f"could not read the file ({error})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise FeatureFileError(path, f"expected a number array, got dtype {array.dtype}")
    if array.ndim != 2:
        hint = " (one clip's vector; stack clips into (N, D))" if array.ndim == 1 else ""
        raise FeatureFileError(
            path, f"expected a 2-D (N, {width}) array, got shape {array.shape}{hint}"
        )
    if array.shape[1] != width or array.shape[0] < 1:
        raise FeatureFileError(
            path, f"expected {kind} features shaped (N, {width}) with N >= 1, got {array.shape}"
        )
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise FeatureFileError(path, "holds NaN or infinite values")
    return array
