"""Shared fixtures: everything runs offline on the tiny Stable-Diffusion-shaped backbone."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

# Before huggingface_hub is imported anywhere: tests never touch the network, and see an empty
# hub cache, so they behave the same on a machine that has Stable Diffusion cached.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="genziqa-tests-hub-")
atexit.register(shutil.rmtree, os.environ["HF_HUB_CACHE"], ignore_errors=True)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _genziqa_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private genziqa cache so the registered tiny backbone is built fresh for the run."""
    cache = tmp_path_factory.mktemp("genziqa-cache")
    previous = os.environ.get("GENZIQA_CACHE")
    os.environ["GENZIQA_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("GENZIQA_CACHE", None)
    else:
        os.environ["GENZIQA_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny backbone written in the diffusers folder layout."""
    from genziqa.testing import save_tiny_backbone

    return save_tiny_backbone(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def tiny_vpred_backbone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny backbone as a v-prediction checkpoint (like SD 2.1 768-v)."""
    from genziqa.testing import save_tiny_backbone

    return save_tiny_backbone(tmp_path_factory.mktemp("tiny-sd-v"), "v_prediction")


@pytest.fixture()
def tiny_config(tiny_backbone_dir: Path):
    from genziqa import BackboneConfig, GenzIQAConfig, PreprocessConfig

    return GenzIQAConfig(
        backbone=BackboneConfig(source=str(tiny_backbone_dir)),
        preprocess=PreprocessConfig(resolution=64),
    )


@pytest.fixture()
def tiny_model(tiny_config):
    """A fresh, untrained GenzIQA on the tiny backbone, loaded through the real loader."""
    from genziqa import GenzIQA

    return GenzIQA.from_config(tiny_config, local_files_only=True)


@pytest.fixture()
def images() -> torch.Tensor:
    """Five random 64 px images in [0, 1] with some structure (smooth + noise)."""
    generator = torch.Generator().manual_seed(0)
    base = torch.rand(5, 3, 8, 8, generator=generator)
    smooth = torch.nn.functional.interpolate(base, size=64, mode="bilinear", align_corners=False)
    noise = torch.rand(5, 3, 64, 64, generator=generator) * 0.2
    return (smooth * 0.8 + noise).clamp(0, 1)


def randomize_trained_tensors(model, seed: int = 1, scale: float = 0.05) -> None:
    """Give context, LoRA and head non-trivial values (a fresh LoRA is an identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.trainable_parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)


def trained_gradients(config, images, *, checkpointing: bool = False, sharing: bool = True):
    """Gradients of the trained tensors for one fixed training step of a fresh tiny model."""
    from genziqa import GenzIQA

    model = GenzIQA.from_config(config, local_files_only=True)
    randomize_trained_tensors(model)
    model.shared_prefix.enabled = sharing
    if checkpointing:
        model.unet.enable_gradient_checkpointing()
    model.train()
    timesteps = torch.tensor([[9], [50]])
    noise = torch.randn((2, 1, 4, 32, 32), generator=torch.Generator().manual_seed(0))
    model(images[:2], timesteps=timesteps, noise=noise).score.sum().backward()
    return {name: p.grad.clone() for name, p in model.trained_state_dict().items()}


def assert_same_gradients(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-6)


@contextmanager
def installed(unet, processors: Mapping[str, object]) -> Iterator[None]:
    """Processors (name -> processor) on a bare U-Net for the block; the previous ones after."""
    previous = unet.attn_processors
    unknown = sorted(set(processors) - set(previous))
    if unknown:
        raise KeyError(f"no attention layers named {unknown[:3]} in this U-Net")
    unet.set_attn_processor({**previous, **processors})
    try:
        yield
    finally:
        unet.set_attn_processor(previous)
