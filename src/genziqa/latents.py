"""Images -> Stable Diffusion latents with the frozen VAE encoder (once per image).

The reference draws a sample from the VAE posterior, so its scores change from run to run; we
use the posterior mean (deterministic) by default, or a sample drawn with a fixed noise tensor
(``ScoringConfig.latent="sample"``) that every image shares.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL


def encode_latents(
    vae: AutoencoderKL,
    pixels: torch.Tensor,
    mode: str = "mean",
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Normalised pixels (B, 3, H, W) -> scaled latents (B, C, H/f, W/f) in float32.

    ``mode="sample"`` needs ``noise`` shaped like one latent (C, H/f, W/f), shared by all images.
    """
    posterior = vae.encode(pixels.to(vae.dtype)).latent_dist
    latents = posterior.mean.float()
    if mode == "sample":
        if noise is None:
            raise ValueError("latent mode 'sample' needs a fixed noise tensor")
        latents = latents + posterior.std.float() * noise.to(latents.device, torch.float32)
    elif mode != "mean":
        raise ValueError(f"unknown latent mode {mode!r}; expected 'mean' or 'sample'")
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return (latents - shift) * vae.config.scaling_factor
