"""An on-disk cache of VAE latents, so later epochs and later runs skip the VAE.

Key = sha256 of (the image file's bytes, the preprocessing settings, the VAE's weights, the
flip). Any change to the file, the resolution, the normalisation, the latent mode or seed, or
the VAE gives a new key, so a stale latent is never reused. Latents are stored in float32 as
small safetensors files, ``<root>/<key[:2]>/<key>.safetensors``, written atomically (temp
file + rename) so that a run killed mid-write leaves no half file and parallel workers or
runs can share one cache.

Flips: random horizontal and vertical flips are applied to the IMAGE before the VAE, as the
reference does (a flipped latent is not exactly the latent of the flipped image). Each of the
four variants (none, h, v, hv) is cached under its own key the first time it is drawn, so the
VAE runs at most four times per training image over any number of epochs and runs, and
training sees exactly what the reference computes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from ..io.durable import atomic_write
from ..preprocess import FLIPS


def vae_fingerprint(vae: torch.nn.Module) -> str:
    """sha256 of the VAE's weights (names, shapes, dtypes, bytes): identifies the encoder."""
    digest = hashlib.sha256()
    for name, tensor in sorted(vae.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def settings_key(**settings: object) -> str:
    """A stable string of the preprocessing settings that change a latent."""
    return json.dumps(settings, sort_keys=True, default=str)


def latent_key(file_digest: str, settings: str, flip: str) -> str:
    if flip not in FLIPS:
        raise ValueError(f"unknown flip {flip!r}; expected one of {FLIPS}")
    return hashlib.sha256(f"{file_digest}|{settings}|{flip}".encode()).hexdigest()


class LatentCache:
    """Latents by key in a folder; ``get`` returns None on a miss."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> torch.Tensor | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return load_file(str(path))["latent"]
        except Exception:  # an unreadable entry is a miss; it will be rewritten
            return None

    def put(self, key: str, latent: torch.Tensor) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, save({"latent": latent.detach().to("cpu", torch.float32).contiguous()}))

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.safetensors"))
