"""Forward diffusion at chosen timesteps: x_t, the U-Net input and the denoising target.

GenzIQA does no iterative denoising: for each timestep t it noises the clean latent once and
runs one U-Net pass. With the Euler (sigma) parametrisation of the checkpoint's schedule,
sigma_t = sqrt((1 - alphabar_t) / alphabar_t), x_t = x_0 + sigma_t * eps and the U-Net sees
x_t / sqrt(sigma_t^2 + 1); this equals ``EulerDiscreteScheduler.add_noise`` followed by
``scale_model_input`` for that t (tested). We compute sigma per timestep ourselves because
``scale_model_input`` caches its step index on the first call (diffusers 0.42) and would reuse
the first timestep's sigma for every later one; doing it per row also lets several timesteps
share one U-Net batch.

Scoring uses K fixed timesteps with fixed noise drawn once from a seeded generator, so every
image sees the same noise; training draws one timestep per image uniformly from [0, 100) and
fresh noise.
"""

from __future__ import annotations

import torch


def sigmas(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """Euler sigmas sqrt((1 - alphabar_t) / alphabar_t) for integer timesteps, float32."""
    alphabar = alphas_cumprod.to(torch.float64)[timesteps.long().cpu()]
    return ((1 - alphabar) / alphabar).sqrt().float().to(timesteps.device)


def noisy_model_input(
    latents: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """The U-Net input for clean ``latents`` (N, C, h, w) noised with ``noise`` at ``timesteps``."""
    sigma = sigmas(alphas_cumprod, timesteps).to(latents.device).view(-1, 1, 1, 1)
    noisy = latents + sigma * noise
    return noisy / (sigma**2 + 1).sqrt()


def denoising_target(
    latents: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    prediction_type: str,
) -> torch.Tensor:
    """What the U-Net predicts: eps, or v = sqrt(alphabar) eps - sqrt(1 - alphabar) x_0."""
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        alphabar = alphas_cumprod.to(torch.float64)[timesteps.long().cpu()].float()
        alphabar = alphabar.to(latents.device).view(-1, 1, 1, 1)
        return alphabar.sqrt() * noise - (1 - alphabar).sqrt() * latents
    raise ValueError(f"unsupported prediction type {prediction_type!r}")


def fixed_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Noise drawn on the CPU from ``torch.Generator().manual_seed(seed)``: same on every device."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32)


def sample_train_timesteps(
    count: int, low: int, high: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One integer timestep per image, uniform in [low, high)."""
    return torch.randint(low, high, (count,), generator=generator)


def scoring_noise(
    timesteps: tuple[int, ...], latent_shape: tuple[int, ...], seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed scoring timesteps (K,) and their noise (K, C, h, w), the same for every image."""
    steps = torch.tensor(timesteps, dtype=torch.long)
    return steps, fixed_noise((len(steps), *latent_shape), seed)


def timesteps_and_noise(
    latents: torch.Tensor,
    timesteps: torch.Tensor | None,
    noise: torch.Tensor | None,
    *,
    training: bool,
    scoring_timesteps: tuple[int, ...],
    train_range: tuple[int, int],
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Timesteps (B, K) and noise (B, K, C, h, w) for clean latents (B, C, h, w).

    Given ones are checked and kept. Otherwise: when scoring, the fixed timesteps and their
    seeded noise for every image; when training, one timestep per image drawn uniformly from
    ``train_range`` with fresh noise (global RNG).
    """
    batch, latent_shape = latents.shape[0], tuple(latents.shape[1:])
    if timesteps is None:
        if training:
            low, high = train_range
            timesteps = sample_train_timesteps(batch, low, high).view(batch, 1)
        else:
            fixed_t, fixed_eps = scoring_noise(scoring_timesteps, latent_shape, seed)
            timesteps = fixed_t.expand(batch, -1)
            noise = fixed_eps.expand(batch, *fixed_eps.shape) if noise is None else noise
    if noise is None:
        noise = torch.randn((*timesteps.shape, *latent_shape), device=latents.device)
    if timesteps.shape[0] != batch or noise.shape[:2] != timesteps.shape:
        raise ValueError(
            f"timesteps {tuple(timesteps.shape)} and noise {tuple(noise.shape)} must be "
            f"(B, T) and (B, T, C, h, w) for B = {batch}"
        )
    return timesteps.to(latents.device), noise.to(latents.device, torch.float32)
