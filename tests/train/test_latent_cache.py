"""The on-disk latent cache: keys and atomic round trip."""

from __future__ import annotations

import torch
from PIL import Image

from genziqa.io.durable import file_digest
from genziqa.train.latent_cache import LatentCache, latent_key, settings_key


def test_latent_cache_keys_and_round_trip(tmp_path) -> None:
    image = tmp_path / "a.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(image)
    settings = settings_key(resolution=64, normalization="clip")
    key = latent_key(file_digest(image), settings, "none")
    assert key != latent_key(file_digest(image), settings, "h")
    assert key != latent_key(file_digest(image), settings_key(resolution=32), "none")
    Image.new("RGB", (16, 16), (10, 20, 31)).save(image)
    assert key != latent_key(file_digest(image), settings, "none")
    cache = LatentCache(tmp_path / "cache")
    assert cache.get(key) is None
    latent = torch.randn(4, 8, 8)
    cache.put(key, latent)
    assert torch.equal(cache.get(key), latent) and len(cache) == 1
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no temp file left
