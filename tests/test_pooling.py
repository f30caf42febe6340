from __future__ import annotations

import pytest
import torch

from genziqa.pooling import aggregate_score, attention_scores, denoising_contrast, token_mean


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


def test_attention_scores_average_prompts_heads_and_tokens() -> None:
    generator = torch.Generator().manual_seed(0)
    pooled = [torch.randn(2, 3, 4, 5, generator=generator) for _ in range(2)]  # (P, R, H, T)
    scores = attention_scores(pooled)
    assert scores.shape == (3, 2)
    torch.testing.assert_close(scores[:, 1], pooled[1].mean(dim=(0, 2, 3)))
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])
    masked = attention_scores(pooled, mask)
    per_prompt = [pooled[0][p, :, :, : int(mask[p].sum())].mean(dim=(1, 2)) for p in range(2)]
    torch.testing.assert_close(masked[:, 0], (per_prompt[0] + per_prompt[1]) / 2)


def test_aggregate_score_is_the_mean_of_attention_plus_contrast() -> None:
    attention = torch.arange(12, dtype=torch.float32).view(1, 3, 4)
    contrast = torch.tensor([[0.5, -1.0, 2.0]])
    layer_scores, score = aggregate_score(attention, contrast)
    torch.testing.assert_close(layer_scores, attention + contrast[..., None])
    torch.testing.assert_close(score, (attention + contrast[..., None]).mean(dim=(1, 2)))
    _, zero_shot = aggregate_score(attention, contrast, "contrast")
    torch.testing.assert_close(zero_shot, -contrast.mean(dim=1))
    with pytest.raises(ValueError, match="unknown score mode"):
        aggregate_score(attention, contrast, "mean")
