"""Stage 6: from pooled logits and noise predictions to the score, as plain functions.

Per U-Net row (one latent at one timestep) and cross-attention layer l:
    A_l = mean over prompts, heads and tokens of the spatially pooled logits (attention.py)
    b   = ||target - pred_good||_2 - ||target - pred_bad||_2          (denoising contrast)
    layer score = A_l + b;   score = mean over layers and timesteps     (``aggregate_score``)

Shapes: R rows, P prompts, H heads, T = 77 tokens, L layers, B images, K timesteps.
"""

from __future__ import annotations

import torch


def token_mean(pooled: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over heads and tokens: pooled (..., H, T) -> (...).

    ``token_mask`` (..., T) of 0/1 restricts the token average (non-padding tokens only); None
    averages all T tokens, as the reference does.
    """
    per_token = pooled.mean(dim=-2)
    if token_mask is None:
        return per_token.mean(dim=-1)
    weights = token_mask.to(per_token.dtype)
    return (per_token * weights).sum(dim=-1) / weights.sum(dim=-1)


def attention_scores(
    pooled: list[torch.Tensor], token_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """A_l per row and layer: L tensors (P, R, H, T) -> (R, L), the mean over P, H and T.

    ``token_mask`` (P, T) selects tokens per prompt (see ``token_mean``).
    """
    mask = None if token_mask is None else token_mask.unsqueeze(1)
    return torch.stack([token_mean(layer, mask).mean(dim=0) for layer in pooled], dim=1)


def denoising_contrast(
    target: torch.Tensor, pred_good: torch.Tensor, pred_bad: torch.Tensor
) -> torch.Tensor:
    """b = ||target - pred_good||_2 - ||target - pred_bad||_2 per row: (R, ...) -> (R,).

    Negative when the good prompt denoises better. Norms over the flattened prediction, in
    float32.
    """
    good = (target.float() - pred_good.float()).flatten(1).norm(dim=1)
    bad = (target.float() - pred_bad.float()).flatten(1).norm(dim=1)
    return good - bad


def aggregate_score(
    attention: torch.Tensor, contrast: torch.Tensor, mode: str = "attention+contrast"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The score equation: A (B, K, L) and b (B, K) -> (layer_scores (B, K, L), raw score (B,)).

    ``"attention+contrast"`` (GenzIQA): mean over layers and timesteps of A_l + b.
    ``"contrast"`` (the zero-shot baseline): -mean over timesteps of b, higher is better.
    """
    layer_scores = attention + contrast.unsqueeze(-1)
    if mode == "attention+contrast":
        return layer_scores, layer_scores.mean(dim=(1, 2))
    if mode == "contrast":
        return layer_scores, -contrast.mean(dim=1)
    raise ValueError(f"unknown score mode {mode!r}; expected 'attention+contrast' or 'contrast'")
