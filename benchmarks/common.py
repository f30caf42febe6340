"""Shared pieces of the benchmarks: a real-size SD 2.1-base model with random weights, test
photos, peak-memory sampling, the matmul peak and FLOP counts.

Weights do not change speed, so a randomly initialised SD 2.1-base (865.9 M-parameter U-Net,
84 M VAE, 23-layer OpenCLIP-H-sized text encoder) stands in for the real checkpoint.
"""

from __future__ import annotations

import io
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from genziqa import GenzIQA, GenzIQAConfig
from genziqa.backbone import Backbone
from genziqa.testing import (
    SD21_BASE_UNET_CONFIG,
    SD_SCHEDULER_CONFIG,
    SD_VAE_CONFIG,
    tiny_tokenizer,
)


def _quiet() -> None:
    import diffusers
    import transformers

    for library in (diffusers, transformers):
        library.utils.logging.disable_progress_bar()
        library.utils.logging.set_verbosity_error()


_quiet()

# OpenCLIP ViT-H/14 text tower as SD 2.x ships it (penultimate layer: 23 layers).
OPENCLIP_H_TEXT = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "max_position_embeddings": 77,
    "vocab_size": 49408,
    "hidden_act": "gelu",
    "projection_dim": 1024,
}


def sd21_base_backbone(device: str | torch.device = "cpu", seed: int = 0) -> Backbone:
    """SD 2.1-base components at real size with seeded random weights."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel(**SD21_BASE_UNET_CONFIG)
        vae = AutoencoderKL(**SD_VAE_CONFIG)
        text_encoder = CLIPTextModel(CLIPTextConfig(**OPENCLIP_H_TEXT))
    scheduler = EulerDiscreteScheduler.from_config(SD_SCHEDULER_CONFIG)
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False).eval()
    return Backbone(vae, tiny_tokenizer(), text_encoder, unet, scheduler, "random SD 2.1-base")


def sd21_base_model(config: GenzIQAConfig | None = None, device: str = "cpu") -> GenzIQA:
    """A GenzIQA model on the random SD 2.1-base, with non-trivial context and LoRA weights."""
    model = GenzIQA(config or GenzIQAConfig(), sd21_base_backbone(device))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.trainable_parameters():
            noise = torch.randn(parameter.shape, generator=generator) * 0.02
            parameter.add_(noise.to(parameter.device, parameter.dtype))
    return model


def write_photos(folder: Path, count: int, size: tuple[int, int] = (640, 480)) -> list[Path]:
    """JPEG photos to decode: scikit-image's bundled photos when installed, else textures."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    try:
        from genziqa.datasets.synthetic import load_photos

        sources = list(load_photos(256).values())
    except Exception:  # scikit-image missing: synthetic textures decode the same way
        rng = np.random.default_rng(0)
        sources = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(4)]
    paths = []
    for index in range(count):
        image = Image.fromarray(sources[index % len(sources)]).resize(
            size, Image.Resampling.BICUBIC
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        path = folder / f"photo{index:03d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(device: torch.device):
    """Peak resident memory (bytes) while the block runs, sampled every 20 ms; CUDA peak too."""
    result = {"rss": rss_bytes(), "cuda": None}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["rss"] = max(result["rss"], rss_bytes())
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["rss"] = max(result["rss"], rss_bytes())
        if device.type == "cuda":
            result["cuda"] = torch.cuda.max_memory_allocated(device)


def matmul_peak(
    device: torch.device, dtype: torch.dtype = torch.float32, size: int = 4096
) -> float:
    """Measured FLOP/s of a size x size matmul (best of several runs)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    reps = 3 if device.type == "cpu" else 50
    for _ in range(4):
        _sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * size**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def useful_flops_per_image(
    config: GenzIQAConfig | None = None, model: GenzIQA | None = None
) -> dict[str, float]:
    """FLOPs of one image's real work (VAE once, K x P U-Net rows, prompts once), counted by
    torch.utils.flop_counter on ``model`` or, by default, on a meta-device copy of SD 2.1-base
    (shapes only, instant)."""
    if model is None:
        model = GenzIQA(config or GenzIQAConfig(), sd21_base_backbone("meta")).to("meta")
    prefix_sharing = model.shared_prefix.enabled
    model.shared_prefix.enabled = False
    try:
        return _count_flops(model)
    finally:
        model.shared_prefix.enabled = prefix_sharing


def _count_flops(model: GenzIQA) -> dict[str, float]:
    counts = {}
    resolution = model.resolution
    device = model.device
    with torch.no_grad():
        images = torch.zeros(1, 3, resolution, resolution, device=device)
        with FlopCounterMode(display=False) as counter:
            latents = model.vae.encode(images).latent_dist.mean
        counts["vae"] = counter.get_total_flops()
        from genziqa.prompts import encode_token_embeddings

        with FlopCounterMode(display=False) as counter:
            # No padding mask on the meta device (it is inspected by value); same FLOPs.
            tokens = model.prompts.token_embeddings(model.text_encoder)
            embeds = encode_token_embeddings(model.text_encoder, tokens, None)
        counts["text_encoder"] = counter.get_total_flops()
        rows = model.prompts.num_prompts
        with FlopCounterMode(display=False) as counter:
            model.unet(
                latents.repeat(rows, 1, 1, 1),
                torch.full((rows,), 50, device=device),
                embeds,
            )
        counts["unet_row"] = counter.get_total_flops() / rows
    steps = len(model.config.scoring.timesteps)
    counts["unet_rows_per_image"] = steps * rows
    counts["per_image"] = counts["vae"] + counts["unet_row"] * steps * rows
    return counts
