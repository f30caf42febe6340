from __future__ import annotations

import math

import torch

from genziqa.pooling import denoising_contrast, spatial_logsumexp, token_mean


def test_spatial_logsumexp_pools_the_spatial_axis() -> None:
    logits = torch.randn(2, 3, 50, 7)
    pooled = spatial_logsumexp(logits, 0.14)
    assert pooled.shape == (2, 3, 7)
    expected = torch.log(torch.exp(0.14 * logits).sum(dim=2)) / 0.14
    torch.testing.assert_close(pooled, expected)


def test_logsumexp_is_a_smooth_maximum() -> None:
    logits = torch.randn(1, 1, 64, 4)
    sharp = spatial_logsumexp(logits, 1000.0)
    torch.testing.assert_close(sharp, logits.amax(dim=2), atol=1e-2, rtol=0)
    # Constant logits: max + log(N) / lambda.
    flat = spatial_logsumexp(torch.full((1, 1, 64, 2), 3.0), 0.14)
    torch.testing.assert_close(flat, torch.full((1, 1, 2), 3.0 + math.log(64) / 0.14))


def test_token_mean_all_tokens_and_masked() -> None:
    pooled = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    torch.testing.assert_close(token_mean(pooled), pooled.mean(dim=(1, 2)))
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]])
    per_token = pooled.mean(dim=1)
    expected = torch.stack([per_token[0, :2].mean(), per_token[1, :1].mean()])
    torch.testing.assert_close(token_mean(pooled, mask), expected)


def test_contrast_sign_and_value() -> None:
    target = torch.zeros(2, 4, 2, 2)
    good = torch.full_like(target, 0.1)
    bad = torch.full_like(target, 0.5)
    contrast = denoising_contrast(target, good, bad)
    # ||0.1 * 1|| over 16 values = 0.4, ||0.5|| -> 2.0: the good prompt denoises better -> < 0.
    torch.testing.assert_close(contrast, torch.tensor([-1.6, -1.6]))
    torch.testing.assert_close(denoising_contrast(target, bad, good), torch.tensor([1.6, 1.6]))
