"""The GenzIQA math, as plain functions: logit pooling, token averaging, denoising contrast.

Shapes: B rows of a U-Net batch, H heads, N = h*w spatial positions, T = 77 tokens.
"""

from __future__ import annotations

import torch


def spatial_logsumexp(logits: torch.Tensor, lse_lambda: float) -> torch.Tensor:
    """Smooth maximum over the spatial axis: logits (B, H, N, T) -> (B, H, T).

    p = logsumexp(lambda * S, over N) / lambda, computed in float32.
    """
    return torch.logsumexp(logits.float() * lse_lambda, dim=-2) / lse_lambda


def token_mean(pooled: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over heads and tokens: pooled (B, H, T) -> (B,).

    ``token_mask`` (B, T) of 0/1 restricts the token average (non-padding tokens only); None
    averages all T tokens, as the reference does.
    """
    per_token = pooled.mean(dim=1)
    if token_mask is None:
        return per_token.mean(dim=-1)
    weights = token_mask.to(per_token.dtype)
    return (per_token * weights).sum(dim=-1) / weights.sum(dim=-1)


def denoising_contrast(
    target: torch.Tensor, pred_good: torch.Tensor, pred_bad: torch.Tensor
) -> torch.Tensor:
    """b = ||target - pred_good||_2 - ||target - pred_bad||_2 per row: (B, ...) -> (B,).

    Negative when the good prompt denoises better. Norms over the flattened prediction, in
    float32.
    """
    good = (target.float() - pred_good.float()).flatten(1).norm(dim=1)
    bad = (target.float() - pred_bad.float()).flatten(1).norm(dim=1)
    return good - bad
